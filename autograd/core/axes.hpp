#pragma once
// Axis arguments: negative axes count from the end; an empty list means every axis.
// Errors name the op and the tensor's shape.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "variable.hpp"

namespace tg {

/// axis in [-rank, rank) -> [0, rank), for a tensor of the given shape. rank defaults to the
/// shape's rank; ops that insert an axis (unsqueeze, stack) pass rank + 1.
std::size_t normalize_axis(const char* op, std::int64_t axis, const Shape& shape, std::size_t rank);
inline std::size_t normalize_axis(const char* op, std::int64_t axis, const Shape& shape) {
  return normalize_axis(op, axis, shape, shape.size());
}
/// Sorted, unique, non-negative axes of a tensor of the given shape; {} -> all axes.
std::vector<std::size_t> normalize_axes(const char* op, const Axes& axes, const Shape& shape);

}  // namespace tg
