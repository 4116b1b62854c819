#pragma once
// Internal to the library (tg::detail), not part of the API: the cheap "nothing to do" forms
// of the shape ops, for derivatives only; the new node a public op returns when it has
// nothing to do; the element count of a shape, checked for overflow.
//
// A public op's result is always its own variable (docs/design.md), so naming or editing it never
// changes its input: reshape to the same shape, expand/sum_to to the same shape, an identity
// permute, ... return a copy (copy_op). Derivatives are different: add's and mul's backward
// call sum_to(g, shape) with g already of that shape on almost every small op, and nobody
// names or edits a gradient in flight, so there the input itself is returned (a node and an
// allocation saved per input per op).
#include <cstdint>
#include <optional>

#include "../variable.hpp"
#include "numel.hpp"
#include "../ops/shape.hpp"

namespace tg::detail {

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
