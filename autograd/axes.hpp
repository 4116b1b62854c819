#pragma once
// Axis arguments: negative axes count from the end; an empty list means every axis.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "error.hpp"

namespace tg {

/// axis in [-ndim, ndim) -> [0, ndim); a tg::Error naming op otherwise.
std::size_t normalize_axis(const char* op, std::int64_t axis, std::size_t ndim);
/// Sorted, unique, non-negative axes; {} -> all axes. Duplicates or out-of-range axes throw.
std::vector<std::size_t> normalize_axes(const char* op, const std::vector<std::int64_t>& axes,
                                        std::size_t ndim);

}  // namespace tg
