#pragma once
// Large elementwise loops split over the cores (internal to the library, not installed).
// parallel_for(n, body) runs body(begin, end) over contiguous chunks of [0, n): in the caller
// alone below `parallel_threshold` elements, where waking a thread costs more than it saves,
// and above it on the caller and the library's worker threads together. The workers sleep on
// a condition variable between loops (they never spin, so they do not take cores from
// OpenBLAS's threads), and one loop at a time uses them: a loop started while another thread's
// loop holds them runs in its own thread, as it would on one core.
#include <cstddef>
#include <type_traits>
#include <utility>

namespace tg::kernels {

/// Elements below which a loop stays on the calling thread (measured: a [256,512] float add
/// gains nothing from a second core, a 1M-element one halves).
inline constexpr std::size_t parallel_threshold = std::size_t(1) << 17;

/// How many threads a large loop uses (the caller and the workers): the cores, at most 8.
std::size_t parallel_threads();

namespace detail {
/// body(context, begin, end): the loop's body, type-erased without an allocation.
using ChunkFn = void (*)(void* context, std::size_t begin, std::size_t end);
void parallel_chunks(std::size_t n, ChunkFn fn, void* context);
}  // namespace detail

/// body(begin, end) over [0, n), split across threads when n is large. body must not throw.
template <class Body>
void parallel_for(std::size_t n, Body&& body) {
  if (n < parallel_threshold) {
    body(std::size_t(0), n);
    return;
  }
  detail::parallel_chunks(
      n, [](void* context, std::size_t begin, std::size_t end) { (*static_cast<std::remove_reference_t<Body>*>(context))(begin, end); },
      static_cast<void*>(&body));
}

/// body(first, last) over `rows` rows of `width` elements each, whole rows split across
/// threads when rows * width is large (the same threshold as parallel_for's elements).
template <class Body>
void parallel_rows(std::size_t rows, std::size_t width, Body&& body) {
  if (rows < 2 || rows * width < parallel_threshold) {
    body(std::size_t(0), rows);
    return;
  }
  detail::parallel_chunks(
      rows, [](void* context, std::size_t first, std::size_t last) { (*static_cast<std::remove_reference_t<Body>*>(context))(first, last); },
      static_cast<void*>(&body));
}

}  // namespace tg::kernels
