#pragma once
// NumPy's broadcasting rules on shapes (no arrays): what the elementwise kernels, the ops and the
// layers all check shapes against.
#include "variable.hpp"

namespace tg {

/// The NumPy broadcast of two shapes; a tg::Error naming op when they do not broadcast.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
/// Does an array of `shape` broadcast to exactly `target` (NumPy's rules, one way)?
bool broadcastable_to(const Shape& shape, const Shape& target);

}  // namespace tg
