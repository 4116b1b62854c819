#pragma once
// Shape ops: views of the same numbers in another arrangement. Each one's derivative is
// another shape op (reshape <-> reshape, expand <-> sum_to, narrow <-> pad, gather <->
// scatter_add, ...), so they all differentiate twice.
#include "../variable.hpp"

namespace tg {

/// The NumPy broadcast of two shapes; a tg::Error naming op when they do not broadcast.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

/// Same numbers, new shape; one entry may be -1 (inferred).
template <class T> Variable<T> reshape(const Variable<T>& x, const std::vector<std::int64_t>& shape);
/// Broadcast x to shape (NumPy rules); gradient: sum_to.
template <class T> Variable<T> expand(const Variable<T>& x, const Shape& shape);
/// Sum a broadcast result back to shape (the gradient of broadcasting); gradient: expand.
template <class T> Variable<T> sum_to(const Variable<T>& x, const Shape& shape);
/// Reorder axes: result axis i is x's axis axes[i].
template <class T> Variable<T> permute(const Variable<T>& x, const Axes& axes);
/// Swap two axes (default: the last two).
template <class T> Variable<T> transpose(const Variable<T>& x, std::int64_t axis0 = -2, std::int64_t axis1 = -1);
/// Merge axes start..end (inclusive) into one.
template <class T> Variable<T> flatten(const Variable<T>& x, std::int64_t start = 0, std::int64_t end = -1);
/// Drop the given size-1 axes ({}: every size-1 axis).
template <class T> Variable<T> squeeze(const Variable<T>& x, const Axes& axes = {});
/// Insert a size-1 axis at position axis of the result.
template <class T> Variable<T> unsqueeze(const Variable<T>& x, std::int64_t axis);
/// Elements start .. start+length-1 along axis.
template <class T> Variable<T> narrow(const Variable<T>& x, std::int64_t axis, std::int64_t start, std::int64_t length);
/// Python's x[start:stop:step] along axis (negative start/stop count from the end).
template <class T> Variable<T> slice(const Variable<T>& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1);
/// Rows (or slices along axis) picked by a 1-D index array; repeats allowed.
template <class T> Variable<T> index_select(const Variable<T>& x, std::int64_t axis, const IndexArray& index);
/// out[..i..] = x[..index[..i..]..] along axis (torch.gather); index has x's rank.
template <class T> Variable<T> gather(const Variable<T>& x, std::int64_t axis, const IndexArray& index);
/// out = x, then out[..index[..i..]..] += src[..i..] along axis (torch.scatter_add).
template <class T> Variable<T> scatter_add(const Variable<T>& x, std::int64_t axis, const IndexArray& index, const Variable<T>& src);
/// Join along an existing axis.
template <class T> Variable<T> concat(const std::vector<Variable<T>>& xs, std::int64_t axis = 0);
/// Join along a new axis.
template <class T> Variable<T> stack(const std::vector<Variable<T>>& xs, std::int64_t axis = 0);
// concat({a, b}) and stack({a, b}): a braced list cannot deduce T for a std::vector parameter.
template <class T> Variable<T> concat(std::initializer_list<Variable<T>> xs, std::int64_t axis = 0) {
  return concat(std::vector<Variable<T>>(xs), axis);
}
template <class T> Variable<T> stack(std::initializer_list<Variable<T>> xs, std::int64_t axis = 0) {
  return stack(std::vector<Variable<T>>(xs), axis);
}
/// Pieces of the given sizes along axis (the sizes sum to the axis length).
template <class T> std::vector<Variable<T>> split(const Variable<T>& x, const std::vector<std::int64_t>& sizes, std::int64_t axis = 0);
/// [..., k] with a 1 at each label (labels in [0, k)); no gradient.
template <class T = float> Variable<T> one_hot(const IndexArray& labels, std::int64_t num_classes);

}  // namespace tg
