#pragma once
// Large elementwise loops split over the cores (internal to the library, not installed).
// parallel_for(n, body) runs body(begin, end) over contiguous chunks of [0, n): in the caller
// alone below `parallel_threshold` elements, where waking a thread costs more than it saves,
// and above it on the caller and the library's worker threads together. They are the only
// threads tapegrad computes on: its GEMMs run OpenBLAS on one thread each and are split over
// them too (kernels/gemm.cpp), so two pools never fight over the cores. Between loops the
// workers spin for a while (TAPEGRAD_SPIN_US, 20 ms by default), then sleep on a
// condition variable. One loop at a time uses them: a loop started while another thread's loop
// holds them runs in its own thread, as it would on one core.
#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace tg::detail {

/// Elements below which a loop stays on the calling thread: below it, waking a second core
/// costs about as much as that core saves.
inline constexpr std::size_t parallel_threshold = std::size_t(1) << 17;

/// How many threads a large loop uses (the caller and the workers): TAPEGRAD_NUM_THREADS, else
/// OPENBLAS_NUM_THREADS, else the cores; at most 8.
std::size_t parallel_threads();

/// True on a thread while it runs part of a parallel loop (work started there stays there).
bool inside_parallel_loop();

/// body(context, begin, end): the loop's body, type-erased without an allocation.
using ChunkFn = void (*)(void* context, std::size_t begin, std::size_t end);
/// chunks = 0: a few chunks per thread, each at least 4096 elements; otherwise exactly `chunks`.
void parallel_chunks(std::size_t n, ChunkFn fn, void* context, std::size_t chunks = 0);

/// body(begin, end) over [0, n), split across threads when n is large. body must not throw.
template <class Body>
void parallel_for(std::size_t n, Body&& body) {
  if (n < parallel_threshold) {
    body(std::size_t(0), n);
    return;
  }
  parallel_chunks(
      n, [](void* context, std::size_t begin, std::size_t end) { (*static_cast<std::remove_reference_t<Body>*>(context))(begin, end); },
      static_cast<void*>(&body));
}

/// body(task) for each task in [0, tasks), spread over the caller and the workers: for loops
/// whose iterations are few but heavy (a batch's samples), where parallel_for's element
/// threshold does not apply. body must not throw.
template <class Body>
void parallel_tasks(std::size_t tasks, Body&& body) {
  if (tasks <= 1) {
    if (tasks == 1) body(std::size_t(0));
    return;
  }
  parallel_chunks(
      tasks,
      [](void* context, std::size_t begin, std::size_t end) {
        for (std::size_t t = begin; t < end; ++t) (*static_cast<std::remove_reference_t<Body>*>(context))(t);
      },
      static_cast<void*>(&body), tasks);
}

/// body(begin, end) over `parts` contiguous ranges of [0, n) (at most n ranges), spread over the
/// threads; for per-range state such as a partial sum per range. body must not throw.
template <class Body>
void parallel_ranges(std::size_t n, std::size_t parts, Body&& body) {
  parts = std::min(parts, n);
  parallel_tasks(parts, [&](std::size_t part) { body(n * part / parts, n * (part + 1) / parts); });
}

/// body(first, last) over `rows` rows of `width` elements each, whole rows split across
/// threads (a few ranges per thread) when rows * width is large (parallel_for's threshold).
template <class Body>
void parallel_rows(std::size_t rows, std::size_t width, Body&& body) {
  if (rows < 2 || rows * width < parallel_threshold) {
    body(std::size_t(0), rows);
    return;
  }
  parallel_ranges(rows, 4 * parallel_threads(), body);
}

}  // namespace tg::detail
