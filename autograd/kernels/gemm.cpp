// GEMM through cblas, with every size checked against BLAS's int before the call, split over
// tapegrad's threads with OpenBLAS on one thread per call.
#include "gemm.hpp"

#include <cblas.h>

#include <climits>
#include <string>

#include "../core/error.hpp"
#include "../core/detail/parallel.hpp"

namespace tg::kernels {

namespace {
int blas_int(std::size_t v, std::size_t m, std::size_t n, std::size_t k) {
  if (v > static_cast<std::size_t>(INT_MAX))
    throw Error("gemm: sizes m=" + std::to_string(m) + ", n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                " exceed BLAS's 32-bit limit of " + std::to_string(INT_MAX) + " per dimension");
  return static_cast<int>(v);
}
CBLAS_TRANSPOSE flag(bool t) { return t ? CblasTrans : CblasNoTrans; }

void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double* a, int lda,
               const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/// Multiply-adds below which a GEMM stays on the calling thread: OpenBLAS's own threshold for
/// threading a GEMM (SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD = 65536 * 4).
constexpr double split_threshold = 65536.0 * 4;

/// Columns (or rows) of C a part starts on a multiple of: whole register blocks of the kernels.
constexpr std::size_t split_align = 16;

/// C = alpha op(A) op(B) + beta C on OpenBLAS's calling-thread path, split into one block of
/// C's rows or columns (the longer side) per thread of tapegrad's pool when large enough. One
/// pool computes: OpenBLAS's own threads, which spin in sched_yield for a while after every
/// threaded call, took a core from the pool's element loops and convolutions, and splitting a
/// GEMM into independent blocks loses little.
template <class T>
void split_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  const int im = blas_int(m, m, n, k), in = blas_int(n, m, n, k), ik = blas_int(k, m, n, k);
  const int ilda = blas_int(lda, m, n, k), ildb = blas_int(ldb, m, n, k), ildc = blas_int(ldc, m, n, k);
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  const std::size_t threads = tg::detail::parallel_threads();
  const bool split = threads > 1 && !tg::detail::inside_parallel_loop() && double(m) * double(n) * double(k) >= split_threshold;
  const bool by_columns = n >= m;
  const std::size_t side = by_columns ? n : m;
  const std::size_t blocks = split ? std::min(threads, (side + split_align - 1) / split_align) : 1;
  if (blocks <= 1) {
    blas_gemm(flag(ta), flag(tb), im, in, ik, alpha, a, ilda, b, ildb, beta, c, ildc);
    return;
  }
  tg::detail::parallel_tasks(blocks, [&](std::size_t part) {
    const std::size_t units = (side + split_align - 1) / split_align;
    const std::size_t begin = std::min(side, units * part / blocks * split_align);
    const std::size_t end = std::min(side, units * (part + 1) / blocks * split_align);
    if (begin == end) return;
    const int len = static_cast<int>(end - begin);
    if (by_columns)  // columns [begin, end) of op(B) and C
      blas_gemm(flag(ta), flag(tb), im, len, ik, alpha, a, ilda, tb ? b + begin * ldb : b + begin, ildb, beta, c + begin, ildc);
    else  // rows [begin, end) of op(A) and C
      blas_gemm(flag(ta), flag(tb), len, in, ik, alpha, ta ? a + begin : a + begin * lda, ilda, b, ildb, beta,
                c + begin * ldc, ildc);
  });
}
}  // namespace

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a, std::size_t lda,
          const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  split_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
          std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
  split_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void check_gemm_sizes(const char* op, std::size_t m, std::size_t n, std::size_t k) {
  constexpr auto limit = static_cast<std::size_t>(INT_MAX);
  if (m > limit || n > limit || k > limit)
    throw Error(std::string(op) + ": GEMM sizes m=" + std::to_string(m) + ", n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                " exceed BLAS's 32-bit limit of " + std::to_string(INT_MAX) + " per dimension");
}

}  // namespace tg::kernels
