// Inference by projected gradient descent on an energy (W fixed; gradients from tg::grad).
#include "inference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "../../autograd/ops/elementwise.hpp"
#include "../../autograd/ops/reduce.hpp"
#include "../../autograd/ops/select.hpp"
#include "../../autograd/ops/shape.hpp"

namespace tg::energy {

namespace {

/// A variable seen as `rows` samples of `cols` numbers each (rows = 1 for a single 0-d energy).
struct Rows {
  std::size_t rows = 1, cols = 0;
};

template <class T>
Rows rows_of(const xt::xarray<T>& v, bool batched) {
  if (!batched) return {1, v.size()};
  return {v.shape()[0], v.shape()[0] == 0 ? 0 : v.size() / v.shape()[0]};
}

/// Projects onto the box [lower, upper].
template <class T>
void project_box(xt::xarray<T>& v, const MinimizeOptions& o) {
  const T lo = o.lower ? T(*o.lower) : -std::numeric_limits<T>::infinity();
  const T hi = o.upper ? T(*o.upper) : std::numeric_limits<T>::infinity();
  for (auto& x : v) x = std::min(std::max(x, lo), hi);
}

/// Pushes each row of v that lies within radius of the center's row out to the sphere, along
/// the ray from the center (or along the diagonal if it sits exactly on it). When the box
/// clips that point back inside, the opposite side of the sphere is tried.
template <class T>
void project_sphere(xt::xarray<T>& v, const xt::xarray<T>& center, Rows r, const MinimizeOptions& o) {
  const double radius = o.forbidden_radius;
  const T lo = o.lower ? T(*o.lower) : -std::numeric_limits<T>::infinity();
  const T hi = o.upper ? T(*o.upper) : std::numeric_limits<T>::infinity();
  auto distance = [&](const T* x, const T* c) {
    double d2 = 0;
    for (std::size_t j = 0; j < r.cols; ++j) d2 += double(x[j] - c[j]) * double(x[j] - c[j]);
    return std::sqrt(d2);
  };
  for (std::size_t i = 0; i < r.rows; ++i) {
    T* x = v.data() + i * r.cols;
    const T* c = center.data() + i * r.cols;
    const double d = distance(x, c);
    if (d >= radius) continue;
    std::vector<double> dir(r.cols);
    for (std::size_t j = 0; j < r.cols; ++j)
      dir[j] = d > 0 ? double(x[j] - c[j]) / d : 1.0 / std::sqrt(double(r.cols));
    for (double side : {1.0, -1.0}) {
      for (std::size_t j = 0; j < r.cols; ++j)
        x[j] = std::min(std::max(T(double(c[j]) + side * radius * dir[j]), lo), hi);
      if (distance(x, c) >= radius * (1 - 1e-6)) break;
    }
  }
}

}  // namespace

template <class T>
Minimum<T> minimize_energy(const EnergyFunction<T>& energy, const std::vector<std::vector<Variable<T>>>& starts,
                           const MinimizeOptions& options, const Variable<T>& forbidden_center) {
  const char* op = "minimize_energy";
  TG_CHECK(static_cast<bool>(energy), op, "the energy function is empty");
  TG_CHECK(!starts.empty() && !starts[0].empty(), op, "needs at least one starting point with at least one variable");
  TG_CHECK(options.step_size > 0, op, "step_size must be positive, got " + number_str(options.step_size));
  TG_CHECK(options.forbidden_radius >= 0, op, "forbidden_radius must be >= 0, got " + number_str(options.forbidden_radius));
  TG_CHECK(!(options.lower && options.upper) || *options.lower <= *options.upper, op,
           "lower " + number_str(options.lower.value_or(0)) + " is above upper " + number_str(options.upper.value_or(0)));
  const std::size_t n = starts[0].size();
  for (std::size_t s = 0; s < starts.size(); ++s) {
    TG_CHECK(starts[s].size() == n, op,
             "starting point " + std::to_string(s) + " has " + std::to_string(starts[s].size()) + " variables, the first has " +
                 std::to_string(n));
    for (std::size_t j = 0; j < n; ++j) {
      TG_CHECK(starts[s][j].defined(), op, "variable " + std::to_string(j) + " of starting point " + std::to_string(s) + " is undefined");
      TG_CHECK(starts[s][j].shape() == starts[0][j].shape(), op,
               "variable " + std::to_string(j) + " is " + shape_str(starts[s][j].shape()) + " in starting point " +
                   std::to_string(s) + " but " + shape_str(starts[0][j].shape()) + " in the first");
    }
  }
  const bool sphere = forbidden_center.defined() && options.forbidden_radius > 0;
  if (forbidden_center.defined())
    TG_CHECK(forbidden_center.shape() == starts[0][0].shape(), op,
             "the forbidden center " + shape_str(forbidden_center.shape()) + " must have variable 0's shape " +
                 shape_str(starts[0][0].shape()));

  // The energies' shape says whether axis 0 of every variable is a batch of independent problems.
  bool batched = false;
  std::size_t batch = 1;
  auto check_energy = [&](const Variable<T>& e) {
    TG_CHECK(e.defined(), op, "the energy function returned an undefined variable");
    if (e.dim() == 0) return;
    TG_CHECK(e.dim() == 1, op, "the energy must be 0-d or per-sample [batch], got " + shape_str(e.shape()));
    for (std::size_t j = 0; j < n; ++j)
      TG_CHECK(starts[0][j].dim() >= 1 && starts[0][j].shape()[0] == e.shape()[0], op,
               "per-sample energies " + shape_str(e.shape()) + " need variables whose axis 0 is the batch; variable " +
                   std::to_string(j) + " is " + shape_str(starts[0][j].shape()));
    batched = true;
    batch = e.shape()[0];
  };

  auto project = [&](std::vector<Variable<T>>& v) {
    for (auto& x : v) project_box(x.mutable_value(), options);
    if (sphere)
      project_sphere(v[0].mutable_value(), forbidden_center.value(), rows_of(v[0].value(), batched), options);
  };

  // The best point seen so far, per sample, over every step of every start: descent with a
  // step too long for a steep energy can climb, and the search then still returns the best
  // point it visited, never one worse than its (projected) start.
  Minimum<T> best;
  xt::xarray<T> best_energy;
  auto keep_better = [&](const std::vector<Variable<T>>& v, const Variable<T>& e) {
    if (best.values.empty()) {
      for (auto& x : v) best.values.push_back(x.detach());
      best_energy = e.value();
      return;
    }
    for (std::size_t i = 0; i < batch; ++i) {
      const T candidate = e.value().data()[i];
      if (!(candidate < best_energy.data()[i])) continue;
      best_energy.data()[i] = candidate;
      for (std::size_t j = 0; j < n; ++j) {
        const Rows r = rows_of(v[j].value(), batched);
        std::copy_n(v[j].value().data() + i * r.cols, r.cols, best.values[j].mutable_value().data() + i * r.cols);
      }
    }
  };

  for (std::size_t s = 0; s < starts.size(); ++s) {
    // Fresh leaves that alone require grad here: the gradient we ask for is dE/dv only, and
    // tg::grad hands it back without accumulating into any .grad(), W's included.
    std::vector<Variable<T>> v;
    for (const auto& x : starts[s]) v.emplace_back(xt::xarray<T>(x.value()), true);
    if (s == 0) {
      NoGradGuard no_grad;
      check_energy(energy(v));
    }
    project(v);
    for (std::size_t step = 0; step <= options.steps; ++step) {
      EnableGradGuard with_grad;  // inference may be called from evaluation code under NoGradGuard
      const Variable<T> e = energy(v);
      check_energy(e);
      keep_better(v, e);
      if (step == options.steps) break;
      GradOptions only_these;
      only_these.allow_unused = true;  // an energy may ignore a variable: its step is then zero
      const auto g = grad({sum(e)}, v, {}, only_these);
      for (std::size_t j = 0; j < n; ++j)
        if (g[j].defined()) v[j].mutable_value() -= T(options.step_size) * g[j].value();
      project(v);
    }
  }
  best.energy = Variable<T>(std::move(best_energy));
  return best;
}

#define TG_INSTANTIATE(T)                                                                                     \
  template Minimum<T> minimize_energy(const EnergyFunction<T>&, const std::vector<std::vector<Variable<T>>>&, \
                                      const MinimizeOptions&, const Variable<T>&);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg::energy
