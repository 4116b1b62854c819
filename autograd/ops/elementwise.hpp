#pragma once
// Elementwise ops. Binary ops broadcast as NumPy does; their gradients are summed back to
// each input's shape (sum_to). Every derivative is written with ops, so all of these have
// second derivatives.
#include <type_traits>

#include "../core/variable.hpp"

namespace tg {

template <class T>
using Scalar = std::type_identity_t<T>;  // a plain number next to a Variable<T>: not deduced

// ---- arithmetic ---------------------------------------------------------------------------
template <class T> Variable<T> add(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> sub(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> mul(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> div(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> neg(const Variable<T>& x);
/// x + s
template <class T> Variable<T> add_scalar(const Variable<T>& x, Scalar<T> s);
/// x * s
template <class T> Variable<T> mul_scalar(const Variable<T>& x, Scalar<T> s);
/// 1 / x
template <class T> Variable<T> reciprocal(const Variable<T>& x);

template <class T> Variable<T> operator+(const Variable<T>& a, const Variable<T>& b) { return add(a, b); }
template <class T> Variable<T> operator-(const Variable<T>& a, const Variable<T>& b) { return sub(a, b); }
template <class T> Variable<T> operator*(const Variable<T>& a, const Variable<T>& b) { return mul(a, b); }
template <class T> Variable<T> operator/(const Variable<T>& a, const Variable<T>& b) { return div(a, b); }
template <class T> Variable<T> operator-(const Variable<T>& x) { return neg(x); }
template <class T> Variable<T> operator+(const Variable<T>& x, Scalar<T> s) { return add_scalar(x, s); }
template <class T> Variable<T> operator+(Scalar<T> s, const Variable<T>& x) { return add_scalar(x, s); }
template <class T> Variable<T> operator-(const Variable<T>& x, Scalar<T> s) { return add_scalar(x, -s); }
template <class T> Variable<T> operator-(Scalar<T> s, const Variable<T>& x) { return add_scalar(neg(x), s); }
template <class T> Variable<T> operator*(const Variable<T>& x, Scalar<T> s) { return mul_scalar(x, s); }
template <class T> Variable<T> operator*(Scalar<T> s, const Variable<T>& x) { return mul_scalar(x, s); }
template <class T> Variable<T> operator/(const Variable<T>& x, Scalar<T> s) { return mul_scalar(x, T(1) / s); }
template <class T> Variable<T> operator/(Scalar<T> s, const Variable<T>& x) { return mul_scalar(reciprocal(x), s); }

// ---- powers, exponentials, trigonometry ---------------------------------------------------
/// x^p
template <class T> Variable<T> pow(const Variable<T>& x, Scalar<T> p);
/// x^p elementwise with broadcasting; d/dp = x^p log x (x must be positive where p needs a gradient)
template <class T> Variable<T> pow(const Variable<T>& x, const Variable<T>& p);
template <class T> Variable<T> exp(const Variable<T>& x);
template <class T> Variable<T> log(const Variable<T>& x);
template <class T> Variable<T> sqrt(const Variable<T>& x);
/// The error function; d erf(x)/dx = 2/sqrt(pi) e^(-x^2)
template <class T> Variable<T> erf(const Variable<T>& x);
/// d|x|/dx = sign(x), 0 at 0 (as PyTorch)
template <class T> Variable<T> abs(const Variable<T>& x);
template <class T> Variable<T> sin(const Variable<T>& x);
template <class T> Variable<T> cos(const Variable<T>& x);
/// sign(x) in {-1, 0, 1}: no gradient
template <class T> Variable<T> sign(const Variable<T>& x);

// ---- activations --------------------------------------------------------------------------
template <class T> Variable<T> tanh(const Variable<T>& x);
/// 1 / (1 + e^-x), computed without overflow
template <class T> Variable<T> sigmoid(const Variable<T>& x);
/// max(x, 0); gradient 0 at 0 (as PyTorch)
template <class T> Variable<T> relu(const Variable<T>& x);
/// x if x > 0 else slope * x
template <class T> Variable<T> leaky_relu(const Variable<T>& x, Scalar<T> negative_slope = T(0.01));
/// x if x > 0 else alpha (e^x - 1)
template <class T> Variable<T> elu(const Variable<T>& x, Scalar<T> alpha = T(1));
/// log(1 + e^x), computed without overflow; derivative sigmoid(x)
template <class T> Variable<T> softplus(const Variable<T>& x);
/// min(max(x, lo), hi); gradient 1 inside [lo, hi], 0 outside
template <class T> Variable<T> clamp(const Variable<T>& x, Scalar<T> lo, Scalar<T> hi);
/// Elementwise max with broadcasting; at ties the gradient is split evenly (as PyTorch).
template <class T> Variable<T> maximum(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> minimum(const Variable<T>& a, const Variable<T>& b);
/// mask ? a : b elementwise, broadcasting all three; mask is nonzero for true (no gradient).
template <class T> Variable<T> where(const Variable<T>& mask, const Variable<T>& a, const Variable<T>& b);

// ---- comparisons: masks of 0 and 1, never differentiable ----------------------------------
template <class T> Variable<T> lt(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> le(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> gt(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> ge(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> eq(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> ne(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> operator<(const Variable<T>& a, const Variable<T>& b) { return lt(a, b); }
template <class T> Variable<T> operator<=(const Variable<T>& a, const Variable<T>& b) { return le(a, b); }
template <class T> Variable<T> operator>(const Variable<T>& a, const Variable<T>& b) { return gt(a, b); }
template <class T> Variable<T> operator>=(const Variable<T>& a, const Variable<T>& b) { return ge(a, b); }
template <class T> Variable<T> operator<(const Variable<T>& a, Scalar<T> s) { return lt(a, scalar<T>(s)); }
template <class T> Variable<T> operator<=(const Variable<T>& a, Scalar<T> s) { return le(a, scalar<T>(s)); }
template <class T> Variable<T> operator>(const Variable<T>& a, Scalar<T> s) { return gt(a, scalar<T>(s)); }
template <class T> Variable<T> operator>=(const Variable<T>& a, Scalar<T> s) { return ge(a, scalar<T>(s)); }

}  // namespace tg
