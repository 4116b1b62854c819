// Elementwise ops: each one's value, then its derivative written with ops.
#include "elementwise.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <functional>

#include "../kernels/loops.hpp"
#include "../kernels/vector_math.hpp"
#include "shape.hpp"
#include "instantiate.hpp"
#include "detail/derivatives.hpp"

namespace tg {

namespace {
/// The gradient for input i, computed only when that input needs one.
template <class T, class F>
Variable<T> if_needed(const GradContext<T>& c, std::size_t i, F&& f) {
  return c.needs(i) ? f() : Variable<T>();
}
using detail::constant;
}  // namespace

// ---- arithmetic -------------------------------------------------------------------------------------

template <class T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b) {
  return make_op<T>("add", kernels::map2<T>("add", a.value(), b.value(), std::plus<T>()), {a, b},
                    [](const GradContext<T>& c) -> Grads<T> {
                      return {if_needed(c, 0, [&] { return detail::sum_to_or_same(c.grad, c.in[0].shape()); }),
                              if_needed(c, 1, [&] { return detail::sum_to_or_same(c.grad, c.in[1].shape()); })};
                    });
}

template <class T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b) {
  return make_op<T>("sub", kernels::map2<T>("sub", a.value(), b.value(), std::minus<T>()), {a, b},
                    [](const GradContext<T>& c) -> Grads<T> {
                      return {if_needed(c, 0, [&] { return detail::sum_to_or_same(c.grad, c.in[0].shape()); }),
                              if_needed(c, 1, [&] { return neg(detail::sum_to_or_same(c.grad, c.in[1].shape())); })};
                    });
}

template <class T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b) {
  return make_op<T>("mul", kernels::map2<T>("mul", a.value(), b.value(), std::multiplies<T>()), {a, b},
                    [](const GradContext<T>& c) -> Grads<T> {
                      return {if_needed(c, 0, [&] { return detail::sum_to_or_same(c.grad * c.in[1], c.in[0].shape()); }),
                              if_needed(c, 1, [&] { return detail::sum_to_or_same(c.grad * c.in[0], c.in[1].shape()); })};
                    });
}

/// d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b
template <class T>
Variable<T> div(const Variable<T>& a, const Variable<T>& b) {
  return make_op<T>("div", kernels::map2<T>("div", a.value(), b.value(), std::divides<T>()), {a, b},
                    [](const GradContext<T>& c) -> Grads<T> {
                      return {if_needed(c, 0, [&] { return detail::sum_to_or_same(c.grad / c.in[1], c.in[0].shape()); }),
                              if_needed(c, 1, [&] { return neg(detail::sum_to_or_same(c.grad * c.out / c.in[1], c.in[1].shape())); })};
                    });
}

template <class T>
Variable<T> neg(const Variable<T>& x) {
  return make_op<T>("neg", kernels::map<T>(x.value(), std::negate<T>()), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {neg(c.grad)}; });
}

template <class T>
Variable<T> add_scalar(const Variable<T>& x, Scalar<T> s) {
  return make_op<T>("add_scalar", kernels::map<T>(x.value(), [s](T v) { return v + s; }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {c.grad}; });
}

template <class T>
Variable<T> mul_scalar(const Variable<T>& x, Scalar<T> s) {
  return make_op<T>("mul_scalar", kernels::map<T>(x.value(), [s](T v) { return v * s; }), {x},
                    [s](const GradContext<T>& c) -> Grads<T> { return {mul_scalar(c.grad, s)}; });
}

/// d(1/x)/dx = -(1/x)^2
template <class T>
Variable<T> reciprocal(const Variable<T>& x) {
  return make_op<T>("reciprocal", kernels::map<T>(x.value(), [](T v) { return T(1) / v; }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {neg(c.grad * c.out * c.out)}; });
}

// ---- powers, exponentials, trigonometry -------------------------------------------------------------

namespace {
/// x^p elementwise. An integer exponent is multiplications (square and multiply), a half is
/// sqrt, since std::pow costs far more than a multiplication or two.
template <class T>
xt::xarray<T> pow_value(const xt::xarray<T>& x, T p) {
  if (p == T(2)) return kernels::map<T>(x, [](T v) { return v * v; });
  if (p == T(3)) return kernels::map<T>(x, [](T v) { return v * v * v; });
  if (p == T(1)) return kernels::map<T>(x, [](T v) { return v; });
  // std::pow(x, 0.5) differs from sqrt at two points: pow(-inf, 0.5) = +inf and pow(-0, 0.5) = +0
  if (p == T(0.5))
    return kernels::map<T>(x, [](T v) { return v == -std::numeric_limits<T>::infinity() ? -v : std::sqrt(v) + T(0); });
  if (p == T(-1)) return kernels::map<T>(x, [](T v) { return T(1) / v; });
  if (p == std::trunc(p) && std::abs(p) <= T(1 << 20)) {
    const auto e = static_cast<unsigned>(std::abs(p));
    const bool invert = p < 0;
    return kernels::map<T>(x, [e, invert](T v) {
      T r = 1;
      for (unsigned k = e; k != 0; k >>= 1, v *= v)
        if (k & 1u) r *= v;
      return invert ? T(1) / r : r;
    });
  }
  return kernels::map<T>(x, [p](T v) { return std::pow(v, p); });
}
}  // namespace

/// d(x^p)/dx = p x^(p-1)
template <class T>
Variable<T> pow(const Variable<T>& x, Scalar<T> p) {
  return make_op<T>("pow", pow_value(x.value(), p), {x},
                    [p](const GradContext<T>& c) -> Grads<T> {
                      if (p == T(0)) return {zeros_like(c.grad)};
                      if (p == T(1)) return {c.grad};
                      return {c.grad * pow(c.in[0], p - T(1)) * p};
                    });
}

namespace {
/// x with every 0 replaced by 1 (a constant shift, so gradients pass through unchanged), or x
/// itself when it has no zeros.
template <class T>
Variable<T> zeros_to_one(const Variable<T>& x) {
  const auto& v = x.value();
  if (std::find(v.begin(), v.end(), T(0)) == v.end()) return x;
  return x + constant(kernels::map<T>(v, [](T u) { return T(u == 0); }));
}
}  // namespace

/// d(x^p)/dx = p x^(p-1), d(x^p)/dp = x^p log x. As in PyTorch the first is 0 where p = 0 and
/// the second 0 where x = 0 (and p >= 0); both are computed through 1 substituted for the zero
/// (p x^(p'-1), x^p log x'), so no 0 * inf NaN appears, not even in higher derivatives.
template <class T>
Variable<T> pow(const Variable<T>& x, const Variable<T>& p) {
  return make_op<T>("pow", kernels::map2<T>("pow", x.value(), p.value(), [](T a, T b) { return std::pow(a, b); }),
                    {x, p}, [](const GradContext<T>& c) -> Grads<T> {
                      const auto& x = c.in[0];
                      const auto& p = c.in[1];
                      return {if_needed(c, 0, [&] { return detail::sum_to_or_same(c.grad * p * pow(x, zeros_to_one(p) - T(1)), x.shape()); }),
                              if_needed(c, 1, [&] { return detail::sum_to_or_same(c.grad * c.out * log(zeros_to_one(x)), p.shape()); })};
                    });
}

template <class T>
Variable<T> exp(const Variable<T>& x) {
  return make_op<T>("exp", kernels::map<T>(x.value(), [](T v) { return std::exp(v); }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {c.grad * c.out}; });
}

template <class T>
Variable<T> log(const Variable<T>& x) {
  return make_op<T>("log", kernels::map<T>(x.value(), [](T v) { return std::log(v); }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {c.grad / c.in[0]}; });
}

/// d sqrt(x)/dx = 1 / (2 sqrt(x))
template <class T>
Variable<T> sqrt(const Variable<T>& x) {
  return make_op<T>("sqrt", kernels::map<T>(x.value(), [](T v) { return std::sqrt(v); }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {c.grad / c.out * T(0.5)}; });
}

/// d erf(x)/dx = 2/sqrt(pi) e^(-x^2)
template <class T>
Variable<T> erf(const Variable<T>& x) {
  return make_op<T>("erf", kernels::map<T>(x.value(), [](T v) { return std::erf(v); }), {x},
                    [](const GradContext<T>& c) -> Grads<T> {
                      const T two_over_sqrt_pi = static_cast<T>(2 / std::sqrt(3.14159265358979323846));
                      return {c.grad * exp(neg(c.in[0] * c.in[0])) * two_over_sqrt_pi};
                    });
}

template <class T>
Variable<T> sign(const Variable<T>& x) {
  return detail::unrecorded<T>("sign", kernels::map<T>(x.value(), [](T v) { return T((v > 0) - (v < 0)); }));
}

template <class T>
Variable<T> abs(const Variable<T>& x) {
  return make_op<T>("abs", kernels::map<T>(x.value(), [](T v) { return std::abs(v); }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {c.grad * sign(c.in[0])}; });
}

template <class T>
Variable<T> sin(const Variable<T>& x) {
  return make_op<T>("sin", kernels::map<T>(x.value(), [](T v) { return std::sin(v); }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {c.grad * cos(c.in[0])}; });
}

template <class T>
Variable<T> cos(const Variable<T>& x) {
  return make_op<T>("cos", kernels::map<T>(x.value(), [](T v) { return std::cos(v); }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {neg(c.grad * sin(c.in[0]))}; });
}

// ---- activations ------------------------------------------------------------------------------------

namespace {
/// tanh's backward g (1 - y^2) from its result y, in one pass and one node (as four ops,
/// y*y, neg, +1, *g, it was four nodes and four arrays per tanh: most of a small tanh's
/// backward). Its own derivative: d/dg = 1 - y^2 (the same op), d/dy = -2 y g.
template <class T>
Variable<T> tanh_backward(const Variable<T>& g, const Variable<T>& y) {
  return make_op<T>("tanh_backward", kernels::map2<T>("tanh_backward", g.value(), y.value(), [](T gi, T yi) { return gi * (T(1) - yi * yi); }),
                    {g, y}, [](const GradContext<T>& c) -> Grads<T> {
                      const auto& g = c.in[0];
                      const auto& y = c.in[1];
                      return {if_needed(c, 0, [&] { return tanh_backward(c.grad, y); }),
                              if_needed(c, 1, [&] { return c.grad * g * y * T(-2); })};
                    });
}

/// sigmoid's backward g y (1 - y) from its result y, one node. d/dg = y (1 - y) (the same
/// op), d/dy = g (1 - 2y).
template <class T>
Variable<T> sigmoid_backward(const Variable<T>& g, const Variable<T>& y) {
  return make_op<T>("sigmoid_backward", kernels::map2<T>("sigmoid_backward", g.value(), y.value(), [](T gi, T yi) { return gi * yi * (T(1) - yi); }),
                    {g, y}, [](const GradContext<T>& c) -> Grads<T> {
                      const auto& g = c.in[0];
                      const auto& y = c.in[1];
                      return {if_needed(c, 0, [&] { return sigmoid_backward(c.grad, y); }),
                              if_needed(c, 1, [&] { return c.grad * g * (T(1) - y * T(2)); })};
                    });
}
}  // namespace

/// d tanh(x)/dx = 1 - tanh(x)^2
template <class T>
Variable<T> tanh(const Variable<T>& x) {
  return make_op<T>("tanh", kernels::map<T>(x.value(), [](T v) { return std::tanh(v); }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {tanh_backward(c.grad, c.out)}; });
}

namespace {
template <class T>
T stable_sigmoid(T v) {
  if (v >= 0) return T(1) / (T(1) + std::exp(-v));
  const T e = std::exp(v);
  return e / (T(1) + e);
}
}  // namespace

/// d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x))
template <class T>
Variable<T> sigmoid(const Variable<T>& x) {
  return make_op<T>("sigmoid", kernels::map<T>(x.value(), stable_sigmoid<T>), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {sigmoid_backward(c.grad, c.out)}; });
}

namespace {
/// relu's backward in one pass: g where x > 0 (or x is NaN), 0 where x <= 0, a select as in
/// PyTorch's threshold_backward. Before, a 0/1 mask array and then g * mask: two passes and
/// one more [batch, width] buffer. x is held constant (relu'' = 0 almost everywhere), so the
/// derivative with respect to g is the same masking.
template <class T>
Variable<T> relu_backward(const Variable<T>& g, const Variable<T>& x) {
  xt::xarray<T> out = detail::empty_array<T>(g.shape());
  const T* pg = g.value().data();
  const T* px = x.value().data();
  T* po = out.data();
  // Both loads unconditional: a load of g only where x > 0 stayed a branch per element.
  detail::parallel_for(out.size(), [&](std::size_t begin, std::size_t end) {
#pragma omp simd
    for (std::size_t i = begin; i < end; ++i) {
      const T gi = pg[i];
      po[i] = px[i] <= 0 ? T(0) : gi;
    }
  });
  return make_op<T>("relu_backward", std::move(out), {g}, [x](const GradContext<T>& c) -> Grads<T> {
    return {relu_backward(c.grad, x)};
  });
}
}  // namespace

// Written v <= 0 ? 0 : v, not v > 0 ? v : 0, so that a NaN passes through (as in PyTorch)
// instead of silently becoming 0.
template <class T>
Variable<T> relu(const Variable<T>& x) {
  return make_op<T>("relu", kernels::map<T>(x.value(), [](T v) { return v <= 0 ? T(0) : v; }), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {relu_backward(c.grad, c.in[0])}; });
}

template <class T>
Variable<T> leaky_relu(const Variable<T>& x, Scalar<T> slope) {
  return make_op<T>("leaky_relu", kernels::map<T>(x.value(), [slope](T v) { return v > 0 ? v : slope * v; }), {x},
                    [slope](const GradContext<T>& c) -> Grads<T> {
                      return {c.grad * constant(kernels::map<T>(c.in[0].value(), [slope](T v) { return v > 0 ? T(1) : slope; }))};
                    });
}

/// d elu(x)/dx = 1 for x > 0, elu(x) + alpha otherwise (= alpha e^x, differentiable again)
template <class T>
Variable<T> elu(const Variable<T>& x, Scalar<T> alpha) {
  return make_op<T>("elu", kernels::map<T>(x.value(), [alpha](T v) { return v > 0 ? v : alpha * std::expm1(v); }), {x},
                    [alpha](const GradContext<T>& c) -> Grads<T> {
                      auto positive = constant(kernels::map<T>(c.in[0].value(), [](T v) { return T(v > 0); }));
                      return {c.grad * (positive + (T(1) - positive) * (c.out + alpha))};
                    });
}

/// softplus(x) = max(x, 0) + log(1 + e^-|x|); derivative sigmoid(x)
template <class T>
Variable<T> softplus(const Variable<T>& x) {
  return make_op<T>("softplus",
                    kernels::map<T>(x.value(), [](T v) { return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))); }),
                    {x}, [](const GradContext<T>& c) -> Grads<T> { return {c.grad * sigmoid(c.in[0])}; });
}

template <class T>
Variable<T> clamp(const Variable<T>& x, Scalar<T> lo, Scalar<T> hi) {
  TG_CHECK(lo <= hi, "clamp",
           "lo " + number_str(lo) + " is greater than hi " + number_str(hi) + " (input " + shape_str(x.shape()) + ")");
  return make_op<T>("clamp", kernels::map<T>(x.value(), [lo, hi](T v) { return std::min(std::max(v, lo), hi); }), {x},
                    [lo, hi](const GradContext<T>& c) -> Grads<T> {
                      return {c.grad * constant(kernels::map<T>(c.in[0].value(), [lo, hi](T v) { return T(v >= lo && v <= hi); }))};
                    });
}

namespace {
/// Gradient share of `a` in max/min(a, b): 1 where it wins, 1/2 at ties, 0 where it loses.
/// A NaN wins (it is the result), so its gradient goes where the NaN came from.
template <class T, class Wins>
Variable<T> share_of_a(const char* op, const Variable<T>& a, const Variable<T>& b, Wins wins) {
  return constant(kernels::map2<T>(op, a.value(), b.value(), [wins](T u, T v) { return wins(u, v) ? T(1) : u == v ? T(0.5) : T(0); }));
}
template <class T, class Pick, class Wins>
Variable<T> extremum(const char* op, const Variable<T>& a, const Variable<T>& b, Pick pick, Wins wins) {
  return make_op<T>(op, kernels::map2<T>(op, a.value(), b.value(), pick), {a, b},
                    [op, wins](const GradContext<T>& c) -> Grads<T> {
                      auto share = share_of_a(op, c.in[0], c.in[1], wins);
                      return {if_needed(c, 0, [&] { return detail::sum_to_or_same(c.grad * share, c.in[0].shape()); }),
                              if_needed(c, 1, [&] { return detail::sum_to_or_same(c.grad * (T(1) - share), c.in[1].shape()); })};
                    });
}
}  // namespace

// A NaN on either side is the result (as torch.maximum), not dropped for the other number.
template <class T>
Variable<T> maximum(const Variable<T>& a, const Variable<T>& b) {
  auto wins = [](T u, T v) { return u > v || (std::isnan(u) && !std::isnan(v)); };
  return extremum<T>("maximum", a, b, [wins](T u, T v) { return wins(u, v) ? u : v; }, wins);
}

template <class T>
Variable<T> minimum(const Variable<T>& a, const Variable<T>& b) {
  auto wins = [](T u, T v) { return u < v || (std::isnan(u) && !std::isnan(v)); };
  return extremum<T>("minimum", a, b, [wins](T u, T v) { return wins(u, v) ? u : v; }, wins);
}

template <class T>
Variable<T> where(const Variable<T>& mask, const Variable<T>& a, const Variable<T>& b) {
  const Shape shape = broadcast_shapes("where", broadcast_shapes("where", mask.shape(), a.shape()), b.shape());
  auto chosen = [](T m, T v) { return m != 0 ? v : T(0); };
  auto other = [](T m, T v) { return m != 0 ? T(0) : v; };
  xt::xarray<T> value = kernels::map2<T>("where", kernels::map2<T>("where", mask.value(), a.value(), chosen),
                                         kernels::map2<T>("where", mask.value(), b.value(), other), std::plus<T>());
  if (value.shape() != shape) value = kernels::broadcast_to(value, shape);
  Variable<T> taken = constant(kernels::map<T>(mask.value(), [](T m) { return T(m != 0); }));
  return make_op<T>("where", std::move(value), {a, b}, [taken](const GradContext<T>& c) -> Grads<T> {
    return {if_needed(c, 0, [&] { return detail::sum_to_or_same(c.grad * taken, c.in[0].shape()); }),
            if_needed(c, 1, [&] { return detail::sum_to_or_same(c.grad * (T(1) - taken), c.in[1].shape()); })};
  });
}

// ---- comparisons -----------------------------------------------------------------------------------

#define TG_COMPARISON(name, expr)                                                                        \
  template <class T>                                                                                     \
  Variable<T> name(const Variable<T>& a, const Variable<T>& b) {                                         \
    return detail::unrecorded<T>(#name, kernels::map2<T>(#name, a.value(), b.value(),                    \
                                                         [](T u, T v) { return T(expr); }));             \
  }
TG_COMPARISON(lt, u < v)
TG_COMPARISON(le, u <= v)
TG_COMPARISON(gt, u > v)
TG_COMPARISON(ge, u >= v)
TG_COMPARISON(eq, u == v)
TG_COMPARISON(ne, u != v)
#undef TG_COMPARISON

TG_INSTANTIATE_OPS(add, sub, mul, div, neg, add_scalar, mul_scalar, reciprocal, exp, log, sqrt, erf, abs, sin,
                   cos, sign, tanh, sigmoid, relu, leaky_relu, elu, softplus, clamp, maximum, minimum, where,
                   lt, le, gt, ge, eq, ne)
TG_INSTANTIATE_OVERLOAD(pow, Variable<T>(const Variable<T>&, Scalar<T>))
TG_INSTANTIATE_OVERLOAD(pow, Variable<T>(const Variable<T>&, const Variable<T>&))

}  // namespace tg
