#pragma once
// Matrix products through BLAS GEMM. Transposes are passed to GEMM as flags, never copied.
#include "../variable.hpp"

namespace tg {

struct MatmulOptions {
  bool transpose_a = false;  // use a's last two axes swapped
  bool transpose_b = false;
};

/// Matrix product as numpy.matmul: 1-D operands are vectors, 2-D matrices, and operands of
/// higher rank are stacks of matrices whose leading axes broadcast.
template <class T> Variable<T> matmul(const Variable<T>& a, const Variable<T>& b, MatmulOptions options = {});

}  // namespace tg
