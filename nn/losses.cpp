// Losses as expressions of ops.
#include "losses.hpp"

#include <sstream>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/reduce.hpp"
#include "../autograd/ops/select.hpp"
#include "../autograd/ops/shape.hpp"

namespace tg::nn {

template <class T>
Variable<T> reduce(const Variable<T>& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::none: return loss;
    case Reduction::sum: return sum(loss);
    case Reduction::mean: return mean(loss);
  }
  throw Error("loss: unknown reduction");
}

namespace {

template <class T>
void check_same_shape(const char* op, const Variable<T>& input, const Variable<T>& target) {
  TG_CHECK(input.shape() == target.shape(), op,
           "input " + shape_str(input.shape()) + " and target " + shape_str(target.shape()) + " must have the same shape");
}

/// -x[..., target[...]] for x of shape [..., C]: the picked entries, negated, of targets' shape.
template <class T>
Variable<T> pick_negated(const char* op, const Variable<T>& x, const IndexArray& targets) {
  TG_CHECK(x.dim() >= 1, op, "input of shape " + shape_str(x.shape()) + " has no class axis");
  const std::size_t classes = x.shape().back();
  const Shape batch(x.shape().begin(), x.shape().end() - 1);
  TG_CHECK(Shape(targets.shape().begin(), targets.shape().end()) == batch, op,
           "targets " + shape_str(targets.shape()) + " must have the shape of the input " + shape_str(x.shape()) +
               " without its class axis, " + shape_str(batch));
  for (auto t : targets)
    TG_CHECK(t >= 0 && static_cast<std::size_t>(t) < classes, op,
             "target " + std::to_string(t) + " is out of range for " + std::to_string(classes) + " classes (input " +
                 shape_str(x.shape()) + ")");
  IndexArray index = targets;
  Shape with_axis = batch;
  with_axis.push_back(1);
  index.reshape(with_axis);
  const std::vector<std::int64_t> out_shape(batch.begin(), batch.end());
  return neg(reshape(gather(x, -1, index), out_shape));
}

}  // namespace

template <class T>
Variable<T> mse_loss(const Variable<T>& input, const Variable<T>& target, LossOptions options) {
  check_same_shape("mse_loss", input, target);
  const Variable<T> d = input - target;
  return reduce(d * d, options.reduction);
}

template <class T>
Variable<T> l1_loss(const Variable<T>& input, const Variable<T>& target, LossOptions options) {
  check_same_shape("l1_loss", input, target);
  return reduce(abs(input - target), options.reduction);
}

template <class T>
Variable<T> smooth_l1_loss(const Variable<T>& input, const Variable<T>& target, SmoothL1Options options) {
  check_same_shape("smooth_l1_loss", input, target);
  TG_CHECK(options.beta >= 0, "smooth_l1_loss", "beta must not be negative, got " + number_str(options.beta));
  const Variable<T> d = input - target;
  const Variable<T> ad = abs(d);
  if (options.beta == 0) return reduce(ad, options.reduction);  // no quadratic zone (and no 0/0)
  const T beta = static_cast<T>(options.beta);
  return reduce(where(ad < beta, d * d * (T(0.5) / beta), ad - T(0.5) * beta), options.reduction);
}

template <class T>
Variable<T> huber_loss(const Variable<T>& input, const Variable<T>& target, HuberOptions options) {
  check_same_shape("huber_loss", input, target);
  TG_CHECK(options.delta > 0, "huber_loss", "delta must be positive, got " + number_str(options.delta));
  const T delta = static_cast<T>(options.delta);
  const Variable<T> d = input - target;
  const Variable<T> ad = abs(d);
  return reduce(where(ad <= delta, d * d * T(0.5), (ad - T(0.5) * delta) * delta), options.reduction);
}

template <class T>
Variable<T> binary_cross_entropy_with_logits(const Variable<T>& logits, const Variable<T>& target, LossOptions options) {
  check_same_shape("binary_cross_entropy_with_logits", logits, target);
  return reduce(softplus(logits) - logits * target, options.reduction);
}

namespace {

/// What the class losses weigh each element by: w[target] (1 without class weights) and 0 where
/// the target is ignore_index, and the targets with the ignored ones replaced by class 0 so
/// that picking stays in range.
template <class T>
struct TargetWeights {
  IndexArray targets;
  Variable<T> weight;  // targets' shape, constant
  Variable<T> kept;    // 1 where the target is not ignored, else 0
};

template <class T>
TargetWeights<T> target_weights(const char* op, const Variable<T>& x, const IndexArray& targets,
                                const std::vector<double>& weight, std::int64_t ignore_index) {
  TG_CHECK(x.dim() >= 1, op, "input of shape " + shape_str(x.shape()) + " has no class axis");
  const std::size_t classes = x.shape().back();
  TG_CHECK(weight.empty() || weight.size() == classes, op,
           "weight has " + std::to_string(weight.size()) + " entries for " + std::to_string(classes) +
               " classes (input " + shape_str(x.shape()) + ")");
  TargetWeights<T> out{targets, Variable<T>(), Variable<T>()};
  xt::xarray<T> w = xt::empty<T>(targets.shape());
  xt::xarray<T> kept = xt::empty<T>(targets.shape());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const Index t = targets.data()[i];
    const bool ignored = t == ignore_index;
    if (ignored) out.targets.data()[i] = 0;
    kept.data()[i] = ignored ? T(0) : T(1);
    w.data()[i] = ignored ? T(0)
                  : (weight.empty() || t < 0 || static_cast<std::size_t>(t) >= classes) ? T(1)  // range checked when picked
                                                                                      : static_cast<T>(weight[t]);
  }
  out.weight = Variable<T>(std::move(w));
  out.kept = Variable<T>(std::move(kept));
  return out;
}

template <class T>
Variable<T> class_weights(const std::vector<double>& weight) {
  xt::xarray<T> w = xt::empty<T>(Shape{weight.size()});
  std::copy(weight.begin(), weight.end(), w.begin());
  return Variable<T>(std::move(w));
}

/// reduce() with the mean taken over the weights: sum(loss) / sum(weight), as PyTorch.
template <class T>
Variable<T> weighted_reduce(const Variable<T>& loss, const Variable<T>& weight, Reduction reduction) {
  if (reduction != Reduction::mean) return reduce(loss, reduction);
  T total = 0;
  for (auto w : weight.value()) total += w;
  return sum(loss) * (T(1) / total);
}

}  // namespace

template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const IndexArray& targets, CrossEntropyOptions options) {
  const double s = options.label_smoothing;
  TG_CHECK(s >= 0 && s <= 1, "cross_entropy", "label_smoothing must be in [0, 1], got " + number_str(s));
  const auto w = target_weights("cross_entropy", logits, targets, options.weight, options.ignore_index);
  const Variable<T> log_p = log_softmax(logits, -1);
  Variable<T> loss = pick_negated("cross_entropy", log_p, w.targets) * w.weight;
  if (s > 0) {
    // (s / C) sum_c w[c] (-log p[c]) on every element not ignored
    const auto classes = static_cast<T>(logits.shape().back());
    Variable<T> all_classes = options.weight.empty()
                                  ? neg(sum(log_p, {-1}))
                                  : neg(sum(log_p * class_weights<T>(options.weight), {-1}));
    loss = loss * static_cast<T>(1 - s) + all_classes * w.kept * (static_cast<T>(s) / classes);
  }
  return weighted_reduce(loss, w.weight, options.reduction);
}

template <class T>
Variable<T> nll_loss(const Variable<T>& log_probs, const IndexArray& targets, NLLLossOptions options) {
  const auto w = target_weights("nll_loss", log_probs, targets, options.weight, options.ignore_index);
  return weighted_reduce(pick_negated("nll_loss", log_probs, w.targets) * w.weight, w.weight, options.reduction);
}

#define TG_INSTANTIATE(T)                                                                                     \
  template Variable<T> mse_loss(const Variable<T>&, const Variable<T>&, LossOptions);                         \
  template Variable<T> l1_loss(const Variable<T>&, const Variable<T>&, LossOptions);                          \
  template Variable<T> smooth_l1_loss(const Variable<T>&, const Variable<T>&, SmoothL1Options);               \
  template Variable<T> huber_loss(const Variable<T>&, const Variable<T>&, HuberOptions);                      \
  template Variable<T> reduce(const Variable<T>&, Reduction);                                               \
  template Variable<T> binary_cross_entropy_with_logits(const Variable<T>&, const Variable<T>&, LossOptions); \
  template Variable<T> cross_entropy(const Variable<T>&, const IndexArray&, CrossEntropyOptions);             \
  template Variable<T> nll_loss(const Variable<T>&, const IndexArray&, NLLLossOptions);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg::nn
