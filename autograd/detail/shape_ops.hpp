#pragma once
// Internal to the library (tg::detail), not part of the API: the cheap "nothing to do" forms
// of the shape ops, for derivatives only; the new node a public op returns when it has
// nothing to do; the element count of a shape, checked for overflow.
//
// A public op's result is always its own variable (DESIGN.md), so naming or editing it never
// changes its input: reshape to the same shape, expand/sum_to to the same shape, an identity
// permute, ... return a copy (copy_op). Derivatives are different: add's and mul's backward
// call sum_to(g, shape) with g already of that shape on almost every small op, and nobody
// names or edits a gradient in flight, so there the input itself is returned (~30 ns and one
// allocation saved per input per op).
#include <cstdint>
#include <optional>

#include "../variable.hpp"
#include "../ops/shape.hpp"

namespace tg::detail {

/// The number of elements of shape, or nullopt when the product does not fit in size_t (it
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

/// A new node holding a copy of x under the name op; d(out)/dx = identity (g passes through).
/// The result of a public op that has nothing to do.
template <class T>
Variable<T> copy_op(const char* op, const Variable<T>& x) {
  return make_op<T>(op, xt::xarray<T>(x.value()), {x}, [](const GradContext<T>& c) -> Grads<T> { return {c.grad}; });
}

/// sum_to(x, shape), or x itself when it has that shape already (derivatives only).
template <class T>
Variable<T> sum_to_or_same(const Variable<T>& x, const Shape& shape) {
  return x.shape() == shape ? x : sum_to(x, shape);
}

/// expand(x, shape), or x itself when it has that shape already (derivatives only).
template <class T>
Variable<T> expand_or_same(const Variable<T>& x, const Shape& shape) {
  return x.shape() == shape ? x : expand(x, shape);
}

/// reshape(x, shape), or x itself when it has that shape already (derivatives only).
template <class T>
Variable<T> reshape_or_same(const Variable<T>& x, const Shape& shape) {
  return x.shape() == shape ? x : reshape(x, std::vector<std::int64_t>(shape.begin(), shape.end()));
}

}  // namespace tg::detail
