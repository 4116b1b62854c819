// LayerNorm and BatchNorm1d: mean and variance with ops, so both differentiate twice.
#include "normalization.hpp"

#include <sstream>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/reduce.hpp"
#include "../autograd/ops/shape.hpp"

namespace tg::nn {

namespace {
/// (x - mean) / sqrt(var + eps) with the biased variance over axes.
template <class T>
Variable<T> standardize(const Variable<T>& x, const Axes& axes, double eps, Variable<T>* mean_out, Variable<T>* var_out) {
  Variable<T> mu = mean(x, axes, true);
  Variable<T> centred = x - mu;
  Variable<T> var = mean(centred * centred, axes, true);
  if (mean_out) *mean_out = mu;
  if (var_out) *var_out = var;
  return centred / sqrt(var + static_cast<T>(eps));
}

/// Batch normalisation of [N, C, ...] per channel C (BatchNorm1d and BatchNorm2d). In training,
/// the batch's mean and biased variance normalise, and the running statistics move towards the
/// batch mean and the *unbiased* batch variance (as PyTorch); in evaluation the running
/// statistics normalise instead.
template <class T>
Variable<T> batch_norm(const char* layer, const Variable<T>& x, bool training, const BatchNormOptions& options,
                       Variable<T>& running_mean, Variable<T>& running_var, const Variable<T>& weight, const Variable<T>& bias) {
  const std::size_t channels = x.shape()[1];
  Axes axes{0};
  std::vector<std::int64_t> stat_shape{1, static_cast<std::int64_t>(channels)};  // statistics broadcast as [1, C, 1...]
  for (std::size_t a = 2; a < x.dim(); ++a) {
    axes.push_back(static_cast<std::int64_t>(a));
    stat_shape.push_back(1);
  }
  Variable<T> y;
  if (training || !options.track_running_stats) {
    const std::size_t n = x.numel() / channels;
    TG_CHECK(!training || n > 1, layer, "training needs more than one value per channel, got input " + shape_str(x.shape()));
    Variable<T> batch_mean, batch_var;
    y = standardize(x, axes, options.eps, &batch_mean, &batch_var);
    if (training && options.track_running_stats) {
      // running statistics are bookkeeping, not part of the graph
      const T m = static_cast<T>(options.momentum);
      const T unbias = static_cast<T>(n) / static_cast<T>(n - 1);
      T* rm = running_mean.mutable_value().data();
      T* rv = running_var.mutable_value().data();
      const T* bm = batch_mean.value().data();
      const T* bv = batch_var.value().data();
      for (std::size_t i = 0; i < channels; ++i) {
        rm[i] = (T(1) - m) * rm[i] + m * bm[i];
        rv[i] = (T(1) - m) * rv[i] + m * bv[i] * unbias;
      }
    }
  } else {
    y = (x - reshape(running_mean, stat_shape)) / sqrt(reshape(running_var, stat_shape) + static_cast<T>(options.eps));
  }
  if (!weight.defined()) return y;
  return y * reshape(weight, stat_shape) + reshape(bias, stat_shape);
}

/// The checks both BatchNorm layers make on their settings.
void check_batch_norm(const char* layer, std::size_t num_features, const BatchNormOptions& options) {
  TG_CHECK(num_features > 0, layer, "num_features must be positive");
  TG_CHECK(options.eps > 0, layer, "eps must be positive, got " + number_str(options.eps));
  TG_CHECK(options.momentum >= 0 && options.momentum <= 1, layer, "momentum must be in [0, 1], got " + number_str(options.momentum));
}

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
  Axes axes;
  for (std::size_t i = 0; i < k; ++i) axes.push_back(-static_cast<std::int64_t>(i) - 1);
  Variable<T> y = standardize<T>(x, axes, options_.eps, nullptr, nullptr);
  return weight.defined() ? y * weight + bias : y;
}

template <class T>
std::string LayerNorm<T>::extra_repr() const {
  return shape_str(normalized_shape_) + ", eps=" + number_str(options_.eps) +
         ", elementwise_affine=" + (options_.elementwise_affine ? "true" : "false");
}

template <class T>
BatchNorm1d<T>::BatchNorm1d(std::size_t num_features, BatchNormOptions options)
    : num_features_(num_features), options_(options) {
  check_batch_norm("BatchNorm1d", num_features, options);
  if (options.affine) {
    weight = this->register_parameter("weight", ones<T>({num_features}));
    bias = this->register_parameter("bias", zeros<T>({num_features}));
  }
  if (options.track_running_stats) {
    running_mean = this->register_buffer("running_mean", zeros<T>({num_features}));
    running_var = this->register_buffer("running_var", ones<T>({num_features}));
  }
}

template <class T>
Variable<T> BatchNorm1d<T>::forward(const Variable<T>& x) {
  TG_CHECK((x.dim() == 2 || x.dim() == 3) && x.shape()[1] == num_features_, "BatchNorm1d",
           "input " + shape_str(x.shape()) + " must be [N, " + std::to_string(num_features_) + "] or [N, " +
               std::to_string(num_features_) + ", L]");
  return batch_norm("BatchNorm1d", x, this->is_training(), options_, running_mean, running_var, weight, bias);
}

template <class T>
std::string BatchNorm1d<T>::extra_repr() const {
  return std::to_string(num_features_) + ", eps=" + number_str(options_.eps) + ", momentum=" + number_str(options_.momentum) +
         ", affine=" + (options_.affine ? "true" : "false") +
         ", track_running_stats=" + (options_.track_running_stats ? "true" : "false");
}

template <class T>
BatchNorm2d<T>::BatchNorm2d(std::size_t num_features, BatchNormOptions options) : num_features_(num_features), options_(options) {
  check_batch_norm("BatchNorm2d", num_features, options);
  if (options.affine) {
    weight = this->register_parameter("weight", ones<T>({num_features}));
    bias = this->register_parameter("bias", zeros<T>({num_features}));
  }
  if (options.track_running_stats) {
    running_mean = this->register_buffer("running_mean", zeros<T>({num_features}));
    running_var = this->register_buffer("running_var", ones<T>({num_features}));
  }
}

template <class T>
Variable<T> BatchNorm2d<T>::forward(const Variable<T>& x) {
  TG_CHECK(x.dim() == 4 && x.shape()[1] == num_features_, "BatchNorm2d",
           "input " + shape_str(x.shape()) + " must be [N, " + std::to_string(num_features_) + ", H, W]");
  return batch_norm("BatchNorm2d", x, this->is_training(), options_, running_mean, running_var, weight, bias);
}

template <class T>
std::string BatchNorm2d<T>::extra_repr() const {
  return std::to_string(num_features_) + ", eps=" + number_str(options_.eps) + ", momentum=" + number_str(options_.momentum) +
         ", affine=" + (options_.affine ? "true" : "false") +
         ", track_running_stats=" + (options_.track_running_stats ? "true" : "false");
}

template class LayerNorm<float>;
template class LayerNorm<double>;
template class BatchNorm1d<float>;
template class BatchNorm1d<double>;
template class BatchNorm2d<float>;
template class BatchNorm2d<double>;

}  // namespace tg::nn
