#pragma once
// Internal to the library (tg::detail): the element count of a shape, checked for overflow.
// Below the ops, so the factories of the core use it too.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "../variable.hpp"

namespace tg::detail {

/// The number of elements of shape, or nullopt when the sizes multiply past 2^63 (the count
/// would wrap to a small number, pass every size check and index out of bounds). A size of
/// 0 makes the count 0, whatever the other sizes.
inline std::optional<std::size_t> checked_numel(const Shape& shape) {
  // xtensor computes strides as signed 64-bit products of the trailing sizes, even for an
  // empty tensor, so the non-zero sizes must multiply within int64 (UBSan: signed overflow).
  std::size_t n = 1;
  bool empty = false;
  for (auto d : shape) {
    if (d == 0) {
      empty = true;
      continue;
    }
    if (__builtin_mul_overflow(n, d, &n) || n > static_cast<std::size_t>(INT64_MAX)) return std::nullopt;
  }
  return empty ? 0 : n;
}

}  // namespace tg::detail
