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
  return copy_op("energy_loss", e_correct);  // its own node, as every result
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

namespace {
/// energies[i, targets[i]], [batch] (arguments already checked).
template <class T>
Variable<T> picked(const Variable<T>& energies, const IndexArray& targets) {
  IndexArray column = targets;
  column.reshape({targets.size(), 1});
  return reshape(gather(energies, 1, column), {static_cast<std::int64_t>(targets.size())});
}

/// The energies with +inf at each target, so a min over a row is a min over the incorrect
/// answers only, exactly at any magnitude (an added finite lift vanishes in rounding: in float
/// 1e8 + 17 == 1e8 + 16). The inf is a constant branch of where, whose derivative only masks
/// g, so no inf enters any derivative and the target gets no gradient.
template <class T>
Variable<T> targets_masked(const Variable<T>& energies, const IndexArray& targets) {
  return where(one_hot<T>(targets, static_cast<std::int64_t>(energies.shape()[1])),
               scalar<T>(std::numeric_limits<T>::infinity()), energies);
}
}  // namespace

template <class T>
Variable<T> correct_energy(const Variable<T>& energies, const IndexArray& targets) {
  check_discrete("correct_energy", energies, targets);
  return picked(energies, targets);
}

template <class T>
Variable<T> most_offending_incorrect(const Variable<T>& energies, const IndexArray& targets) {
  check_contrastive("most_offending_incorrect", energies, targets);
  return min(targets_masked(energies, targets), {1});
}

template <class T>
IndexArray most_offending_incorrect_index(const Variable<T>& energies, const IndexArray& targets) {
  check_contrastive("most_offending_incorrect_index", energies, targets);
  NoGradGuard no_grad;
  return argmin(targets_masked(energies, targets), 1);
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

// ---- the discrete losses: E_correct by gather, the energy it is contrasted with, the margin
// loss of the two, the reduction --------------------------------------------------------------

namespace {
/// What a discrete loss contrasts E_correct with.
enum class Contrast { none, min, most_offending, free_energy };

/// reduce(loss(E_correct, E_other)) with E_other as `contrast` names; the checks name op.
/// An empty batch gives an empty per-sample loss and a sum of 0; its mean is an error, as
/// tg::mean of nothing is (PyTorch returns NaN, which would only surface steps later).
template <class T, class F>
Variable<T> discrete(const char* op, const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o,
                     Contrast contrast, F loss) {
  if (contrast == Contrast::most_offending) check_contrastive(op, energies, targets);
  else check_discrete(op, energies, targets);
  TG_CHECK(energies.shape()[0] > 0 || o.reduction != Reduction::mean, op,
           "the mean over an empty batch (energies " + shape_str(energies.shape()) +
               ") is undefined; use Reduction::sum (0) or Reduction::none");
  Variable<T> other;
  switch (contrast) {
    case Contrast::none: break;
    case Contrast::min: other = min(energies, {1}); break;
    case Contrast::most_offending: other = min(targets_masked(energies, targets), {1}); break;
    case Contrast::free_energy: other = free_energy(energies, T(o.beta), 1); break;
  }
  return reduce(loss(picked(energies, targets), other), o.reduction);
}
}  // namespace

template <class T>
Variable<T> energy_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return discrete("energy_loss", energies, targets, o, Contrast::none,
                  [](const Variable<T>& ec, const Variable<T>&) { return ec; });  // L = E_correct, a new node already
}

template <class T>
Variable<T> perceptron_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return discrete("perceptron_loss", energies, targets, o, Contrast::min,
                  [](const Variable<T>& ec, const Variable<T>& e) { return perceptron_loss(ec, e); });
}

template <class T>
Variable<T> hinge_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return discrete("hinge_loss", energies, targets, o, Contrast::most_offending,
                  [m = T(o.margin)](const Variable<T>& ec, const Variable<T>& eb) { return hinge_loss(ec, eb, m); });
}

template <class T>
Variable<T> log_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return discrete("log_loss", energies, targets, o, Contrast::most_offending,
                  [](const Variable<T>& ec, const Variable<T>& e) { return log_loss(ec, e); });
}

template <class T>
Variable<T> lvq2_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return discrete("lvq2_loss", energies, targets, o, Contrast::most_offending,
                  [s = T(o.saturation)](const Variable<T>& ec, const Variable<T>& eb) { return lvq2_loss(ec, eb, s); });
}

template <class T>
Variable<T> mce_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return discrete("mce_loss", energies, targets, o, Contrast::most_offending,
                  [](const Variable<T>& ec, const Variable<T>& e) { return mce_loss(ec, e); });
}

template <class T>
Variable<T> square_square_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return discrete("square_square_loss", energies, targets, o, Contrast::most_offending,
                  [m = T(o.margin)](const Variable<T>& ec, const Variable<T>& eb) { return square_square_loss(ec, eb, m); });
}

template <class T>
Variable<T> square_exp_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return discrete("square_exp_loss", energies, targets, o, Contrast::most_offending,
                  [k = T(o.k), b = T(o.beta)](const Variable<T>& ec, const Variable<T>& eb) { return square_exp_loss(ec, eb, k, b); });
}

template <class T>
Variable<T> nll_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& o) {
  return discrete("nll_loss", energies, targets, o, Contrast::free_energy,
                  [](const Variable<T>& ec, const Variable<T>& e) { return nll_loss(ec, e); });
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
