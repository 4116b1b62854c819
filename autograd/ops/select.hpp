#pragma once
// Select ops: parts of tensors picked by range or index, and tensors joined or split. Each one's
// derivative is another select op (narrow <-> zero-padded embed, gather <-> scatter_add,
// concat <-> narrow), so they all differentiate twice.
#include <initializer_list>
#include <vector>

#include "../core/variable.hpp"

namespace tg {

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
