#pragma once
// Softmax and log-softmax along contiguous rows (the last axis): one pass for the max, one for
// exp and the sum (vectorised through libmvec, vector_math.hpp), one to scale. The general
// axis form goes through broadcast arrays of maxima and sums, three temporaries and five
// passes over memory.
// Internal to the library (not installed).
#include <cmath>
#include <cstddef>
#include <limits>

#include "../core/detail/parallel.hpp"
#include "vector_math.hpp"

// The row kernels are cloned for AVX-512 and AVX2 and the widest the CPU runs is picked at load
// time (GCC's target_clones, through glibc's ifunc): the library is built for baseline x86-64, so
// libmvec's exp would otherwise run 4 lanes at a time, and exp dominates a row's softmax (W6's
// attention takes one over 1M floats each forward). Not under
// ThreadSanitizer: the ifunc resolvers run before its runtime is set up and every program
// crashed at start.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__AVX2__) && \
    !defined(__SANITIZE_THREAD__)
#define TG_WIDEST_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TG_WIDEST_SIMD
#endif

namespace tg::kernels {

/// The shift that keeps exp(x - m) in range: the row's max, or 0 when that is not finite (a
/// row of -inf stays -inf, so its exp is 0; +inf gives inf/inf = NaN, as PyTorch).
template <class T>
T row_shift(const T* x, std::size_t n) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (std::size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return std::isfinite(m) ? m : T(0);
}

/// out = softmax of one row of length n (see softmax_rows).
template <class T>
TG_WIDEST_SIMD void softmax_row(const T* x, T* out, std::size_t n, bool empty_rows_to_zero) {
  const T m = row_shift(x, n);
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (std::size_t i = 0; i < n; ++i) {
    const T e = std::exp(x[i] - m);
    out[i] = e;
    s += e;
  }
  const T scale = (empty_rows_to_zero && s == T(0)) ? T(0) : T(1) / s;
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] *= scale;
}

/// out = log_softmax of one row of length n (see log_softmax_rows).
template <class T>
TG_WIDEST_SIMD void log_softmax_row(const T* x, T* out, std::size_t n) {
  const T m = row_shift(x, n);
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (std::size_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
  const T log_s = std::log(s);
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] = (x[i] - m) - log_s;
}

/// out = softmax of each of `rows` rows of length n (rows split over the cores when large). A
/// row whose exponentials sum to 0 (every entry -inf, e.g. every key masked) is all 0 when
/// `empty_rows_to_zero` (attention's convention), else 0/0 = NaN (softmax's, as PyTorch). A NaN
/// anywhere in a row makes the row NaN.
template <class T>
void softmax_rows(const T* x, T* out, std::size_t rows, std::size_t n, bool empty_rows_to_zero) {
  tg::detail::parallel_rows(rows, n, [=](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) softmax_row(x + r * n, out + r * n, n, empty_rows_to_zero);
  });
}

/// log_softmax of each row: (x - m) - log(sum(exp(x - m))), in that order: the shifted
/// values are small, so nothing is lost to rounding at |x| ~ 1000 (x - logsumexp would).
template <class T>
void log_softmax_rows(const T* x, T* out, std::size_t rows, std::size_t n) {
  tg::detail::parallel_rows(rows, n, [=](std::size_t first, std::size_t last) {
    for (std::size_t r = first; r < last; ++r) log_softmax_row(x + r * n, out + r * n, n);
  });
}

}  // namespace tg::kernels

#undef TG_WIDEST_SIMD
