#pragma once
// Normalisation as fused ops: layer_norm and training-mode batch_norm compute their value and
// first-order derivative in a few passes over the input (the compositions of mean, variance and
// affine ops they replace made some twenty); under create_graph the derivative is the same
// formula written with ops, so they differentiate twice.
#include "../core/variable.hpp"

namespace tg {

/// Layer normalisation over the trailing axes of x that weight's shape names, each row of them
/// normalised with its own mean and biased variance:
/// y = (x - mean) / sqrt(var + eps) * weight + bias;  x [..., *weight.shape()], bias weight's shape.
template <class T> Variable<T> layer_norm(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias, double eps = 1e-5);

/// The batch statistics batch_norm normalised with, per channel.
template <class T>
struct BatchStatistics {
  xt::xarray<T> mean;  // [C]
  xt::xarray<T> var;   // [C], biased (divided by the count)
};

/// Training-mode batch normalisation of x [N, C, ...] per channel C, over every other axis:
/// y = (x - mean) / sqrt(var + eps) * weight + bias with the batch's mean and biased variance,
/// which `statistics` receives when given (for running averages). weight and bias are [C], or
/// undefined for 1 and 0.
template <class T>
Variable<T> batch_norm(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias, double eps = 1e-5,
                       BatchStatistics<T>* statistics = nullptr);

}  // namespace tg
