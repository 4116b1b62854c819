// layer_norm and batch_norm: value and first-order derivative as loops over rows (layer) or
// channels (batch); the derivative under create_graph as the same formula with ops.
#include "normalization.hpp"

#include <cmath>
#include <memory>
#include <vector>

#include "../core/detail/parallel.hpp"
#include "elementwise.hpp"
#include "fused.hpp"
#include "reduce.hpp"
#include "shape.hpp"
#include "instantiate.hpp"

namespace tg {

namespace {

// The pointwise part of both ops' input gradient, written once for numbers (the loops) and for
// Variables (the ops form, where the means are reductions kept as size-1 axes).

/// The standardised input xhat = (x - mean) inv, inv = 1 / sqrt(var + eps).
template <class V>
inline V standardized(const V& x, const V& mean, const V& inv) {
  return (x - mean) * inv;
}

/// dx = scale (gy - mean(gy) - xhat mean(gy xhat)) for gy, the gradient at xhat (g weight for
/// layer_norm, whose scale is inv; g for batch_norm, whose scale is weight inv).
template <class V>
inline V normalized_input_grad(const V& scale, const V& gy, const V& mean_gy, const V& xhat, const V& mean_gy_xhat) {
  return scale * (gy - mean_gy - xhat * mean_gy_xhat);
}

/// What layer_norm's derivative reads: rows of d values, normalised over `axes`, and each row's
/// mean and 1 / sqrt(var + eps) from the forward pass.
template <class T>
struct LayerRows {
  std::size_t d, rows;
  Axes axes;
  double eps;
  std::shared_ptr<const std::vector<T>> stats;  // per row: mean, 1 / sqrt(var + eps)
};

/// dx = inv (gy - mean(gy) - xhat mean(gy xhat)),  dweight = sum(g xhat),  dbias = sum(g),
/// with gy = g weight, in ops.
template <class T>
Grads<T> layer_norm_grads_in_ops(const GradContext<T>& c, const LayerRows<T>& s) {
  const Variable<T>&x = c.in[0], &w = c.in[1], &g = c.grad;
  Variable<T> mu = mean(x, s.axes, true), centred = x - mu;
  Variable<T> inv = reciprocal(sqrt(mean(centred * centred, s.axes, true) + static_cast<T>(s.eps)));
  Variable<T> xhat = standardized(x, mu, inv);
  Variable<T> gy = g * w;
  Variable<T> gx = c.needs(0) ? normalized_input_grad(inv, gy, mean(gy, s.axes, true), xhat, mean(gy * xhat, s.axes, true)) : Variable<T>();
  Variable<T> gw = c.needs(1) ? sum_to(g * xhat, w.shape()) : Variable<T>();
  Variable<T> gb = c.needs(2) ? sum_to(g, c.in[2].shape()) : Variable<T>();
  return {gx, gw, gb};
}

/// The same formula as loops, with the saved statistics.
template <class T>
Grads<T> layer_norm_grads_raw(const GradContext<T>& c, const LayerRows<T>& s) {
  const std::size_t d = s.d;
  const T *px = c.in[0].value().data(), *pw = c.in[1].value().data(), *pg = c.grad.value().data(), *ps = s.stats->data();
  Grads<T> grads(3);
  if (c.needs(0)) {
    xt::xarray<T> gx = xt::empty<T>(c.in[0].shape());
    T* pgx = gx.data();
    detail::parallel_rows(s.rows, d, [&](std::size_t first, std::size_t last) {
      for (std::size_t r = first; r < last; ++r) {
        const T *xr = px + r * d, *gr = pg + r * d, m = ps[2 * r], inv = ps[2 * r + 1];
        T sum_gy = 0, sum_gyx = 0;
#pragma omp simd reduction(+ : sum_gy, sum_gyx)
        for (std::size_t i = 0; i < d; ++i) {
          const T gy = gr[i] * pw[i];
          sum_gy += gy;
          sum_gyx += gy * standardized(xr[i], m, inv);
        }
        const T mean_gy = sum_gy / static_cast<T>(d), mean_gyx = sum_gyx / static_cast<T>(d);
        T* out = pgx + r * d;
#pragma omp simd
        for (std::size_t i = 0; i < d; ++i) out[i] = normalized_input_grad(inv, gr[i] * pw[i], mean_gy, standardized(xr[i], m, inv), mean_gyx);
      }
    });
    grads[0] = Variable<T>(std::move(gx));
  }
  if (c.needs(1) || c.needs(2)) {
    xt::xarray<T> gw = xt::zeros<T>(c.in[1].shape()), gb = xt::zeros<T>(c.in[1].shape());
    T *pgw = gw.data(), *pgb = gb.data();
    for (std::size_t r = 0; r < s.rows; ++r) {
      const T *xr = px + r * d, *gr = pg + r * d, m = ps[2 * r], inv = ps[2 * r + 1];
#pragma omp simd
      for (std::size_t i = 0; i < d; ++i) {
        pgw[i] += gr[i] * standardized(xr[i], m, inv);
        pgb[i] += gr[i];
      }
    }
    if (c.needs(1)) grads[1] = Variable<T>(std::move(gw));
    if (c.needs(2)) grads[2] = Variable<T>(std::move(gb));
  }
  return grads;
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

/// What batch_norm's derivative reads: the layout and each channel's mean and 1 / sqrt(var + eps).
template <class T>
struct BatchChannels {
  ChannelLayout layout;
  double eps;
  std::shared_ptr<const xt::xarray<T>> mean, inv_std;
};

/// dx = weight inv_std (g - mean(g) - xhat mean(g xhat)),  dweight = sum(g xhat),  dbias = sum(g), in ops.
template <class T>
Grads<T> batch_norm_grads_in_ops(const GradContext<T>& c, const BatchChannels<T>& s) {
  const Variable<T>&x = c.in[0], &w = c.in[1], &g = c.grad;
  Axes axes{0};
  std::vector<std::int64_t> stat{1, static_cast<std::int64_t>(s.layout.channels)};
  for (std::size_t a = 2; a < x.dim(); ++a) axes.push_back(static_cast<std::int64_t>(a)), stat.push_back(1);
  Variable<T> mu = mean(x, axes, true), centred = x - mu;
  Variable<T> inv = reciprocal(sqrt(mean(centred * centred, axes, true) + static_cast<T>(s.eps)));
  Variable<T> xhat = standardized(x, mu, inv);
  Variable<T> gx = c.needs(0) ? normalized_input_grad(reshape(w, stat) * inv, g, mean(g, axes, true), xhat, mean(g * xhat, axes, true)) : Variable<T>();
  Variable<T> gw = c.needs(1) ? sum(g * xhat, axes) : Variable<T>();
  Variable<T> gb = c.needs(2) ? sum(g, axes) : Variable<T>();
  return {gx, gw, gb};
}

/// The same formula as two passes per channel, with the saved statistics.
template <class T>
Grads<T> batch_norm_grads_raw(const GradContext<T>& c, const BatchChannels<T>& s) {
  const ChannelLayout& layout = s.layout;
  const std::size_t C = layout.channels;
  const auto M = static_cast<double>(layout.count());
  const T* px = c.in[0].value().data();
  const T* pg = c.grad.value().data();
  xt::xarray<T> gx = xt::empty<T>(c.in[0].shape()), gw = xt::empty<T>(Shape{C}), gb = xt::empty<T>(Shape{C});
  T* pgx = gx.data();
  for (std::size_t ch = 0; ch < C; ++ch) {
    const T mu = (*s.mean)(ch), inv = (*s.inv_std)(ch);
    double sum_g = 0, sum_gx = 0;
    layout.for_each(ch, [&](std::size_t o, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        sum_g += pg[o + i];
        sum_gx += pg[o + i] * standardized(px[o + i], mu, inv);
      }
    });
    gw(ch) = static_cast<T>(sum_gx);
    gb(ch) = static_cast<T>(sum_g);
    const T k = c.in[1].value()(ch) * inv, mean_g = static_cast<T>(sum_g / M), mean_gx = static_cast<T>(sum_gx / M);
    layout.for_each(ch, [&](std::size_t o, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) pgx[o + i] = normalized_input_grad(k, pg[o + i], mean_g, standardized(px[o + i], mu, inv), mean_gx);
    });
  }
  return {c.needs(0) ? Variable<T>(std::move(gx)) : Variable<T>(), c.needs(1) ? Variable<T>(std::move(gw)) : Variable<T>(),
          c.needs(2) ? Variable<T>(std::move(gb)) : Variable<T>()};
}

}  // namespace

template <class T>
Variable<T> layer_norm(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias, double eps) {
  const Shape &xs = x.shape(), &ws = weight.shape();
  const std::string shapes = "input " + shape_str(xs) + ", weight " + shape_str(ws) + ", bias " + shape_str(bias.shape());
  TG_CHECK(weight.dim() >= 1 && weight.numel() > 0, "layer_norm", shapes + ": the weight must have at least one axis and no empty one");
  bool ends_in_weight = x.dim() >= weight.dim();
  for (std::size_t i = 0; ends_in_weight && i < weight.dim(); ++i) ends_in_weight = xs[x.dim() - weight.dim() + i] == ws[i];
  TG_CHECK(ends_in_weight, "layer_norm", shapes + ": the input must end in the weight's shape");
  TG_CHECK(bias.shape() == ws, "layer_norm", shapes + ": the bias must have the weight's shape");
  TG_CHECK(eps > 0, "layer_norm", shapes + ": eps must be positive, got " + number_str(eps));
  Axes axes;
  for (std::size_t i = 0; i < weight.dim(); ++i) axes.push_back(-static_cast<std::int64_t>(i) - 1);
  const std::size_t d = weight.numel(), rows = x.numel() / d;
  auto stats = std::make_shared<std::vector<T>>(2 * rows);
  xt::xarray<T> out = xt::empty<T>(xs);
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
      for (std::size_t i = 0; i < d; ++i) yr[i] = standardized(xr[i], m, inv) * pw[i] + pb[i];
    }
  });
  return detail::make_fused_op<T>("layer_norm", std::move(out), {x, weight, bias},
                                  LayerRows<T>{d, rows, std::move(axes), eps, std::move(stats)}, layer_norm_grads_in_ops<T>,
                                  layer_norm_grads_raw<T>);
}

template <class T>
Variable<T> batch_norm(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias, double eps,
                       BatchStatistics<T>* statistics) {
  const Shape& shape = x.shape();
  const std::string shapes = "input " + shape_str(shape) + ", weight " + (weight.defined() ? shape_str(weight.shape()) : "none") +
                             ", bias " + (bias.defined() ? shape_str(bias.shape()) : "none");
  TG_CHECK(x.dim() >= 2, "batch_norm", shapes + ": the input must be [N, C, ...]");
  ChannelLayout layout{shape[0], shape[1], 1};
  for (std::size_t a = 2; a < shape.size(); ++a) layout.plane *= shape[a];
  const std::size_t C = layout.channels;
  TG_CHECK(layout.count() > 0, "batch_norm", shapes + ": every channel needs at least one value");
  for (const Variable<T>* p : {&weight, &bias})
    TG_CHECK(!p->defined() || p->shape() == Shape{C}, "batch_norm", shapes + ": weight and bias must be [" + std::to_string(C) + "]");
  TG_CHECK(eps > 0, "batch_norm", shapes + ": eps must be positive, got " + number_str(eps));
  // without affine parameters: weight 1 and bias 0, constants to the tape
  const Variable<T> w = weight.defined() ? weight : ones<T>({C});
  const Variable<T> b = bias.defined() ? bias : zeros<T>({C});
  const auto M = static_cast<double>(layout.count());
  auto batch_mean = std::make_shared<xt::xarray<T>>(xt::empty<T>(Shape{C}));
  auto inv_std = std::make_shared<xt::xarray<T>>(xt::empty<T>(Shape{C}));
  xt::xarray<T> batch_var = xt::empty<T>(Shape{C});
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
    (*batch_mean)(c) = static_cast<T>(mu);
    batch_var(c) = static_cast<T>(var);
    (*inv_std)(c) = static_cast<T>(inv);
    const T scale = static_cast<T>(inv * w.value()(c)), shift = static_cast<T>(b.value()(c) - mu * inv * w.value()(c));
    layout.for_each(c, [&](std::size_t o, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) po[o + i] = px[o + i] * scale + shift;
    });
  }
  if (statistics) *statistics = {*batch_mean, std::move(batch_var)};
  return detail::make_fused_op<T>("batch_norm", std::move(out), {x, w, b}, BatchChannels<T>{layout, eps, batch_mean, inv_std},
                                  batch_norm_grads_in_ops<T>, batch_norm_grads_raw<T>);
}

TG_INSTANTIATE_OPS(layer_norm, batch_norm)

}  // namespace tg
