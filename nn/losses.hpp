#pragma once
// Losses: each one a few lines of ops (no hand-written derivative), so every loss has
// first and second derivatives. Class losses take the class axis last: logits [..., C]
// with integer targets [...] (for [N, C] and [N] this is PyTorch's layout).
#include <vector>

#include "../autograd/core/variable.hpp"

namespace tg::nn {

/// How per-element losses become the result: kept as they are, averaged, or added up.
enum class Reduction { none, mean, sum };

/// mean, sum, or nothing over a tensor of per-element losses.
template <class T>
Variable<T> reduce(const Variable<T>& loss, Reduction reduction);

struct LossOptions {
  Reduction reduction = Reduction::mean;
};

struct SmoothL1Options {
  Reduction reduction = Reduction::mean;
  double beta = 1.0;  // the quadratic zone |d| < beta; 0 gives the L1 loss
};

struct HuberOptions {
  Reduction reduction = Reduction::mean;
  double delta = 1.0;  // the quadratic zone |d| <= delta
};

struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0;       // target = (1 - s) one_hot + s / C
  std::vector<double> weight{};     // a weight per class (empty: all 1), as PyTorch's `weight`
  std::int64_t ignore_index = -100; // targets equal to it add nothing and do not count in the mean
};

struct NLLLossOptions {
  Reduction reduction = Reduction::mean;
  std::vector<double> weight{};     // a weight per class (empty: all 1)
  std::int64_t ignore_index = -100; // targets equal to it add nothing and do not count in the mean
};

/// (input - target)^2
template <class T>
Variable<T> mse_loss(const Variable<T>& input, const Variable<T>& target, LossOptions options = {});
/// |input - target|
template <class T>
Variable<T> l1_loss(const Variable<T>& input, const Variable<T>& target, LossOptions options = {});
/// 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta, d = input - target
template <class T>
Variable<T> smooth_l1_loss(const Variable<T>& input, const Variable<T>& target, SmoothL1Options options = {});
/// 0.5 d^2 if |d| <= delta else delta (|d| - 0.5 delta) (= delta * smooth_l1 with beta = delta)
template <class T>
Variable<T> huber_loss(const Variable<T>& input, const Variable<T>& target, HuberOptions options = {});
/// -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] = softplus(x) - x y, stable for any x;
/// targets y in [0, 1] of the logits' shape.
template <class T>
Variable<T> binary_cross_entropy_with_logits(const Variable<T>& logits, const Variable<T>& target,
                                             LossOptions options = {});
/// -w[target] log_softmax(logits)[target], with label smoothing
/// (1 - s) w[target] (-log p[target]) + (s / C) sum_c w[c] (-log p[c]); logits [..., C], targets
/// [...] in [0, C) or ignore_index. The mean divides by the sum of w[target] over the targets
/// not ignored (PyTorch's weighted mean); without weights that is their count.
template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const IndexArray& targets, CrossEntropyOptions options = {});
/// -w[target] log_probs[target]; log_probs [..., C] (e.g. log_softmax output), targets [...] in
/// [0, C) or ignore_index; the mean is weighted as cross_entropy's.
template <class T>
Variable<T> nll_loss(const Variable<T>& log_probs, const IndexArray& targets, NLLLossOptions options = {});

}  // namespace tg::nn
