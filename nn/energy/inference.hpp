#pragma once
// Inference in an energy-based model: the Y (and latent Z) of lowest energy E(W, Y, X, Z), found by
// projected gradient descent on the chosen variables with W held fixed. (For a discrete Y, the
// argmin over an energies tensor is tg::energy::predict, in losses.hpp.)
#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "../../autograd/core/variable.hpp"

namespace tg::energy {

/// An energy of the variables being inferred: per-sample energies [batch] (each variable's
/// axis 0 is the batch), or a single 0-d energy. W and X are captured by the function.
template <class T>
using EnergyFunction = std::function<Variable<T>(const std::vector<Variable<T>>&)>;

struct MinimizeOptions {
  std::size_t steps = 100;         // gradient steps from each starting point
  double step_size = 0.1;          // v <- v - step_size dE/dv
  std::optional<double> lower = std::nullopt;  // box constraint on every variable (projected after each step)
  std::optional<double> upper = std::nullopt;
  /// With a forbidden center: variable 0 is kept at distance >= radius from it (per sample), so
  /// the search returns the most offending answer away from the correct one.
  double forbidden_radius = 0;
};

template <class T>
struct Minimum {
  std::vector<Variable<T>> values;  // the best point found, per sample, over all starting points
  Variable<T> energy;               // its energies ([batch] or 0-d); no graph
};

/// Minimises energy over the variables by projected gradient descent from each starting point
/// (starts[s] holds one value per variable) and keeps, per sample, the lowest energy seen at
/// any step from any start (so never worse than the best projected start).
/// Gradients come from tg::grad, so no .grad() is touched: the parameters W stay as they are.
/// forbidden_center (same shape as variable 0) enables the forbidden sphere of the options.
template <class T>
Minimum<T> minimize_energy(const EnergyFunction<T>& energy, const std::vector<std::vector<Variable<T>>>& starts,
                           const MinimizeOptions& options = {}, const Variable<T>& forbidden_center = {});

}  // namespace tg::energy
