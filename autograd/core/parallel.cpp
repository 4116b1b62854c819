// The worker threads behind detail::parallel_for and the split GEMMs.
#include "detail/parallel.hpp"

#include "threads.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TG_CPU_RELAX() _mm_pause()
#else
#define TG_CPU_RELAX() ((void)0)
#endif

namespace tg::detail {

namespace {

/// True on a thread while it runs chunks of a loop: a loop started there (a GEMM inside a
/// convolution's per-sample loop) runs inline rather than waiting for workers that are busy.
thread_local bool inside_loop = false;

/// How long a thread spins, waiting for the next loop or for the last chunk of its own loop,
/// before it sleeps: 20 ms, so a worker stays awake through a training loop's single-threaded
/// stretches (the engine, small ops, the optimizer, the next batch). On a virtual machine a vCPU
/// that halts gives its physical core back to the host, which may return it late, so with a
/// short spin the time stolen from the process grew in busy phases (benchmarks/README.md,
/// notes). Waking a sleeping thread is slow as well. OpenMP runtimes spin too (GOMP_SPINCOUNT);
/// TAPEGRAD_SPIN_US sets it (0: sleep at once).
std::chrono::microseconds spin_time() {
  static const std::chrono::microseconds value = [] {
    const char* text = std::getenv("TAPEGRAD_SPIN_US");
    long us = 20000;
    if (text && *text) {
      char* end = nullptr;
      const long v = std::strtol(text, &end, 10);
      if (*end == '\0' && v >= 0) us = v;
    }
    return std::chrono::microseconds(us);
  }();
  return value;
}

/// Spins until done() or spin_time() has passed; true if done().
template <class Done>
bool spin_until(Done done) {
  if (done()) return true;
  const auto deadline = std::chrono::steady_clock::now() + spin_time();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      TG_CPU_RELAX();
      if (done()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

/// The workers and the one loop they run. A loop is published under a sequence number (odd
/// while its description is written, even when it is ready); its chunks are claimed through one
/// atomic word holding the loop's number (upper 40 bits) and the next chunk (lower 24), so a
/// worker that wakes late can never run a chunk of a loop that has already finished or been
/// replaced.
class Pool {
 public:
  explicit Pool(std::size_t workers) {
    for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  std::size_t threads() const { return threads_.size() + 1; }

  void run(std::size_t n, ChunkFn fn, void* context, std::size_t chunks) {
    if (inside_loop) {
      fn(context, 0, n);
      return;
    }
    std::unique_lock<std::mutex> using_pool(in_use_, std::try_to_lock);
    if (!using_pool.owns_lock() || threads_.empty()) {  // another thread's loop has the workers
      fn(context, 0, n);
      return;
    }
    // a few chunks per thread, so a worker the scheduler runs late leaves its share to the others
    if (!chunks) chunks = std::min<std::size_t>(8 * threads(), (n + 4095) / 4096);
    chunks = std::clamp<std::size_t>(chunks, 1, std::min<std::size_t>(n ? n : 1, chunk_mask));
    const std::uint64_t writing = sequence_.load(std::memory_order_relaxed) + 1;  // odd
    const std::uint64_t loop = writing + 1;                                        // even
    sequence_.store(writing, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    fn_.store(fn, std::memory_order_relaxed);
    context_.store(context, std::memory_order_relaxed);
    n_.store(n, std::memory_order_relaxed);
    chunks_.store(chunks, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    claim_.store(loop << chunk_bits, std::memory_order_relaxed);
    sequence_.store(loop, std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(m_);
      wake_.notify_all();
    }
    inside_loop = true;
    run_chunks(Loop{loop, fn, context, n, chunks});
    inside_loop = false;
    const auto all_done = [&] { return finished_.load(std::memory_order_acquire) == chunks; };
    if (!spin_until(all_done)) {
      std::unique_lock<std::mutex> lock(m_);
      done_.wait(lock, all_done);
    }
  }

 private:
  static constexpr unsigned chunk_bits = 24;
  static constexpr std::uint64_t chunk_mask = (std::uint64_t(1) << chunk_bits) - 1;
  static constexpr std::uint64_t tag_mask = (std::uint64_t(1) << (64 - chunk_bits)) - 1;

  struct Loop {
    std::uint64_t number;
    ChunkFn fn;
    void* context;
    std::size_t n, chunks;
  };

  /// Claims and runs chunks of `loop` until none is left (or the loop is no longer current).
  void run_chunks(const Loop& loop) {
    std::uint64_t word = claim_.load(std::memory_order_acquire);
    for (;;) {
      const std::size_t c = word & chunk_mask;
      if ((word >> chunk_bits) != (loop.number & tag_mask) || c >= loop.chunks) return;
      if (!claim_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel)) continue;
      loop.fn(loop.context, loop.n * c / loop.chunks, loop.n * (c + 1) / loop.chunks);
      if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == loop.chunks) {
        std::lock_guard<std::mutex> lock(m_);  // the caller may be about to sleep on done_
        done_.notify_all();
      }
      word = claim_.load(std::memory_order_acquire);
    }
  }

  /// The loop published after `seen`, once its description is complete.
  bool read_loop(std::uint64_t seen, Loop& loop) const {
    const std::uint64_t s = sequence_.load(std::memory_order_acquire);
    if (s == seen || (s & 1)) return false;
    loop = Loop{s, fn_.load(std::memory_order_relaxed), context_.load(std::memory_order_relaxed),
                n_.load(std::memory_order_relaxed), chunks_.load(std::memory_order_relaxed)};
    std::atomic_thread_fence(std::memory_order_acquire);
    return sequence_.load(std::memory_order_relaxed) == s;  // not rewritten while read
  }

  void work() {
    inside_loop = true;
    std::uint64_t seen = 0;
    Loop loop{};
    for (;;) {
      const auto published = [&] {
        const std::uint64_t s = sequence_.load(std::memory_order_acquire);
        return s != seen && !(s & 1);
      };
      if (!spin_until(published)) {
        sleeping_.fetch_add(1, std::memory_order_seq_cst);
        {
          std::unique_lock<std::mutex> lock(m_);
          wake_.wait(lock, published);
        }
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (!read_loop(seen, loop)) continue;
      seen = loop.number;
      run_chunks(loop);
    }
  }

  std::mutex in_use_;
  std::mutex m_;  // only for sleeping and waking
  std::condition_variable wake_, done_;
  std::atomic<std::uint64_t> sequence_{0}, claim_{0};
  std::atomic<ChunkFn> fn_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<std::size_t> n_{0}, chunks_{0}, finished_{0};
  std::atomic<int> sleeping_{0};
  std::vector<std::thread> threads_;
};

/// The threads loops use, caller included: TAPEGRAD_NUM_THREADS, else OPENBLAS_NUM_THREADS (so
/// one MPI rank per core, started with OPENBLAS_NUM_THREADS=1, runs on one thread), else the
/// cores; at most 8. Read once, when the first large loop starts.
std::size_t configured_threads() {
  for (const char* name : {"TAPEGRAD_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
    const char* text = std::getenv(name);
    if (!text || !*text) continue;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (*end == '\0' && value > 0) return std::clamp<std::size_t>(static_cast<std::size_t>(value), 1, 8);
  }
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
}

Pool& pool() {
  // Never destroyed: the workers sleep through the process's exit instead of being joined while
  // a static destructor elsewhere might still run a loop.
  static Pool* const instance = new Pool(configured_threads() - 1);
  return *instance;
}

}  // namespace

std::size_t parallel_threads() { return pool().threads(); }

}  // namespace tg::detail

namespace tg {
std::size_t get_num_threads() { return detail::parallel_threads(); }
}  // namespace tg

namespace tg::detail {

bool inside_parallel_loop() { return inside_loop; }

void parallel_chunks(std::size_t n, ChunkFn fn, void* context, std::size_t chunks) { pool().run(n, fn, context, chunks); }

}  // namespace tg::detail
