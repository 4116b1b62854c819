#pragma once
// Sparse coding as an energy-based model with a latent variable Z (LeCun's slides):
//   E(W, Y, Z) = ‖Y − W Z‖² + λ‖Z‖₁,   W [n, k]: a dictionary whose columns are the atoms,
// inference Ž = argmin_z E(W, Y, z), and the energy loss E(W, Y, Ž) minimised over W.
//
// Inference is proximal gradient descent (ISTA; FISTA with momentum), not plain gradient
// descent (tg::energy::minimize_energy): the L1 term is not differentiable at 0, and a gradient
// step on it moves every coordinate by ±step·λ, so a code oscillates around 0 without ever being
// 0. ISTA takes the gradient step on the smooth part ‖Y − W Z‖² only (through tg::grad) and then
// applies the proximal map of λ‖·‖₁, the soft threshold, which sets every coordinate whose
// magnitude is below the threshold to exactly 0. That is what makes the codes sparse.
//
// Batches: Y is [batch, n] (one sample per row), Z is [batch, k], so W Z per sample is Z Wᵀ.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include <tapegrad/tapegrad.hpp>

namespace sparse_coding {

namespace detail {
/// W [n, k], Y [batch, n] and (when given) Z [batch, k] fit together, or a tg::Error naming op.
template <class T>
void check_shapes(const char* op, const tg::Variable<T>& w, const tg::Variable<T>& y, const tg::Variable<T>& z = {}) {
  TG_CHECK(w.defined() && y.defined(), op, "W or Y is undefined");
  const std::string shapes = "W " + tg::shape_str(w.shape()) + ", Y " + tg::shape_str(y.shape()) +
                             (z.defined() ? ", Z " + tg::shape_str(z.shape()) : std::string());
  TG_CHECK(w.dim() == 2 && y.dim() == 2, op, shapes + ": W must be [n, k] and Y [batch, n]");
  TG_CHECK(y.shape()[1] == w.shape()[0], op,
           shapes + ": Y's rows have " + std::to_string(y.shape()[1]) + " values, W's atoms " +
               std::to_string(w.shape()[0]));
  if (z.defined())
    TG_CHECK(z.dim() == 2 && z.shape()[0] == y.shape()[0] && z.shape()[1] == w.shape()[1], op,
             shapes + ": Z must be [batch, k] = [" + std::to_string(y.shape()[0]) + "," +
                 std::to_string(w.shape()[1]) + "]");
}
}  // namespace detail

/// soft_threshold(x, t) = sign(x) max(|x| − t, 0), the proximal map of t‖·‖₁: exactly 0 where |x| ≤ t.
template <class T>
tg::Variable<T> soft_threshold(const tg::Variable<T>& x, double t) {
  TG_CHECK(t >= 0, "soft_threshold", "threshold " + tg::number_str(t) + " is negative");
  return tg::sign(x) * tg::relu(tg::abs(x) - T(t));
}

/// ‖y_i − W z_i‖² per sample [batch]: the smooth part of the energy, the one ISTA differentiates.
template <class T>
tg::Variable<T> reconstruction_energy(const tg::Variable<T>& w, const tg::Variable<T>& y, const tg::Variable<T>& z) {
  detail::check_shapes("reconstruction_energy", w, y, z);
  tg::Variable<T> residual = y - tg::matmul(z, w, {.transpose_b = true});
  return tg::sum(residual * residual, {1});
}

/// E(W, y_i, z_i) = ‖y_i − W z_i‖² + λ‖z_i‖₁ per sample [batch].
template <class T>
tg::Variable<T> energy(const tg::Variable<T>& w, const tg::Variable<T>& y, const tg::Variable<T>& z, double lambda) {
  TG_CHECK(lambda >= 0, "sparse coding energy", "lambda " + tg::number_str(lambda) + " is negative");
  return reconstruction_energy(w, y, z) + tg::sum(tg::abs(z), {1}) * T(lambda);
}

/// L = 2 λ_max(WᵀW), the Lipschitz constant of ∇_z ‖y − W z‖² = −2 Wᵀ(y − W z), by power iteration.
template <class T>
double lipschitz_constant(const tg::Variable<T>& w, std::size_t iterations = 100) {
  tg::NoGradGuard no_grad;
  TG_CHECK(w.dim() == 2 && w.numel() > 0, "lipschitz_constant", "W " + tg::shape_str(w.shape()) + " is not a matrix");
  tg::Variable<T> v = tg::ones<T>({w.shape()[1], 1});  // not orthogonal to the top eigenvector of a nonnegative W
  double top = 0;
  for (std::size_t i = 0; i < iterations; ++i) {
    tg::Variable<T> u = tg::matmul(w, tg::matmul(w, v), {.transpose_a = true});  // WᵀW v
    top = static_cast<double>(tg::norm(u).item()) / static_cast<double>(tg::norm(v).item());
    if (top == 0) break;  // W = 0
    v = u * T(1 / top);   // back to the norm v had, so nothing overflows
  }
  return 2 * top;
}

/// Rescales every column (atom) of W to unit L2 norm in place: without it the energy loss
/// would shrink λ‖z‖₁ by growing W and shrinking z, which changes nothing but the scale.
template <class T>
void normalize_columns(tg::Variable<T>& w) {
  tg::NoGradGuard no_grad;
  xt::xarray<T> norms = tg::norm(w, {0}, /*keepdims=*/true).value();
  for (auto& n : norms) n = std::max(n, T(1e-12));
  xt::xarray<T>& values = w.mutable_value();
  values = values / norms;
}

struct IstaOptions {
  std::size_t max_steps = 200;  // proximal steps at most
  double step_size = 0;         // 0: 1/L from lipschitz_constant (the largest step ISTA's descent guarantee allows)
  double tolerance = 1e-4;      // stop once no coordinate of Z moved more than this in a step
  bool accelerated = true;      // FISTA (Beck & Teboulle): the same step taken at z + momentum
};

template <class T>
struct SparseCode {
  tg::Variable<T> z;       // Ž [batch, k], exact zeros where the soft threshold cut; no graph
  tg::Variable<T> energy;  // E(W, y_i, Ž_i) [batch]; no graph
  std::size_t steps = 0;   // proximal steps taken
};

/// Ž = argmin_z ‖y − W z‖² + λ‖z‖₁ per sample, by ISTA: z ← soft_threshold(z − η ∇_z‖y − W z‖², η λ),
/// the gradient from tg::grad, W held fixed (nothing is recorded into W or Y). Starts from z0
/// (zeros by default).
template <class T>
SparseCode<T> ista(const tg::Variable<T>& w, const tg::Variable<T>& y, double lambda, const IstaOptions& options = {},
                   const tg::Variable<T>& z0 = {}) {
  detail::check_shapes("ista", w, y, z0);
  TG_CHECK(lambda >= 0, "ista", "lambda " + tg::number_str(lambda) + " is negative");
  TG_CHECK(options.step_size >= 0, "ista", "step size " + tg::number_str(options.step_size) + " is negative");
  const tg::Variable<T> w_fixed = w.detach(), y_fixed = y.detach();
  // Power iteration approaches λ_max from below, so 1 % more keeps the step at or under 1/L.
  const double step = options.step_size > 0 ? options.step_size : 1 / (1.01 * lipschitz_constant(w_fixed));
  TG_CHECK(std::isfinite(step), "ista", "W " + tg::shape_str(w.shape()) + " is zero: no step size from it");

  xt::xarray<T> z = z0.defined() ? xt::xarray<T>(z0.value()) : xt::xarray<T>(xt::zeros<T>({y.shape()[0], w.shape()[1]}));
  xt::xarray<T> z_prev = z;
  double t = 1;  // FISTA's momentum sequence
  SparseCode<T> result;
  while (result.steps < options.max_steps) {
    const double t_next = (1 + std::sqrt(1 + 4 * t * t)) / 2;
    tg::Variable<T> point(options.accelerated ? xt::xarray<T>(z + T((t - 1) / t_next) * (z - z_prev)) : z, true);
    tg::Variable<T> gradient;
    {
      tg::EnableGradGuard recording;  // the caller may run inference under NoGradGuard
      gradient = tg::grad({tg::sum(reconstruction_energy(w_fixed, y_fixed, point))}, {point})[0];
    }
    tg::NoGradGuard no_grad;
    tg::Variable<T> next = soft_threshold(point.detach() - gradient * T(step), step * lambda);
    z_prev = std::move(z);
    z = next.value();
    t = t_next;
    ++result.steps;
    if (xt::amax(xt::abs(z - z_prev))() <= T(options.tolerance)) break;
  }
  tg::NoGradGuard no_grad;
  result.z = tg::Variable<T>(std::move(z));
  result.energy = energy(w_fixed, y_fixed, result.z, lambda);
  return result;
}

/// Fraction of exactly-zero entries of Z and mean number of nonzeros per sample (‖z‖₀).
struct Sparsity {
  double zero_fraction = 0, mean_l0 = 0;
};
template <class T>
Sparsity sparsity(const tg::Variable<T>& z) {
  TG_CHECK(z.dim() == 2 && z.numel() > 0, "sparsity", "Z " + tg::shape_str(z.shape()) + " is not [batch, k]");
  const double nonzero = static_cast<double>(std::count_if(z.value().begin(), z.value().end(), [](T v) { return v != 0; }));
  return {1 - nonzero / static_cast<double>(z.numel()), nonzero / static_cast<double>(z.shape()[0])};
}

}  // namespace sparse_coding
