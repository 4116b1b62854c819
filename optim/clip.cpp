// Gradient clipping by total norm and by value; the max-norm constraint on weights.
#include "clip.hpp"

#include <algorithm>
#include <cmath>

#include "optimizer.hpp"

namespace tg::optim {

namespace {
/// The gradient of p as an array safe to edit in place. A gradient shared with another
/// handle, or part of a recorded graph (create_graph), is first replaced by a private copy.
template <class T>
T* editable_grad(const Variable<T>& p) {
  Variable<T> param = p;
  if (const auto& g = p.grad(); g.use_count() != 1 || g.requires_grad())
    param.set_grad(Variable<T>(xt::xarray<T>(g.value())));
  Variable<T> g = param.grad();
  return g.mutable_value().data();
}
}  // namespace

template <class T>
double clip_grad_norm(const std::vector<Variable<T>>& params, double max_norm, double norm_type,
                      bool error_if_nonfinite) {
  detail::check_option(max_norm >= 0, "clip_grad_norm", "max_norm", max_norm, "must be >= 0");
  detail::check_option(norm_type > 0, "clip_grad_norm", "norm_type", norm_type, "must be > 0 or infinity");
  const bool inf = std::isinf(norm_type);
  double total = 0;  // accumulated in double whatever T is
  for (const auto& p : params) {
    TG_CHECK(p.defined(), "clip_grad_norm", "a parameter is undefined");
    if (!p.has_grad()) continue;
    const T* g = p.grad().value().data();
    for (std::size_t i = 0, n = p.numel(); i < n; ++i) {
      const double a = std::abs(static_cast<double>(g[i]));
      if (inf)
        total = (std::isnan(a) || a > total) ? a : total;  // max that keeps a NaN
      else if (norm_type == 2)
        total += a * a;
      else if (norm_type == 1)
        total += a;
      else
        total += std::pow(a, norm_type);
    }
  }
  if (!inf) total = norm_type == 2 ? std::sqrt(total) : norm_type == 1 ? total : std::pow(total, 1 / norm_type);
  TG_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm",
           "the total " + number_str(norm_type) + "-norm of the gradients is " + number_str(total));
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1 || std::isnan(coef)) {
    const T c = static_cast<T>(coef);
    for (const auto& p : params) {
      if (!p.has_grad()) continue;
      T* g = editable_grad(p);
      for (std::size_t i = 0, n = p.numel(); i < n; ++i) g[i] *= c;
    }
  }
  return total;
}

template <class T>
void clip_grad_value(const std::vector<Variable<T>>& params, double clip_value) {
  detail::check_option(clip_value >= 0, "clip_grad_value", "clip_value", clip_value, "must be >= 0");
  const T hi = static_cast<T>(clip_value), lo = -hi;
  for (const auto& p : params) {
    TG_CHECK(p.defined(), "clip_grad_value", "a parameter is undefined");
    if (!p.has_grad()) continue;
    T* g = editable_grad(p);
    for (std::size_t i = 0, n = p.numel(); i < n; ++i) g[i] = std::clamp(g[i], lo, hi);
  }
}

template <class T>
void max_norm_constraint(const std::vector<Variable<T>>& params, double max_norm, std::int64_t axis) {
  detail::check_option(max_norm >= 0, "max_norm_constraint", "max_norm", max_norm, "must be >= 0");
  std::vector<double> norms;
  for (std::size_t k = 0; k < params.size(); ++k) {
    Variable<T> p = params[k];
    TG_CHECK(p.defined(), "max_norm_constraint", "parameter " + std::to_string(k) + " is undefined");
    const Shape& shape = p.shape();
    const auto rank = static_cast<std::int64_t>(shape.size());
    TG_CHECK(axis >= -rank && axis < rank, "max_norm_constraint",
             "axis " + std::to_string(axis) + " is out of range for parameter " + std::to_string(k) + " of shape " +
                 shape_str(shape));
    const std::size_t ax = static_cast<std::size_t>(axis < 0 ? axis + rank : axis);
    // Viewed as [outer, slices, inner]; slice j is every (o, j, i).
    std::size_t outer = 1, inner = 1;
    for (std::size_t d = 0; d < ax; ++d) outer *= shape[d];
    for (std::size_t d = ax + 1; d < shape.size(); ++d) inner *= shape[d];
    const std::size_t slices = shape[ax];
    T* w = p.mutable_value().data();
    norms.assign(slices, 0);
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t j = 0; j < slices; ++j)
        for (std::size_t i = 0; i < inner; ++i) {
          const double x = w[(o * slices + j) * inner + i];
          norms[j] += x * x;
        }
    for (std::size_t j = 0; j < slices; ++j) {
      const double norm = std::sqrt(norms[j]);
      norms[j] = norm > max_norm ? max_norm / (norm + 1e-7) : 1;
    }
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t j = 0; j < slices; ++j) {
        if (norms[j] == 1) continue;
        const T c = static_cast<T>(norms[j]);
        for (std::size_t i = 0; i < inner; ++i) w[(o * slices + j) * inner + i] *= c;
      }
  }
}

#define TG_INSTANTIATE(T)                                                                         \
  template double clip_grad_norm(const std::vector<Variable<T>>&, double, double, bool);          \
  template void clip_grad_value(const std::vector<Variable<T>>&, double);                        \
  template void max_norm_constraint(const std::vector<Variable<T>>&, double, std::int64_t);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg::optim
