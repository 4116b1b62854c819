// GEMM through cblas, with every size checked against BLAS's int before the call.
#include "gemm.hpp"

#include <cblas.h>

#include <climits>
#include <string>

#include "../error.hpp"

namespace tg::kernels {

namespace {
int blas_int(std::size_t v, std::size_t m, std::size_t n, std::size_t k) {
  if (v > static_cast<std::size_t>(INT_MAX))
    throw Error("gemm: sizes m=" + std::to_string(m) + ", n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                " exceed BLAS's 32-bit limit of " + std::to_string(INT_MAX) + " per dimension");
  return static_cast<int>(v);
}
CBLAS_TRANSPOSE flag(bool t) { return t ? CblasTrans : CblasNoTrans; }
}  // namespace

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a, std::size_t lda,
          const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, flag(ta), flag(tb), blas_int(m, m, n, k), blas_int(n, m, n, k), blas_int(k, m, n, k), alpha,
              a, blas_int(lda, m, n, k), b, blas_int(ldb, m, n, k), beta, c, blas_int(ldc, m, n, k));
}
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
          std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
  cblas_dgemm(CblasRowMajor, flag(ta), flag(tb), blas_int(m, m, n, k), blas_int(n, m, n, k), blas_int(k, m, n, k), alpha,
              a, blas_int(lda, m, n, k), b, blas_int(ldb, m, n, k), beta, c, blas_int(ldc, m, n, k));
}

GemmOnCallingThread::GemmOnCallingThread() : previous_(openblas_get_num_threads()) {
  if (previous_ > 1) openblas_set_num_threads(1);
}
GemmOnCallingThread::~GemmOnCallingThread() {
  if (previous_ > 1) openblas_set_num_threads(previous_);
}

void check_gemm_sizes(const char* op, std::size_t m, std::size_t n, std::size_t k) {
  constexpr auto limit = static_cast<std::size_t>(INT_MAX);
  if (m > limit || n > limit || k > limit)
    throw Error(std::string(op) + ": GEMM sizes m=" + std::to_string(m) + ", n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                " exceed BLAS's 32-bit limit of " + std::to_string(INT_MAX) + " per dimension");
}

}  // namespace tg::kernels
