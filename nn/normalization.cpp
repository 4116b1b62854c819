// LayerNorm and BatchNorm1d/2d over the fused ops layer_norm and batch_norm; without affine
// parameters LayerNorm, and in evaluation BatchNorm, are compositions of ops.
#include "normalization.hpp"

#include <cmath>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/normalization.hpp"
#include "../autograd/ops/reduce.hpp"
#include "../autograd/ops/shape.hpp"

namespace tg::nn {

namespace {

/// (x - mean) / sqrt(var + eps) with the biased variance over axes.
template <class T>
Variable<T> standardize(const Variable<T>& x, const Axes& axes, double eps) {
  Variable<T> centred = x - mean(x, axes, true);
  Variable<T> var = mean(centred * centred, axes, true);
  return centred / sqrt(var + static_cast<T>(eps));
}

const char* batch_norm_layer(std::size_t spatial) { return spatial == 1 ? "BatchNorm1d" : "BatchNorm2d"; }

}  // namespace

template <class T>
LayerNorm<T>::LayerNorm(Shape normalized_shape, LayerNormOptions options)
    : normalized_shape_(std::move(normalized_shape)), options_(options) {
  TG_CHECK(!normalized_shape_.empty(), "LayerNorm", "normalized_shape is empty");
  for (auto d : normalized_shape_)
    TG_CHECK(d > 0, "LayerNorm", "normalized_shape " + shape_str(normalized_shape_) + " has an empty axis");
  TG_CHECK(options.eps > 0, "LayerNorm", "eps must be positive, got " + number_str(options.eps));
  if (options.elementwise_affine) {
    weight = this->register_parameter("weight", ones<T>(normalized_shape_));
    bias = this->register_parameter("bias", zeros<T>(normalized_shape_));
  }
}

template <class T>
Variable<T> LayerNorm<T>::forward(const Variable<T>& x) {
  const std::size_t k = normalized_shape_.size();
  bool matches = x.dim() >= k;
  for (std::size_t i = 0; matches && i < k; ++i) matches = x.shape()[x.dim() - k + i] == normalized_shape_[i];
  TG_CHECK(matches, "LayerNorm",
           "input " + shape_str(x.shape()) + " must end in normalized_shape " + shape_str(normalized_shape_));
  if (weight.defined() && bias.defined() && x.numel() > 0) return layer_norm(x, weight, bias, options_.eps);
  Axes axes;
  for (std::size_t i = 0; i < k; ++i) axes.push_back(-static_cast<std::int64_t>(i) - 1);
  Variable<T> y = standardize<T>(x, axes, options_.eps);
  return weight.defined() ? y * weight + bias : y;
}

template <class T>
std::string LayerNorm<T>::extra_repr() const {
  return shape_str(normalized_shape_) + ", eps=" + number_str(options_.eps) +
         ", elementwise_affine=" + (options_.elementwise_affine ? "true" : "false");
}

template <class T, std::size_t N>
BatchNormNd<T, N>::BatchNormNd(std::size_t num_features, BatchNormOptions options) : num_features_(num_features), options_(options) {
  const char* layer = batch_norm_layer(N);
  TG_CHECK(num_features > 0, layer, "num_features must be positive");
  TG_CHECK(options.eps > 0, layer, "eps must be positive, got " + number_str(options.eps));
  TG_CHECK(options.momentum >= 0 && options.momentum <= 1, layer, "momentum must be in [0, 1], got " + number_str(options.momentum));
  if (options.affine) {
    weight = this->register_parameter("weight", ones<T>({num_features}));
    bias = this->register_parameter("bias", zeros<T>({num_features}));
  }
  if (options.track_running_stats) {
    running_mean = this->register_buffer("running_mean", zeros<T>({num_features}));
    running_var = this->register_buffer("running_var", ones<T>({num_features}));
  }
}

/// In training (or without running statistics) the batch's statistics normalise, through the
/// op batch_norm, and the running ones move towards them; in evaluation the running ones do.
template <class T, std::size_t N>
Variable<T> BatchNormNd<T, N>::forward(const Variable<T>& x) {
  const char* layer = batch_norm_layer(N);
  const std::string C = std::to_string(num_features_);
  if constexpr (N == 1)
    TG_CHECK((x.dim() == 2 || x.dim() == 3) && x.shape()[1] == num_features_, layer,
             "input " + shape_str(x.shape()) + " must be [N, " + C + "] or [N, " + C + ", L]");
  else
    TG_CHECK(x.dim() == 4 && x.shape()[1] == num_features_, layer, "input " + shape_str(x.shape()) + " must be [N, " + C + ", H, W]");
  const bool training = this->is_training();
  const std::size_t n = x.numel() / num_features_;  // values per channel
  if (training || !options_.track_running_stats) {
    TG_CHECK(!training || n > 1, layer, "training needs more than one value per channel, got input " + shape_str(x.shape()));
    BatchStatistics<T> batch;
    Variable<T> y = batch_norm(x, weight, bias, options_.eps, &batch);
    if (training && options_.track_running_stats) {
      // running statistics are bookkeeping, not part of the graph
      const T m = static_cast<T>(options_.momentum);
      const T unbias = static_cast<T>(n) / static_cast<T>(n - 1);
      T* rm = running_mean.mutable_value().data();
      T* rv = running_var.mutable_value().data();
      for (std::size_t i = 0; i < num_features_; ++i) {
        rm[i] = (T(1) - m) * rm[i] + m * batch.mean(i);
        rv[i] = (T(1) - m) * rv[i] + m * batch.var(i) * unbias;
      }
    }
    return y;
  }
  std::vector<std::int64_t> stat_shape{1, static_cast<std::int64_t>(num_features_)};  // statistics broadcast as [1, C, 1...]
  for (std::size_t a = 2; a < x.dim(); ++a) stat_shape.push_back(1);
  Variable<T> y = (x - reshape(running_mean, stat_shape)) / sqrt(reshape(running_var, stat_shape) + static_cast<T>(options_.eps));
  if (!weight.defined()) return y;
  return y * reshape(weight, stat_shape) + reshape(bias, stat_shape);
}

template <class T, std::size_t N>
std::string BatchNormNd<T, N>::extra_repr() const {
  return std::to_string(num_features_) + ", eps=" + number_str(options_.eps) + ", momentum=" + number_str(options_.momentum) +
         ", affine=" + (options_.affine ? "true" : "false") +
         ", track_running_stats=" + (options_.track_running_stats ? "true" : "false");
}

template class LayerNorm<float>;
template class LayerNorm<double>;
template class BatchNormNd<float, 1>;
template class BatchNormNd<double, 1>;
template class BatchNormNd<float, 2>;
template class BatchNormNd<double, 2>;

}  // namespace tg::nn
