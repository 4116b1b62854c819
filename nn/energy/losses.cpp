// Energy-based losses as expressions of ops.
// Nothing here has a hand-written derivative: every loss is differentiated (twice, too)
// through the ops it is made of.
#include "losses.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "../../autograd/ops/reduce.hpp"
#include "../../autograd/ops/select.hpp"
#include "../../autograd/ops/shape.hpp"

namespace tg::energy {

namespace {

/// energies [batch, k] and targets [batch] in [0, k): checked before any op runs, so the
/// message names the loss rather than gather or one_hot.
template <class T>
void check_discrete(const char* op, const Variable<T>& energies, const IndexArray& targets) {
  TG_CHECK(energies.defined(), op, "energies are undefined");
  TG_CHECK(energies.dim() == 2, op, "energies must be [batch, k], got " + shape_str(energies.shape()));
  const std::size_t batch = energies.shape()[0], k = energies.shape()[1];
  TG_CHECK(targets.dimension() == 1 && targets.shape()[0] == batch, op,
           "targets must be [" + std::to_string(batch) + "] for energies " + shape_str(energies.shape()) + ", got " +
               shape_str(targets.shape()));
  for (std::size_t i = 0; i < batch; ++i)
    TG_CHECK(targets(i) >= 0 && static_cast<std::size_t>(targets(i)) < k, op,
             "target " + std::to_string(targets(i)) + " of sample " + std::to_string(i) + " is outside [0, " +
                 std::to_string(k) + ") for energies " + shape_str(energies.shape()));
}

template <class T>
void check_contrastive(const char* op, const Variable<T>& energies, const IndexArray& targets) {
  check_discrete(op, energies, targets);
  TG_CHECK(energies.shape()[1] >= 2, op,
           "there is no incorrect answer among k = 1 in energies " + shape_str(energies.shape()));
}

template <class T>
void check_pair(const char* op, const Variable<T>& e_correct, const Variable<T>& e_other) {
  TG_CHECK(e_correct.defined() && e_other.defined(), op, "an energy is undefined");
  broadcast_shapes(op, e_correct.shape(), e_other.shape());
}

}  // namespace

// ---- margin losses ------------------------------------------------------------------------------

template <class T>
Variable<T> energy_loss(const Variable<T>& e_correct) {
  TG_CHECK(e_correct.defined(), "energy_loss", "the energy is undefined");
  return e_correct;
}

template <class T>
Variable<T> perceptron_loss(const Variable<T>& e_correct, const Variable<T>& e_min) {
  check_pair("perceptron_loss", e_correct, e_min);
  return e_correct - e_min;
}

template <class T>
Variable<T> hinge_loss(const Variable<T>& e_correct, const Variable<T>& e_bar, Scalar<T> margin) {
  check_pair("hinge_loss", e_correct, e_bar);
  return relu(margin + e_correct - e_bar);
}

template <class T>
Variable<T> log_loss(const Variable<T>& e_correct, const Variable<T>& e_bar) {
  check_pair("log_loss", e_correct, e_bar);
  return softplus(e_correct - e_bar);  // log(1 + exp(.)) without overflow
}

template <class T>
Variable<T> lvq2_loss(const Variable<T>& e_correct, const Variable<T>& e_bar, Scalar<T> saturation) {
  check_pair("lvq2_loss", e_correct, e_bar);
  TG_CHECK(saturation >= 0, "lvq2_loss", "the saturation M must be >= 0, got " + number_str(saturation));
  return clamp(e_correct - e_bar, T(0), saturation);
}

template <class T>
Variable<T> mce_loss(const Variable<T>& e_correct, const Variable<T>& e_bar) {
  check_pair("mce_loss", e_correct, e_bar);
  return sigmoid(e_correct - e_bar);
}

template <class T>
Variable<T> square_square_loss(const Variable<T>& e_correct, const Variable<T>& e_bar, Scalar<T> margin) {
  check_pair("square_square_loss", e_correct, e_bar);
  const Variable<T> push = relu(margin - e_bar);
  return e_correct * e_correct + push * push;
}

template <class T>
Variable<T> square_exp_loss(const Variable<T>& e_correct, const Variable<T>& e_bar, Scalar<T> k, Scalar<T> beta) {
  check_pair("square_exp_loss", e_correct, e_bar);
  return e_correct * e_correct + k * exp(-beta * e_bar);
}

template <class T>
Variable<T> nll_loss(const Variable<T>& e_correct, const Variable<T>& free_energy) {
  check_pair("nll_loss", e_correct, free_energy);
  return e_correct - free_energy;
}

// ---- discrete answers ---------------------------------------------------------------------------

template <class T>
Variable<T> free_energy(const Variable<T>& energies, Scalar<T> beta, std::int64_t axis) {
  TG_CHECK(energies.defined(), "free_energy", "energies are undefined");
  TG_CHECK(beta > 0, "free_energy", "beta must be positive, got " + number_str(beta));
  return logsumexp(-beta * energies, {axis}) * (T(-1) / beta);
}

template <class T>
Variable<T> correct_energy(const Variable<T>& energies, const IndexArray& targets) {
  check_discrete("correct_energy", energies, targets);
  const auto batch = static_cast<std::int64_t>(targets.size());
  IndexArray column = targets;
  column.reshape({targets.size(), 1});
  return reshape(gather(energies, 1, column), {batch});
}

namespace {
/// The energies with, at each target, more than the spread of all energies added: a min over
/// the result is a min over the incorrect answers. The lift is a plain number (no gradient
/// flows through it) sized to the data, so no huge constant or inf enters any derivative.
template <class T>
Variable<T> with_targets_lifted(const Variable<T>& energies, const IndexArray& targets) {
  const auto& e = energies.value();
  const auto [lo, hi] = std::minmax_element(e.begin(), e.end());
  const T lift = (*hi - *lo) + T(1);
  return energies + one_hot<T>(targets, static_cast<std::int64_t>(energies.shape()[1])) * lift;
}
}  // namespace

template <class T>
Variable<T> most_offending_incorrect(const Variable<T>& energies, const IndexArray& targets) {
  check_contrastive("most_offending_incorrect", energies, targets);
  return min(with_targets_lifted(energies, targets), {1});
}

template <class T>
IndexArray most_offending_incorrect_index(const Variable<T>& energies, const IndexArray& targets) {
  check_contrastive("most_offending_incorrect_index", energies, targets);
  NoGradGuard no_grad;
  return argmin(with_targets_lifted(energies, targets), 1);
}

template <class T>
IndexArray predict(const Variable<T>& energies) {
  TG_CHECK(energies.defined() && energies.dim() >= 1 && energies.shape().back() > 0, "predict",
           "energies must have a non-empty last axis, got " + (energies.defined() ? shape_str(energies.shape()) : "undefined"));
  return argmin(energies, -1);
}

template <class T>
Variable<T> energy_gap(const Variable<T>& energies, const IndexArray& targets) {
  return most_offending_incorrect(energies, targets) - correct_energy(energies, targets);
}

// Each discrete loss: E_correct by gather, E_bar by the masked min, the margin loss, the reduction.

template <class T>
Variable<T> energy_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return reduce(correct_energy(energies, targets), o.reduction);
}

template <class T>
Variable<T> perceptron_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return reduce(perceptron_loss(correct_energy(energies, targets), min(energies, {1})), o.reduction);
}

template <class T>
Variable<T> hinge_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return reduce(hinge_loss(correct_energy(energies, targets), most_offending_incorrect(energies, targets), T(o.margin)),
                o.reduction);
}

template <class T>
Variable<T> log_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return reduce(log_loss(correct_energy(energies, targets), most_offending_incorrect(energies, targets)), o.reduction);
}

template <class T>
Variable<T> lvq2_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return reduce(lvq2_loss(correct_energy(energies, targets), most_offending_incorrect(energies, targets), T(o.saturation)),
                o.reduction);
}

template <class T>
Variable<T> mce_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return reduce(mce_loss(correct_energy(energies, targets), most_offending_incorrect(energies, targets)), o.reduction);
}

template <class T>
Variable<T> square_square_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return reduce(square_square_loss(correct_energy(energies, targets), most_offending_incorrect(energies, targets), T(o.margin)),
                o.reduction);
}

template <class T>
Variable<T> square_exp_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return reduce(square_exp_loss(correct_energy(energies, targets), most_offending_incorrect(energies, targets), T(o.k),
                                T(o.beta)),
                o.reduction);
}

template <class T>
Variable<T> nll_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return reduce(nll_loss(correct_energy(energies, targets), free_energy(energies, T(o.beta), 1)), o.reduction);
}

#define TG_INSTANTIATE(T)                                                                                                  \
  template Variable<T> energy_loss(const Variable<T>&);                                                                    \
  template Variable<T> perceptron_loss(const Variable<T>&, const Variable<T>&);                                            \
  template Variable<T> hinge_loss(const Variable<T>&, const Variable<T>&, Scalar<T>);                                      \
  template Variable<T> log_loss(const Variable<T>&, const Variable<T>&);                                                   \
  template Variable<T> lvq2_loss(const Variable<T>&, const Variable<T>&, Scalar<T>);                                       \
  template Variable<T> mce_loss(const Variable<T>&, const Variable<T>&);                                                   \
  template Variable<T> square_square_loss(const Variable<T>&, const Variable<T>&, Scalar<T>);                              \
  template Variable<T> square_exp_loss(const Variable<T>&, const Variable<T>&, Scalar<T>, Scalar<T>);                      \
  template Variable<T> nll_loss(const Variable<T>&, const Variable<T>&);                                                   \
  template Variable<T> free_energy(const Variable<T>&, Scalar<T>, std::int64_t);                                           \
  template Variable<T> correct_energy(const Variable<T>&, const IndexArray&);                                              \
  template Variable<T> most_offending_incorrect(const Variable<T>&, const IndexArray&);                                    \
  template IndexArray most_offending_incorrect_index(const Variable<T>&, const IndexArray&);                               \
  template IndexArray predict(const Variable<T>&);                                                                         \
  template Variable<T> energy_gap(const Variable<T>&, const IndexArray&);                                                  \
  template Variable<T> energy_loss(const Variable<T>&, const IndexArray&, const EnergyLossOptions&);                                      \
  template Variable<T> perceptron_loss(const Variable<T>&, const IndexArray&, const EnergyLossOptions&);                                  \
  template Variable<T> hinge_loss(const Variable<T>&, const IndexArray&, const EnergyLossOptions&);                            \
  template Variable<T> log_loss(const Variable<T>&, const IndexArray&, const EnergyLossOptions&);                                         \
  template Variable<T> lvq2_loss(const Variable<T>&, const IndexArray&, const EnergyLossOptions&);                             \
  template Variable<T> mce_loss(const Variable<T>&, const IndexArray&, const EnergyLossOptions&);                                         \
  template Variable<T> square_square_loss(const Variable<T>&, const IndexArray&, const EnergyLossOptions&);                    \
  template Variable<T> square_exp_loss(const Variable<T>&, const IndexArray&, const EnergyLossOptions&);            \
  template Variable<T> nll_loss(const Variable<T>&, const IndexArray&, const EnergyLossOptions&);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg::energy
