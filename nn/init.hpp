#pragma once
// Weight initialisers. Each one overwrites a variable's value in place (bypassing the tape),
// draws from tg::generator() (seed it with tg::manual_seed), and returns the same handle.
// Names end in '_' as in PyTorch: they modify their argument.
//
// Fans of a weight of shape [out, in, k...] (PyTorch's layout for Linear and Conv):
// fan_in = in * prod(k), fan_out = out * prod(k). Fewer than 2 dimensions is an error.
#include <cstddef>

#include "../autograd/core/variable.hpp"

namespace tg::nn::init {

enum class Nonlinearity { linear, sigmoid, tanh, relu, leaky_relu, selu };
enum class FanMode { fan_in, fan_out };

/// The gain that keeps the activation variance steady: linear/sigmoid 1, tanh 5/3,
/// relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4 (PyTorch's values).
double calculate_gain(Nonlinearity nonlinearity, double negative_slope = 0.01);

struct Fans {
  std::size_t fan_in = 0, fan_out = 0;
};
/// fan_in and fan_out of a weight of shape [out, in, k...].
Fans compute_fans(const Shape& shape);

/// U(lo, hi)
template <class T> Variable<T> uniform_(Variable<T> w, double lo = 0, double hi = 1);
/// N(mean, std^2)
template <class T> Variable<T> normal_(Variable<T> w, double mean = 0, double std = 1);
template <class T> Variable<T> constant_(Variable<T> w, double value);
template <class T> Variable<T> zeros_(Variable<T> w);
template <class T> Variable<T> ones_(Variable<T> w);

/// Glorot: U(-b, b), b = gain sqrt(6 / (fan_in + fan_out))
template <class T> Variable<T> xavier_uniform_(Variable<T> w, double gain = 1);
/// Glorot: N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out))
template <class T> Variable<T> xavier_normal_(Variable<T> w, double gain = 1);

struct KaimingOptions {
  double a = 0;                                        // negative slope of the leaky_relu that follows
  FanMode mode = FanMode::fan_in;                      // fan_in keeps forward variance, fan_out backward
  Nonlinearity nonlinearity = Nonlinearity::leaky_relu;  // with a = 0: the ReLU gain sqrt(2)
};
/// He: U(-b, b), b = gain sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
template <class T> Variable<T> kaiming_uniform_(Variable<T> w, KaimingOptions options = {});
/// He: N(0, s^2), s = gain / sqrt(fan)
template <class T> Variable<T> kaiming_normal_(Variable<T> w, KaimingOptions options = {});
/// LeCun: N(0, 1 / fan_in), the init SELU networks assume (a plain, untruncated normal).
template <class T> Variable<T> lecun_normal_(Variable<T> w);

}  // namespace tg::nn::init
