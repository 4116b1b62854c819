// Initialisers: fans, gains, and the distributions they scale.
#include "init.hpp"

#include <cmath>
#include <random>
#include <string>

namespace tg::nn::init {

double calculate_gain(Nonlinearity nonlinearity, double negative_slope) {
  switch (nonlinearity) {
    case Nonlinearity::linear:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
    case Nonlinearity::selu: return 0.75;
  }
  throw Error("calculate_gain: unknown nonlinearity");
}

Fans compute_fans(const Shape& shape) {
  TG_CHECK(shape.size() >= 2, "init",
           "fan_in and fan_out need a weight of at least 2 dimensions [out, in, ...], got " + shape_str(shape));
  std::size_t receptive = 1;
  for (std::size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

namespace {

std::size_t fan(const char* op, const Shape& shape, FanMode mode) {
  const Fans f = compute_fans(shape);
  const std::size_t n = mode == FanMode::fan_in ? f.fan_in : f.fan_out;
  TG_CHECK(n > 0, op, "weight " + shape_str(shape) + " has a zero fan");
  return n;
}

template <class T, class Dist>
Variable<T> fill(Variable<T> w, Dist dist) {
  TG_CHECK(w.defined(), "init", "the variable is undefined");
  for (auto& x : w.mutable_value()) x = static_cast<T>(dist(generator()));
  return w;
}

}  // namespace

template <class T>
Variable<T> uniform_(Variable<T> w, double lo, double hi) {
  TG_CHECK(lo <= hi, "uniform_", "lo " + std::to_string(lo) + " is greater than hi " + std::to_string(hi));
  return fill(std::move(w), std::uniform_real_distribution<double>(lo, hi));
}

template <class T>
Variable<T> normal_(Variable<T> w, double mean, double std) {
  TG_CHECK(std >= 0, "normal_", "std must not be negative, got " + std::to_string(std));
  if (std == 0) return constant_(std::move(w), mean);
  return fill(std::move(w), std::normal_distribution<double>(mean, std));
}

template <class T>
Variable<T> constant_(Variable<T> w, double value) {
  TG_CHECK(w.defined(), "constant_", "the variable is undefined");
  for (auto& x : w.mutable_value()) x = static_cast<T>(value);
  return w;
}

template <class T>
Variable<T> zeros_(Variable<T> w) {
  return constant_(std::move(w), 0.0);
}

template <class T>
Variable<T> ones_(Variable<T> w) {
  return constant_(std::move(w), 1.0);
}

template <class T>
Variable<T> xavier_uniform_(Variable<T> w, double gain) {
  const Fans f = compute_fans(w.shape());
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  return uniform_(std::move(w), -bound, bound);
}

template <class T>
Variable<T> xavier_normal_(Variable<T> w, double gain) {
  const Fans f = compute_fans(w.shape());
  return normal_(std::move(w), 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)));
}

template <class T>
Variable<T> kaiming_uniform_(Variable<T> w, KaimingOptions options) {
  const double gain = calculate_gain(options.nonlinearity, options.a);
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fan("kaiming_uniform_", w.shape(), options.mode)));
  return uniform_(std::move(w), -bound, bound);
}

template <class T>
Variable<T> kaiming_normal_(Variable<T> w, KaimingOptions options) {
  const double gain = calculate_gain(options.nonlinearity, options.a);
  return normal_(std::move(w), 0.0, gain / std::sqrt(static_cast<double>(fan("kaiming_normal_", w.shape(), options.mode))));
}

template <class T>
Variable<T> lecun_normal_(Variable<T> w) {
  return normal_(std::move(w), 0.0, 1.0 / std::sqrt(static_cast<double>(fan("lecun_normal_", w.shape(), FanMode::fan_in))));
}

#define TG_INSTANTIATE(T)                                                 \
  template Variable<T> uniform_(Variable<T>, double, double);             \
  template Variable<T> normal_(Variable<T>, double, double);              \
  template Variable<T> constant_(Variable<T>, double);                    \
  template Variable<T> zeros_(Variable<T>);                               \
  template Variable<T> ones_(Variable<T>);                                \
  template Variable<T> xavier_uniform_(Variable<T>, double);              \
  template Variable<T> xavier_normal_(Variable<T>, double);               \
  template Variable<T> kaiming_uniform_(Variable<T>, KaimingOptions);     \
  template Variable<T> kaiming_normal_(Variable<T>, KaimingOptions);      \
  template Variable<T> lecun_normal_(Variable<T>);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg::nn::init
