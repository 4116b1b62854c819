#pragma once
// Saving and loading a module's parameters and buffers as an .npz file (numpy.load opens it:
// one array per dotted name, "fc1.weight", "bn.running_mean", ...).
#include <string>

#include "module.hpp"

namespace tg::nn {

/// Writes module.state_dict() to path atomically (a temporary file renamed into place).
template <class T>
void save(const Module<T>& module, const std::string& path);

/// Reads path into the module's existing parameters and buffers; a tg::Error naming the
/// missing, unexpected or mismatched entries leaves the module unchanged. Non-strict
/// loading ignores missing and unexpected entries (shapes must still match).
template <class T>
void load(Module<T>& module, const std::string& path, bool strict = true);

}  // namespace tg::nn
