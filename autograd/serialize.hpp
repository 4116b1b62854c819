#pragma once
// Named arrays on disk as .npz (what numpy.load opens): a module's parameters and buffers,
// an optimizer's state. Writes are atomic: a temporary file renamed into place.
#include <map>
#include <string>

#include "variable.hpp"

namespace tg {

/// Arrays by name, in name order: "fc1.weight", "fc1.bias", "state.0.exp_avg", ...
template <class T>
using StateDict = std::map<std::string, xt::xarray<T>>;

/// Writes every array as <name>.npy inside a zip archive at path (written to a temporary
/// file beside it, then renamed, so a crash never leaves a half-written file behind).
template <class T>
void save_npz(const std::string& path, const StateDict<T>& arrays);

/// Reads an .npz written by save_npz or numpy.savez (float32/float64 arrays, C order).
template <class T>
StateDict<T> load_npz(const std::string& path);

}  // namespace tg
