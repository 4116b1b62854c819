#pragma once
// Internal to the op files (tg::detail, not installed): helpers for writing derivatives.
// constant() wraps a kernel's array as a Variable that is never differentiated (a mask, a fixed
// factor). The *_or_same forms of the shape ops return their input itself when it already has
// the shape: a public op's result is always its own node, so naming or editing it never changes
// its input, but nobody names or edits a gradient in flight, and add's and mul's backward call
// sum_to(g, shape) with g already of that shape on almost every small op.
#include <cstdint>
#include <optional>

#include "../../core/variable.hpp"
#include "../../core/detail/numel.hpp"
#include "../shape.hpp"

namespace tg::detail {

/// A kernel's result as a constant Variable, never differentiated: a mask or a derivative's
/// fixed factor, such as relu's (x > 0).
template <class T>
Variable<T> constant(xt::xarray<T>&& a) {
  return Variable<T>(std::move(a));
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
