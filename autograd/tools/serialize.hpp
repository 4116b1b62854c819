#pragma once
// Named arrays on disk as .npz (what numpy.load opens): a module's parameters and buffers,
// an optimizer's state. Writes are atomic: a temporary file renamed into place.
#include <map>
#include <string>

#include "../core/variable.hpp"

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

// ---- the level below: arrays of any numeric dtype, as stored ----------------------------------

/// One .npy array as stored: its numpy dtype ("<f4", "<f8", "<i8", "<u8", "<u4", "|u1", ...,
/// byte order native after loading), its shape, and its raw C-order bytes. What a file needs
/// beside float arrays (step counters, a random generator's state, checksums) is stored so.
struct NpyArray {
  std::string dtype;
  Shape shape;
  std::string bytes;
};

/// Arrays by name, in name order.
using NpyArrays = std::map<std::string, NpyArray>;

/// The NpyArray of a float, double, int64, uint64 or uint32 array (dtype "<f4", ..., "<u4").
template <class V>
NpyArray to_npy(const xt::xarray<V>& array);
/// The values of an NpyArray of exactly V's dtype; a tg::Error("<op>: <what> ...") otherwise.
template <class V>
xt::xarray<V> from_npy(const NpyArray& array, const std::string& op, const std::string& what);

/// save_npz for arrays of any dtype (the same archive, temporary file, fsync and rename).
void save_npz_arrays(const std::string& path, const NpyArrays& arrays);
/// load_npz for arrays of any numeric dtype ('b', 'i', 'u', 'f' kinds), checked as load_npz checks.
NpyArrays load_npz_arrays(const std::string& path);

}  // namespace tg
