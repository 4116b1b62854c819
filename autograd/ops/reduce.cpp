// Reductions and the softmax family.
#include "reduce.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "../core/axes.hpp"
#include "elementwise.hpp"
#include "../kernels/loops.hpp"
#include "../kernels/softmax_rows.hpp"
#include "../kernels/vector_math.hpp"
#include "shape.hpp"
#include "instantiate.hpp"
#include "detail/derivatives.hpp"

namespace tg {

namespace {

using detail::constant;

/// Ops without a value for an empty reduction (max, min, argmax, ...) refuse one.
void check_not_empty(const char* op, const Axes& axes, const Shape& shape, const std::vector<std::size_t>& ax) {
  for (auto a : ax)
    TG_CHECK(shape[a] > 0, op,
             "reduction over axes " + (axes.empty() ? std::string("{} (all)") : axes_str(axes)) + " of shape " +
                 shape_str(shape) + ": axis " + std::to_string(a) + " is empty, so there is no value to take");
}

/// a reshaped copy of an array (the reduced shape with or without the kept size-1 axes).
template <class T>
xt::xarray<T> reshaped(xt::xarray<T> a, const Shape& shape) {
  a.reshape(shape);
  return a;
}

/// The gradient of a reduction, g, brought back to x's shape: re-insert the reduced axes
/// as size 1 (if keepdims was off), then broadcast (each step skipped when it has nothing to do).
template <class T>
Variable<T> unreduce(const Variable<T>& g, const Shape& x_shape, const std::vector<std::size_t>& axes) {
  return detail::expand_or_same(detail::reshape_or_same(g, kernels::reduced_shape(x_shape, axes, true)), x_shape);
}

/// max that lets a NaN win, so a NaN in the input shows in the result (as torch). Function
/// objects rather than function pointers, and `|` rather than `||`, so the folds inline and
/// vectorise (through a function pointer the fold stays one scalar call per element).
struct nan_max {
  template <class T>
  T operator()(T acc, T v) const {
    return ((v > acc) | (v != v)) ? v : acc;
  }
};
struct nan_min {
  template <class T>
  T operator()(T acc, T v) const {
    return ((v < acc) | (v != v)) ? v : acc;
  }
};

/// The max over axes with the reduced axes kept, and non-finite maxima replaced by 0: the
/// shift that keeps exp(x - m) in range. A slice of all -inf (or with +inf) is not shifted,
/// so its exp/log give the mathematically right -inf or inf.
template <class T>
xt::xarray<T> stable_shift(const xt::xarray<T>& x, const std::vector<std::size_t>& ax) {
  xt::xarray<T> m = kernels::reduce_associative<T>(x, ax, true, -std::numeric_limits<T>::infinity(), nan_max{});
  for (auto& v : m)
    if (!std::isfinite(v)) v = T(0);
  return m;
}

/// logsumexp over ax with the reduced axes kept: m + log(sum(exp(x - m))).
template <class T>
xt::xarray<T> logsumexp_kept(const xt::xarray<T>& x, const std::vector<std::size_t>& ax) {
  const xt::xarray<T> m = stable_shift(x, ax);
  const xt::xarray<T> s =
      kernels::sum(kernels::map2<T>("logsumexp", x, m, [](T a, T b) { return std::exp(a - b); }), ax, true);
  return kernels::map2<T>("logsumexp", s, m, [](T a, T b) { return std::log(a) + b; });
}

/// max or min over axes; the gradient goes to the elements equal to the result, split evenly
/// between ties (g * mask / count, the mask a constant: piecewise linear, so the second
/// derivative is 0 and the backward differentiates as such).
template <class T, class F>
Variable<T> extremum(const char* op, const Variable<T>& x, const Axes& axes, bool keepdims, T init, F f) {
  const auto ax = normalize_axes(op, axes, x.shape());
  check_not_empty(op, axes, x.shape(), ax);
  return make_op<T>(op, kernels::reduce_associative<T>(x.value(), ax, keepdims, init, f), {x}, [op, ax](const GradContext<T>& c) -> Grads<T> {
    const auto& xv = c.in[0].value();
    const xt::xarray<T> out = reshaped(c.out.value(), kernels::reduced_shape(xv.shape(), ax, true));
    xt::xarray<T> mask = kernels::map2<T>(op, xv, out, [](T a, T b) { return T(a == b || (a != a && b != b)); });
    const xt::xarray<T> count = kernels::sum(mask, ax, true);
    mask = kernels::map2<T>(op, mask, count, std::divides<T>());
    return {unreduce(c.grad, xv.shape(), ax) * constant(std::move(mask))};
  });
}

/// Index of the first extremum along one axis: x seen as [outer, n, inner].
template <class T, class Better>
IndexArray arg_extremum(const char* op, const Variable<T>& x, std::int64_t axis, bool keepdims, Better better) {
  const std::size_t a = normalize_axis(op, axis, x.shape());
  check_not_empty(op, {axis}, x.shape(), {a});
  const Shape& shape = x.shape();
  IndexArray out = xt::zeros<Index>(kernels::reduced_shape(shape, {a}, keepdims));
  const std::size_t n = shape[a];
  std::size_t inner = 1;
  for (std::size_t i = a + 1; i < shape.size(); ++i) inner *= shape[i];
  const std::size_t outer = inner == 0 ? 0 : x.numel() / (n * inner);
  const T* px = x.value().data();
  Index* po = out.data();
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t i = 0; i < inner; ++i) {
      const T* p = px + o * n * inner + i;
      std::size_t best = 0;
      for (std::size_t j = 1; j < n; ++j)
        if (better(p[j * inner], p[best * inner])) best = j;
      po[o * inner + i] = static_cast<Index>(best);
    }
  return out;
}

}  // namespace

template <class T>
Variable<T> sum(const Variable<T>& x, const Axes& axes, bool keepdims) {
  auto ax = normalize_axes("sum", axes, x.shape());
  return make_op<T>("sum", kernels::sum(x.value(), ax, keepdims), {x}, [ax](const GradContext<T>& c) -> Grads<T> {
    return {unreduce(c.grad, c.in[0].shape(), ax)};
  });
}

template <class T>
Variable<T> mean(const Variable<T>& x, const Axes& axes, bool keepdims) {
  auto ax = normalize_axes("mean", axes, x.shape());
  std::size_t n = 1;
  for (auto a : ax) n *= x.shape()[a];
  TG_CHECK(n > 0, "mean", "mean over axes " + axes_str(axes) + " of " + shape_str(x.shape()) + ", which are empty");
  return sum(x, axes, keepdims) * (T(1) / static_cast<T>(n));
}

template <class T>
Variable<T> max(const Variable<T>& x, const Axes& axes, bool keepdims) {
  return extremum<T>("max", x, axes, keepdims, -std::numeric_limits<T>::infinity(), nan_max{});
}

template <class T>
Variable<T> min(const Variable<T>& x, const Axes& axes, bool keepdims) {
  return extremum<T>("min", x, axes, keepdims, std::numeric_limits<T>::infinity(), nan_min{});
}

/// d lse/dx = exp(x - lse), written with ops (lse being this op's own output) so that it
/// differentiates again.
template <class T>
Variable<T> logsumexp(const Variable<T>& x, const Axes& axes, bool keepdims) {
  const auto ax = normalize_axes("logsumexp", axes, x.shape());
  xt::xarray<T> value = logsumexp_kept(x.value(), ax);
  if (!keepdims) value.reshape(kernels::reduced_shape(x.shape(), ax, false));
  return make_op<T>("logsumexp", std::move(value), {x}, [ax](const GradContext<T>& c) -> Grads<T> {
    const Shape& shape = c.in[0].shape();
    return {unreduce(c.grad, shape, ax) * exp(c.in[0] - unreduce(c.out, shape, ax))};
  });
}

/// d|x|/dx = x / |x|, with the denominator |x| + [|x| = 0] so that a zero slice (where x is
/// all 0) gets gradient 0, and no NaN appears at any order.
template <class T>
Variable<T> norm(const Variable<T>& x, const Axes& axes, bool keepdims) {
  const auto ax = normalize_axes("norm", axes, x.shape());
  xt::xarray<T> value = kernels::map<T>(
      kernels::sum(kernels::map<T>(x.value(), [](T v) { return v * v; }), ax, keepdims), [](T v) { return std::sqrt(v); });
  return make_op<T>("norm", std::move(value), {x}, [ax](const GradContext<T>& c) -> Grads<T> {
    const Shape& shape = c.in[0].shape();
    const auto safe = c.out + constant(kernels::map<T>(c.out.value(), [](T v) { return T(v == T(0)); }));
    return {unreduce(c.grad / safe, shape, ax) * c.in[0]};
  });
}

template <class T>
IndexArray argmax(const Variable<T>& x, std::int64_t axis, bool keepdims) {
  // a NaN counts as the largest value (as numpy/torch); the first one wins
  return arg_extremum<T>("argmax", x, axis, keepdims, [](T v, T best) { return best == best && (v > best || v != v); });
}

template <class T>
IndexArray argmin(const Variable<T>& x, std::int64_t axis, bool keepdims) {
  return arg_extremum<T>("argmin", x, axis, keepdims, [](T v, T best) { return best == best && (v < best || v != v); });
}

template <class T>
Variable<T> softmax_backward(const Variable<T>& g, const Variable<T>& out) {
  TG_CHECK(g.shape() == out.shape() && g.dim() >= 1, "softmax_backward",
           "gradient " + shape_str(g.shape()) + " and softmax " + shape_str(out.shape()) + " must have one shape");
  xt::xarray<T> value = xt::empty<T>(g.shape());
  const std::size_t n = g.shape().back();
  const T* pg = g.value().data();
  const T* po = out.value().data();
  T* pv = value.data();
  detail::parallel_rows(n == 0 ? 0 : value.size() / n, n, [=](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
      const T *gr = pg + r * n, *outr = po + r * n;
      T* vr = pv + r * n;
      T s = 0;
#pragma omp simd reduction(+ : s)
      for (std::size_t i = 0; i < n; ++i) s += gr[i] * outr[i];
#pragma omp simd
      for (std::size_t i = 0; i < n; ++i) vr[i] = outr[i] * (gr[i] - s);
    }
  });
  return make_op<T>("softmax_backward", std::move(value), {g, out}, [](const GradContext<T>& c) -> Grads<T> {
    const auto& u = c.grad;
    const auto& g = c.in[0];
    const auto& out = c.in[1];
    Variable<T> dg, dout;
    if (c.needs(0)) dg = softmax_backward(u, out);
    if (c.needs(1)) dout = u * (g - sum(g * out, {-1}, true)) - g * sum(u * out, {-1}, true);
    return {dg, dout};
  });
}

/// d softmax: out * (g - sum(g * out, axis)), written with ops (softmax_backward along the last
/// axis: one pass instead of four).
template <class T>
Variable<T> softmax(const Variable<T>& x, std::int64_t axis) {
  const std::size_t a = normalize_axis("softmax", axis, x.shape());
  xt::xarray<T> value;
  if (a + 1 == x.dim()) {  // the last axis (attention, classifiers): contiguous rows
    value = xt::empty<T>(x.shape());
    const std::size_t n = x.shape()[a];
    if (n > 0) kernels::softmax_rows(x.value().data(), value.data(), x.numel() / n, n, false);
  } else {
    const std::vector<std::size_t> ax{a};
    const xt::xarray<T> m = stable_shift(x.value(), ax);
    xt::xarray<T> e = kernels::map2<T>("softmax", x.value(), m, [](T u, T v) { return std::exp(u - v); });
    const xt::xarray<T> s = kernels::sum(e, ax, true);
    value = kernels::map2<T>("softmax", e, s, std::divides<T>());
  }
  return make_op<T>("softmax", std::move(value), {x},
                    [axis, last = a + 1 == x.dim()](const GradContext<T>& c) -> Grads<T> {
                      if (last) return {softmax_backward(c.grad, c.out)};
                      return {c.out * (c.grad - sum(c.grad * c.out, {axis}, true))};
                    });
}

/// d log_softmax: g - exp(out) * sum(g, axis), written with ops.
template <class T>
Variable<T> log_softmax(const Variable<T>& x, std::int64_t axis) {
  const std::size_t a = normalize_axis("log_softmax", axis, x.shape());
  xt::xarray<T> value;
  if (a + 1 == x.dim()) {  // the last axis: contiguous rows
    value = xt::empty<T>(x.shape());
    const std::size_t n = x.shape()[a];
    if (n > 0) kernels::log_softmax_rows(x.value().data(), value.data(), x.numel() / n, n);
  } else {
    const std::vector<std::size_t> ax{a};
    // (x - m) - log(sum(exp(x - m))) rather than x - logsumexp(x): the shifted values are
    // small, so nothing is lost to rounding at |x| ~ 1000 (in float, an ulp there is 6e-5)
    xt::xarray<T> shifted = kernels::map2<T>("log_softmax", x.value(), stable_shift(x.value(), ax), std::minus<T>());
    xt::xarray<T> log_s = kernels::sum(kernels::map<T>(shifted, [](T v) { return std::exp(v); }), ax, true);
    for (auto& v : log_s) v = std::log(v);
    value = kernels::map2<T>("log_softmax", shifted, log_s, std::minus<T>());
  }
  return make_op<T>("log_softmax", std::move(value), {x},
                    [axis](const GradContext<T>& c) -> Grads<T> {
                      return {c.grad - exp(c.out) * sum(c.grad, {axis}, true)};
                    });
}

TG_INSTANTIATE_OPS(sum, mean, max, min, logsumexp, norm, argmax, argmin, softmax, log_softmax,
                   softmax_backward)

}  // namespace tg
