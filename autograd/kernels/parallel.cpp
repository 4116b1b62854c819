// The worker threads behind kernels::parallel_for.
#include "parallel.hpp"

#include <algorithm>
#include <cstdlib>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace tg::kernels {

namespace {

/// True on a thread while it runs chunks of a loop: a loop started there (a GEMM inside a
/// convolution's per-sample loop) runs inline rather than waiting for workers that are busy.
thread_local bool inside_loop = false;

/// The workers and the one loop they are running. Every field below `in_use` is guarded by
/// `m`; chunks are claimed under it too (a loop has only a few), so a worker that wakes late
/// can never run a chunk of a loop that has already finished.
class Pool {
 public:
  explicit Pool(std::size_t workers) {
    for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  std::size_t threads() const { return threads_.size() + 1; }

  void run(std::size_t n, detail::ChunkFn fn, void* context, std::size_t chunks) {
    if (inside_loop) {
      fn(context, 0, n);
      return;
    }
    std::unique_lock<std::mutex> using_pool(in_use_, std::try_to_lock);
    if (!using_pool.owns_lock() || threads_.empty()) {  // another thread's loop has the workers
      fn(context, 0, n);
      return;
    }
    std::unique_lock<std::mutex> lock(m_);
    fn_ = fn;
    context_ = context;
    n_ = n;
    // a few chunks per thread, so a worker the scheduler wakes late leaves its share to the others
    chunks_ = chunks ? chunks : std::min<std::size_t>(8 * threads(), (n + 4095) / 4096);
    next_ = finished_ = 0;
    ++generation_;
    wake_.notify_all();
    inside_loop = true;
    run_chunks(lock);
    inside_loop = false;
    done_.wait(lock, [this] { return finished_ == chunks_; });
  }

 private:
  void run_chunks(std::unique_lock<std::mutex>& lock) {
    while (next_ < chunks_) {
      const std::size_t c = next_++;
      const detail::ChunkFn fn = fn_;
      void* const context = context_;
      const std::size_t begin = n_ * c / chunks_, end = n_ * (c + 1) / chunks_;
      lock.unlock();
      fn(context, begin, end);
      lock.lock();
      if (++finished_ == chunks_) done_.notify_all();
    }
  }
  void work() {
    inside_loop = true;
    std::unique_lock<std::mutex> lock(m_);
    std::uint64_t seen = 0;
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      run_chunks(lock);
    }
  }

  std::mutex in_use_;
  std::mutex m_;
  std::condition_variable wake_, done_;
  detail::ChunkFn fn_ = nullptr;
  void* context_ = nullptr;
  std::size_t n_ = 0, chunks_ = 0, next_ = 0, finished_ = 0;
  std::uint64_t generation_ = 0;
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

void detail::parallel_chunks(std::size_t n, ChunkFn fn, void* context, std::size_t chunks) { pool().run(n, fn, context, chunks); }

}  // namespace tg::kernels
