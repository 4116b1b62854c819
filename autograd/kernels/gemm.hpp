#pragma once
// The GEMM kernel every GEMM-bound op calls: row-major C = alpha op(A) op(B) + beta C through
// OpenBLAS, transposes as flags. OpenBLAS runs on one thread per call (tapegrad sets its thread
// count to 1): a large GEMM is split over tapegrad's own threads (kernels/parallel.hpp), and one
// called inside a parallel loop (a convolution's per-sample GEMM) runs on that loop's thread.
// Internal to the library (not installed): ops reach it through this header.
#include <cstddef>

namespace tg::kernels {

/// Row-major operands with leading dimensions: A is m x k (k x m when ta), B is k x n (n x k
/// when tb), C is m x n. beta = 0 overwrites C, beta = 1 accumulates into it. A size beyond
/// BLAS's 32-bit int is a tg::Error naming the sizes, never a silent wrap.
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a, std::size_t lda,
          const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc);
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
          std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc);

/// Contiguous operands: C = op(A) op(B) (+ C when accumulate).
template <class T>
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, const T* b, T* c,
          bool accumulate = false) {
  gemm(ta, tb, m, n, k, T(1), a, ta ? m : k, b, tb ? k : n, accumulate ? T(1) : T(0), c, n);
}

/// A tg::Error naming `op` and the sizes unless every size fits BLAS's 32-bit int: checked
/// before a parallel loop whose bodies must not throw.
void check_gemm_sizes(const char* op, std::size_t m, std::size_t n, std::size_t k);

}  // namespace tg::kernels

