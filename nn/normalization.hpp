#pragma once
// LayerNorm, BatchNorm1d and BatchNorm2d over the ops layer_norm and batch_norm (autograd/ops/normalization.hpp).
#include <cstddef>

#include "module.hpp"

namespace tg::nn {

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // learnable weight (init 1) and bias (init 0) of normalized_shape
};

/// y = (x - mean) / sqrt(var + eps) * weight + bias, with mean and (biased) var taken over the
/// trailing axes that match normalized_shape; x is [..., *normalized_shape].
template <class T = float>
class LayerNorm : public Module<T> {
 public:
  explicit LayerNorm(Shape normalized_shape, LayerNormOptions options = {});
  explicit LayerNorm(std::size_t normalized_size, LayerNormOptions options = {})
      : LayerNorm(Shape{normalized_size}, options) {}
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;

  Variable<T> weight;  // undefined without elementwise_affine
  Variable<T> bias;

 private:
  Shape normalized_shape_;
  LayerNormOptions options_;
};

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;            // running = (1 - momentum) running + momentum batch
  bool affine = true;               // learnable weight (init 1) and bias (init 0) per feature
  bool track_running_stats = true;  // keep running_mean / running_var buffers for eval()
};

/// Batch normalisation per channel C of [N, C, ...] over the other axes: BatchNormNd<T, 1> takes
/// [N, C] or [N, C, L] (BatchNorm1d), BatchNormNd<T, 2> [N, C, H, W] (BatchNorm2d). In training, the batch's
/// mean and biased variance normalise, and the running statistics (buffers running_mean,
/// init 0, and running_var, init 1) move towards the batch mean and the *unbiased* batch
/// variance (as PyTorch). In eval() the running statistics normalise instead.
template <class T, std::size_t N>
class BatchNormNd : public Module<T> {
 public:
  explicit BatchNormNd(std::size_t num_features, BatchNormOptions options = {});
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;

  Variable<T> weight;  // undefined without affine
  Variable<T> bias;
  Variable<T> running_mean;  // undefined without track_running_stats
  Variable<T> running_var;

 private:
  std::size_t num_features_;
  BatchNormOptions options_;
};

/// Batch normalisation over [N, C] or [N, C, L], per feature C.
template <class T = float>
class BatchNorm1d : public BatchNormNd<T, 1> {
 public:
  explicit BatchNorm1d(std::size_t num_features, BatchNormOptions options = {}) : BatchNormNd<T, 1>(num_features, options) {}
};

/// Batch normalisation of [N, C, H, W] per channel C, over N, H and W, as PyTorch's BatchNorm2d.
template <class T = float>
class BatchNorm2d : public BatchNormNd<T, 2> {
 public:
  explicit BatchNorm2d(std::size_t num_features, BatchNormOptions options = {}) : BatchNormNd<T, 2>(num_features, options) {}
};

extern template class LayerNorm<float>;
extern template class LayerNorm<double>;
extern template class BatchNormNd<float, 1>;
extern template class BatchNormNd<double, 1>;
extern template class BatchNormNd<float, 2>;
extern template class BatchNormNd<double, 2>;

}  // namespace tg::nn
