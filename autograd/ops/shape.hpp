#pragma once
// Shape ops: the same numbers in another arrangement (reshape, broadcast, axes). Each one's
// derivative is another shape op (reshape <-> reshape, expand <-> sum_to, permute <-> permute),
// so they all differentiate twice. Picking and joining parts of tensors is in select.hpp.
#include "../core/broadcast.hpp"
#include "../core/variable.hpp"

namespace tg {

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
}  // namespace tg
