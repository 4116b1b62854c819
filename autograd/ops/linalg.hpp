#pragma once
// Matrix products through BLAS GEMM. Transposes are passed to GEMM as flags, never copied.
#include "../core/variable.hpp"

namespace tg {

struct MatmulOptions {
  bool transpose_a = false;  // use a's last two axes swapped
  bool transpose_b = false;
};

/// Matrix product as numpy.matmul: 1-D operands are vectors, 2-D matrices, and operands of
/// higher rank are stacks of matrices whose leading axes broadcast.
template <class T> Variable<T> matmul(const Variable<T>& a, const Variable<T>& b, MatmulOptions options = {});

/// x W^T + b for x of shape [..., in] and W of shape [out, in] (PyTorch's layout): one GEMM,
/// W passed as a transpose flag, b broadcast into the result first and the GEMM accumulating
/// onto it (beta = 1). b may be undefined (no bias), a vector [out], or any tensor that
/// broadcasts to [..., out] (the LSTM's input projection of a step, added to h W_hh^T).
template <class T> Variable<T> linear(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias = Variable<T>());

}  // namespace tg
