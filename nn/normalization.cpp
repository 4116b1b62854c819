// LayerNorm and BatchNorm1d/2d. LayerNorm is mean and variance with ops; training-mode batch norm is
// one fused op whose derivative is also written with ops, so all differentiate twice.
#include "normalization.hpp"

#include <cmath>
#include <memory>
#include <sstream>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/reduce.hpp"
#include "../autograd/ops/shape.hpp"
#include "../autograd/core/detail/parallel.hpp"

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

/// Layer normalisation with affine parameters as one op: every row of d values (the trailing
/// axes `axes`, d = weight.numel()) becomes (x - mean) / sqrt(var + eps) * weight + bias, with
/// the row's mean and biased variance. The composition of ops it replaces made nine passes
/// forward and some twenty backward over the input; this makes two each way. Without
/// create_graph its derivative is the fused kernel; with create_graph the same formula with
/// ops, so second order works (xhat = (x - mean) inv, gy = g weight):
///   dx = inv (gy - mean(gy) - xhat mean(gy xhat)),  dweight = sum(g xhat),  dbias = sum(g).
template <class T>
Variable<T> layer_norm_affine(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias, const Axes& axes,
                              double eps) {
  const std::size_t d = weight.numel(), rows = x.numel() / d;
  auto stats = std::make_shared<std::vector<T>>(2 * rows);  // per row: mean, 1 / sqrt(var + eps)
  xt::xarray<T> out = xt::empty<T>(x.shape());
  const T *px = x.value().data(), *pw = weight.value().data(), *pb = bias.value().data();
  T* po = out.data();
  T* ps = stats->data();
  detail::parallel_rows(rows, d, [&](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
      const T* xr = px + r * d;
      double sum = 0, squares = 0;  // in double: the variance of values far from 0 stays exact
#pragma omp simd reduction(+ : sum)
      for (std::size_t i = 0; i < d; ++i) sum += xr[i];
      const double mu = sum / static_cast<double>(d);
#pragma omp simd reduction(+ : squares)
      for (std::size_t i = 0; i < d; ++i) squares += (xr[i] - mu) * (xr[i] - mu);
      const T m = static_cast<T>(mu), inv = static_cast<T>(1 / std::sqrt(squares / static_cast<double>(d) + eps));
      ps[2 * r] = m;
      ps[2 * r + 1] = inv;
      T* yr = po + r * d;
#pragma omp simd
      for (std::size_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * inv * pw[i] + pb[i];
    }
  });
  return make_op<T>("layer_norm", std::move(out), {x, weight, bias}, [d, rows, axes, eps, stats](const GradContext<T>& c) -> Grads<T> {
    const Variable<T>& x = c.in[0];
    const Variable<T>& w = c.in[1];
    const Variable<T>& g = c.grad;
    if (is_grad_enabled()) {  // create_graph: the formula with ops
      Variable<T> centred = x - mean(x, axes, true);
      Variable<T> inv = reciprocal(sqrt(mean(centred * centred, axes, true) + static_cast<T>(eps)));
      Variable<T> xhat = centred * inv;
      Variable<T> gy = g * w;
      Variable<T> gx = c.needs(0) ? inv * (gy - mean(gy, axes, true) - xhat * mean(gy * xhat, axes, true)) : Variable<T>();
      Variable<T> gw = c.needs(1) ? sum_to(g * xhat, w.shape()) : Variable<T>();
      Variable<T> gb = c.needs(2) ? sum_to(g, c.in[2].shape()) : Variable<T>();
      return {gx, gw, gb};
    }
    const T *px = x.value().data(), *pw = w.value().data(), *pg = g.value().data(), *ps = stats->data();
    Grads<T> grads(3);
    if (c.needs(0)) {
      xt::xarray<T> gx = xt::empty<T>(x.shape());
      T* pgx = gx.data();
      detail::parallel_rows(rows, d, [&](std::size_t first, std::size_t last) {
        for (std::size_t r = first; r < last; ++r) {
          const T *xr = px + r * d, *gr = pg + r * d, m = ps[2 * r], inv = ps[2 * r + 1];
          T sum_gy = 0, sum_gyx = 0;
#pragma omp simd reduction(+ : sum_gy, sum_gyx)
          for (std::size_t i = 0; i < d; ++i) {
            const T gy = gr[i] * pw[i];
            sum_gy += gy;
            sum_gyx += gy * (xr[i] - m) * inv;
          }
          const T mean_gy = sum_gy / static_cast<T>(d), mean_gyx = sum_gyx / static_cast<T>(d);
          T* out = pgx + r * d;
#pragma omp simd
          for (std::size_t i = 0; i < d; ++i) out[i] = inv * (gr[i] * pw[i] - mean_gy - (xr[i] - m) * inv * mean_gyx);
        }
      });
      grads[0] = Variable<T>(std::move(gx));
    }
    if (c.needs(1) || c.needs(2)) {
      xt::xarray<T> gw = xt::zeros<T>(w.shape()), gb = xt::zeros<T>(w.shape());
      T *pgw = gw.data(), *pgb = gb.data();
      for (std::size_t r = 0; r < rows; ++r) {
        const T *xr = px + r * d, *gr = pg + r * d, m = ps[2 * r], inv = ps[2 * r + 1];
#pragma omp simd
        for (std::size_t i = 0; i < d; ++i) {
          pgw[i] += gr[i] * (xr[i] - m) * inv;
          pgb[i] += gr[i];
        }
      }
      if (c.needs(1)) grads[1] = Variable<T>(std::move(gw));
      if (c.needs(2)) grads[2] = Variable<T>(std::move(gb));
    }
    return grads;
  });
}

/// Per-channel layout of a [N, C, ...] tensor: N blocks of C planes of `plane` elements.
struct ChannelLayout {
  std::size_t batch, channels, plane;
  std::size_t count() const { return batch * plane; }  // values per channel
  template <class F>
  void for_each(std::size_t c, F f) const {  // f(offset of a run, run length) over channel c
    for (std::size_t n = 0; n < batch; ++n) f((n * channels + c) * plane, plane);
  }
};

/// The training-mode batch norm as one op: y = (x - mean) / sqrt(var + eps) * weight + bias with the
/// batch's per-channel mean and biased variance (returned through batch_mean / batch_var). The
/// composition of ops it replaces made some twenty passes over a [64,32,28,28] activation; this
/// makes three forward and three backward. Without create_graph its derivative is that fused
/// kernel; with create_graph it is the same formula written with ops, so second order works:
///   dx = weight inv_std (g - mean(g) - xhat mean(g xhat)),  dweight = sum(g xhat),  dbias = sum(g).
template <class T>
Variable<T> batch_norm_train(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias, double eps,
                             xt::xarray<T>& batch_mean, xt::xarray<T>& batch_var) {
  const Shape& shape = x.shape();
  ChannelLayout layout{shape[0], shape[1], 1};
  for (std::size_t a = 2; a < shape.size(); ++a) layout.plane *= shape[a];
  const std::size_t C = layout.channels;
  const auto M = static_cast<double>(layout.count());
  batch_mean = xt::empty<T>(Shape{C});
  batch_var = xt::empty<T>(Shape{C});
  auto inv_std = std::make_shared<xt::xarray<T>>(xt::empty<T>(Shape{C}));
  xt::xarray<T> out = xt::empty<T>(shape);
  const T* px = x.value().data();
  T* po = out.data();
  for (std::size_t c = 0; c < C; ++c) {
    double sum = 0, squares = 0;  // two passes in double: the variance of values far from 0 stays exact
    layout.for_each(c, [&](std::size_t o, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) sum += px[o + i];
    });
    const double mu = sum / M;
    layout.for_each(c, [&](std::size_t o, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) squares += (px[o + i] - mu) * (px[o + i] - mu);
    });
    const double var = squares / M, inv = 1 / std::sqrt(var + eps);
    batch_mean(c) = static_cast<T>(mu);
    batch_var(c) = static_cast<T>(var);
    (*inv_std)(c) = static_cast<T>(inv);
    const T scale = static_cast<T>(inv * weight.value()(c)), shift = static_cast<T>(bias.value()(c) - mu * inv * weight.value()(c));
    layout.for_each(c, [&](std::size_t o, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) po[o + i] = px[o + i] * scale + shift;
    });
  }
  auto mean_values = std::make_shared<xt::xarray<T>>(batch_mean);
  return make_op<T>("batch_norm", std::move(out), {x, weight, bias},
                    [layout, eps, inv_std, mean_values](const GradContext<T>& c) -> Grads<T> {
    const Variable<T>& x = c.in[0];
    const Variable<T>& w = c.in[1];
    const std::size_t C = layout.channels;
    const auto M = static_cast<double>(layout.count());
    if (is_grad_enabled()) {  // create_graph: the formula with ops
      Axes axes{0};
      std::vector<std::int64_t> stat{1, static_cast<std::int64_t>(C)};
      for (std::size_t a = 2; a < x.dim(); ++a) axes.push_back(static_cast<std::int64_t>(a)), stat.push_back(1);
      Variable<T> mu = mean(x, axes, true);
      Variable<T> centred = x - mu;
      Variable<T> inv = reciprocal(sqrt(mean(centred * centred, axes, true) + static_cast<T>(eps)));
      Variable<T> xhat = centred * inv;
      const Variable<T>& g = c.grad;
      Variable<T> gx = c.needs(0) ? reshape(w, stat) * inv * (g - mean(g, axes, true) - xhat * mean(g * xhat, axes, true)) : Variable<T>();
      Variable<T> gw = c.needs(1) ? sum(g * xhat, axes) : Variable<T>();
      Variable<T> gb = c.needs(2) ? sum(g, axes) : Variable<T>();
      return {gx, gw, gb};
    }
    const T* px = x.value().data();
    const T* pg = c.grad.value().data();
    xt::xarray<T> gx = xt::empty<T>(x.shape()), gw = xt::empty<T>(Shape{C}), gb = xt::empty<T>(Shape{C});
    T* pgx = gx.data();
    for (std::size_t ch = 0; ch < C; ++ch) {
      const T mu = (*mean_values)(ch), inv = (*inv_std)(ch);
      double sum_g = 0, sum_gx = 0;
      layout.for_each(ch, [&](std::size_t o, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
          sum_g += pg[o + i];
          sum_gx += pg[o + i] * (px[o + i] - mu) * inv;
        }
      });
      gw(ch) = static_cast<T>(sum_gx);
      gb(ch) = static_cast<T>(sum_g);
      const T k = w.value()(ch) * inv, mean_g = static_cast<T>(sum_g / M), mean_gx = static_cast<T>(sum_gx / M);
      layout.for_each(ch, [&](std::size_t o, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) pgx[o + i] = k * (pg[o + i] - mean_g - (px[o + i] - mu) * inv * mean_gx);
      });
    }
    return {c.needs(0) ? Variable<T>(std::move(gx)) : Variable<T>(), c.needs(1) ? Variable<T>(std::move(gw)) : Variable<T>(),
            c.needs(2) ? Variable<T>(std::move(gb)) : Variable<T>()};
  });
}

/// Batch normalisation of [N, C, ...] per channel C (BatchNorm1d and BatchNorm2d). In training,
/// the batch's mean and biased variance normalise, and the running statistics move towards the
/// batch mean and the *unbiased* batch variance (as PyTorch); in evaluation the running
/// statistics normalise instead.
template <class T>
Variable<T> batch_norm(const char* layer, const Variable<T>& x, bool training, const BatchNormOptions& options,
                       Variable<T>& running_mean, Variable<T>& running_var, const Variable<T>& weight, const Variable<T>& bias) {
  const std::size_t channels = x.shape()[1];
  std::vector<std::int64_t> stat_shape{1, static_cast<std::int64_t>(channels)};  // statistics broadcast as [1, C, 1...]
  for (std::size_t a = 2; a < x.dim(); ++a) stat_shape.push_back(1);
  const std::size_t n = x.numel() / channels;
  if (training || !options.track_running_stats) {
    TG_CHECK(!training || n > 1, layer, "training needs more than one value per channel, got input " + shape_str(x.shape()));
    // without affine parameters: weight 1 and bias 0, constants to the tape
    const Variable<T> w = weight.defined() ? weight : ones<T>({channels});
    const Variable<T> b = bias.defined() ? bias : zeros<T>({channels});
    xt::xarray<T> batch_mean, batch_var;
    Variable<T> y = batch_norm_train(x, w, b, options.eps, batch_mean, batch_var);
    if (training && options.track_running_stats) {
      // running statistics are bookkeeping, not part of the graph
      const T m = static_cast<T>(options.momentum);
      const T unbias = static_cast<T>(n) / static_cast<T>(n - 1);
      T* rm = running_mean.mutable_value().data();
      T* rv = running_var.mutable_value().data();
      for (std::size_t i = 0; i < channels; ++i) {
        rm[i] = (T(1) - m) * rm[i] + m * batch_mean(i);
        rv[i] = (T(1) - m) * rv[i] + m * batch_var(i) * unbias;
      }
    }
    return y;
  }
  Variable<T> y = (x - reshape(running_mean, stat_shape)) / sqrt(reshape(running_var, stat_shape) + static_cast<T>(options.eps));
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
  if (weight.defined() && bias.defined() && x.numel() > 0) return layer_norm_affine(x, weight, bias, axes, options_.eps);
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
