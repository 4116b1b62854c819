#pragma once
// Energy-based models (LeCun, "Energy-Based Models, Part 2"; LeCun & Huang, "Loss Functions for
// Energy-Based Models"): a model is an energy E(W, Y, X, Z), an inference algorithm that finds
// the Y (and Z) of lowest energy, a loss that shapes the energy surface, and an optimizer for W.
//
// Every loss here is a plain expression of tapegrad ops (no hand-written derivative), at two
// levels:
//  - margin losses of (E_correct, E_bar) tensors, elementwise, for any kind of Y: E_correct is
//    E(W, Y^i, X^i), E_bar the energy of the most offending incorrect answer Ybar;
//  - discrete-output losses of an energies tensor [batch, k] and integer targets [batch],
//    which pick E_correct by gather and E_bar by a masked min, then reduce.
// Inference: argmin over the energies for discrete Y (predict, here); gradient descent on chosen
// variables with W fixed for continuous Y or latent Z (minimize_energy, in inference.hpp).
#include "../../autograd/ops/elementwise.hpp"
#include "../../autograd/core/variable.hpp"
#include "../losses.hpp"

namespace tg::energy {

/// How per-sample losses become the training loss: nn's none / mean / sum.
using Reduction = tg::nn::Reduction;

/// mean, sum, or nothing over a tensor of per-sample losses (nn's).
using tg::nn::reduce;

// ---- margin losses of (E_correct, E_bar), elementwise with broadcasting ------------------------

/// L = E_correct: only pulls the correct energy down (collapses unless the architecture
/// pushes the others up by itself).
template <class T> Variable<T> energy_loss(const Variable<T>& e_correct);
/// L = E_correct - E_min, E_min = min_Y E(W, Y, X^i) (the correct answer included): margin zero.
template <class T> Variable<T> perceptron_loss(const Variable<T>& e_correct, const Variable<T>& e_min);
/// L = max(0, m + E_correct - E_bar)
template <class T> Variable<T> hinge_loss(const Variable<T>& e_correct, const Variable<T>& e_bar, Scalar<T> margin = T(1));
/// L = log(1 + exp(E_correct - E_bar)), the soft hinge
template <class T> Variable<T> log_loss(const Variable<T>& e_correct, const Variable<T>& e_bar);
/// L = min(M, max(0, E_correct - E_bar))
template <class T> Variable<T> lvq2_loss(const Variable<T>& e_correct, const Variable<T>& e_bar, Scalar<T> saturation = T(1));
/// L = sigmoid(E_correct - E_bar), minimum classification error
template <class T> Variable<T> mce_loss(const Variable<T>& e_correct, const Variable<T>& e_bar);
/// L = E_correct^2 + max(0, m - E_bar)^2
template <class T> Variable<T> square_square_loss(const Variable<T>& e_correct, const Variable<T>& e_bar, Scalar<T> margin = T(1));
/// L = E_correct^2 + K exp(-beta E_bar)
template <class T> Variable<T> square_exp_loss(const Variable<T>& e_correct, const Variable<T>& e_bar, Scalar<T> k = T(1), Scalar<T> beta = T(1));
/// L = E_correct - F_beta, with F_beta the free energy of the answers (see free_energy)
template <class T> Variable<T> nll_loss(const Variable<T>& e_correct, const Variable<T>& free_energy);

// ---- discrete answers: energies [batch, k], targets [batch] in [0, k) ---------------------------
// An empty batch ([0, k]) gives an empty per-sample loss and a sum of 0; its mean is a tg::Error
// naming the loss (as tg::mean of nothing is; PyTorch's NaN would only surface steps later).

/// F_beta = -1/beta log sum_Y exp(-beta E) along axis: a soft min of the energies.
template <class T> Variable<T> free_energy(const Variable<T>& energies, Scalar<T> beta = T(1), std::int64_t axis = -1);
/// E(W, Y^i, X^i): the energy of each sample's target, [batch].
template <class T> Variable<T> correct_energy(const Variable<T>& energies, const IndexArray& targets);
/// E(W, Ybar, X^i) with Ybar = argmin over Y != Y^i: a min with the target masked out, [batch].
template <class T> Variable<T> most_offending_incorrect(const Variable<T>& energies, const IndexArray& targets);
/// Ybar itself, [batch].
template <class T> IndexArray most_offending_incorrect_index(const Variable<T>& energies, const IndexArray& targets);
/// Inference for discrete Y: argmin over the last axis.
template <class T> IndexArray predict(const Variable<T>& energies);
/// E(W, Ybar) - E(W, Y^i) per sample: positive where the answer is right with that margin.
template <class T> Variable<T> energy_gap(const Variable<T>& energies, const IndexArray& targets);

/// The settings of the discrete losses; each loss reads the fields its formula names.
struct EnergyLossOptions {
  Reduction reduction = Reduction::mean;
  double margin = 1;      // m: hinge, square-square
  double saturation = 1;  // M: LVQ2
  double k = 1;           // K: square-exp
  double beta = 1;        // beta: square-exp, negative log-likelihood
};

template <class T> Variable<T> energy_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& options = {});
template <class T> Variable<T> perceptron_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& options = {});
template <class T> Variable<T> hinge_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& options = {});
template <class T> Variable<T> log_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& options = {});
template <class T> Variable<T> lvq2_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& options = {});
template <class T> Variable<T> mce_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& options = {});
template <class T> Variable<T> square_square_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& options = {});
template <class T> Variable<T> square_exp_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& options = {});
/// The negative log-likelihood (maximum mutual information) loss with inverse temperature beta.
template <class T> Variable<T> nll_loss(const Variable<T>& energies, const IndexArray& targets, const EnergyLossOptions& options = {});

}  // namespace tg::energy
