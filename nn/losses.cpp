// Losses as expressions of ops.
#include "losses.hpp"

#include <sstream>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/reduce.hpp"
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

template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const IndexArray& targets, CrossEntropyOptions options) {
  const double s = options.label_smoothing;
  TG_CHECK(s >= 0 && s <= 1, "cross_entropy", "label_smoothing must be in [0, 1], got " + number_str(s));
  TG_CHECK(logits.dim() >= 1, "cross_entropy", "logits of shape " + shape_str(logits.shape()) + " have no class axis");
  const Variable<T> log_p = log_softmax(logits, -1);
  Variable<T> loss = pick_negated("cross_entropy", log_p, targets);
  if (s > 0) loss = loss * static_cast<T>(1 - s) - mean(log_p, {-1}) * static_cast<T>(s);
  return reduce(loss, options.reduction);
}

template <class T>
Variable<T> nll_loss(const Variable<T>& log_probs, const IndexArray& targets, LossOptions options) {
  return reduce(pick_negated("nll_loss", log_probs, targets), options.reduction);
}

#define TG_INSTANTIATE(T)                                                                                     \
  template Variable<T> mse_loss(const Variable<T>&, const Variable<T>&, LossOptions);                         \
  template Variable<T> l1_loss(const Variable<T>&, const Variable<T>&, LossOptions);                          \
  template Variable<T> smooth_l1_loss(const Variable<T>&, const Variable<T>&, SmoothL1Options);               \
  template Variable<T> huber_loss(const Variable<T>&, const Variable<T>&, HuberOptions);                      \
  template Variable<T> reduce(const Variable<T>&, Reduction);                                               \
  template Variable<T> binary_cross_entropy_with_logits(const Variable<T>&, const Variable<T>&, LossOptions); \
  template Variable<T> cross_entropy(const Variable<T>&, const IndexArray&, CrossEntropyOptions);             \
  template Variable<T> nll_loss(const Variable<T>&, const IndexArray&, LossOptions);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg::nn
