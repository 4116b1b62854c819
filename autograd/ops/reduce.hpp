#pragma once
// Reductions over any set of axes ({} = all; negative axes allowed) and the softmax family.
#include "../core/variable.hpp"

namespace tg {

template <class T> Variable<T> sum(const Variable<T>& x, const Axes& axes = {}, bool keepdims = false);
template <class T> Variable<T> mean(const Variable<T>& x, const Axes& axes = {}, bool keepdims = false);
/// Largest value; the gradient goes to the arg-max (split evenly between ties, as torch.amax).
template <class T> Variable<T> max(const Variable<T>& x, const Axes& axes = {}, bool keepdims = false);
template <class T> Variable<T> min(const Variable<T>& x, const Axes& axes = {}, bool keepdims = false);
/// log(sum(exp(x))), computed stably around the max; derivative softmax(x).
template <class T> Variable<T> logsumexp(const Variable<T>& x, const Axes& axes = {}, bool keepdims = false);
/// L2 norm sqrt(sum(x^2)); its gradient x / norm is taken as 0 where the norm is 0.
template <class T> Variable<T> norm(const Variable<T>& x, const Axes& axes = {}, bool keepdims = false);
/// Index of the largest element along axis (first one at ties); no gradient.
template <class T> IndexArray argmax(const Variable<T>& x, std::int64_t axis, bool keepdims = false);
template <class T> IndexArray argmin(const Variable<T>& x, std::int64_t axis, bool keepdims = false);
/// exp(x - logsumexp(x)) along axis.
template <class T> Variable<T> softmax(const Variable<T>& x, std::int64_t axis = -1);
/// x - logsumexp(x) along axis.
template <class T> Variable<T> log_softmax(const Variable<T>& x, std::int64_t axis = -1);

/// The derivative of softmax along the last axis as one op: out * (g - sum(g * out, -1)),
/// for g and out of one shape. Its own derivatives are softmax_backward again (in g) and
/// u (g - s) - g sum(u out) (in out), so softmax differentiates to any order.
template <class T>
Variable<T> softmax_backward(const Variable<T>& g, const Variable<T>& out);

}  // namespace tg
