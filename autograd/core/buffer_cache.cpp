// The per-thread cache of large array buffers (detail/buffers.hpp).
#include "detail/buffers.hpp"

#include <vector>

namespace tg::detail {

namespace {
// Set when this thread's cache is destroyed (thread exit): a buffer freed after that, by a
// later thread_local or static destructor, goes back to malloc. A bool has no destructor, so
// it can still be read then.
thread_local bool cache_gone = false;

/// Large buffers freed by this thread, newest last, for results of the same element count
/// (detail/buffers.hpp). Bounded in count and bytes; past either bound the oldest goes.
template <class T>
class BufferCache {
 public:
  static constexpr std::size_t min_bytes = min_cached_bytes;
  // Bounded so that what it holds beyond a step's live memory stays small next to a model's
  // (a larger bound visibly raised a deep MLP's peak RSS).
  static constexpr std::size_t max_buffers = 32;
  static constexpr std::size_t max_bytes = std::size_t(64) << 20;
  BufferCache() { kept_.reserve(max_buffers); }
  ~BufferCache() { cache_gone = true; }
  bool keep(xt::xarray<T>& value) noexcept {
    const std::size_t bytes = value.size() * sizeof(T);
    if (bytes < min_bytes || bytes > max_bytes) return false;
    while (kept_.size() == max_buffers || bytes_ + bytes > max_bytes) drop_oldest();
    bytes_ += bytes;
    kept_.push_back(std::move(value));  // never reallocates: reserved
    return true;
  }
  bool take(std::size_t count, xt::xarray<T>& into) noexcept {
    for (std::size_t i = kept_.size(); i-- > 0;)
      if (kept_[i].size() == count) {
        into = std::move(kept_[i]);
        kept_.erase(kept_.begin() + static_cast<std::ptrdiff_t>(i));
        bytes_ -= count * sizeof(T);
        return true;
      }
    return false;
  }

 private:
  void drop_oldest() noexcept {
    bytes_ -= kept_.front().size() * sizeof(T);
    kept_.erase(kept_.begin());
  }
  std::vector<xt::xarray<T>> kept_;
  std::size_t bytes_ = 0;
};

template <class T>
BufferCache<T>& buffer_cache() {
  thread_local BufferCache<T> cache;
  return cache;
}
}  // namespace

template <class T>
xt::xarray<T> empty_array(const Shape& shape) {
  if (recycle_memory && !cache_gone) {
    std::size_t count = 1;
    for (auto d : shape) count *= d;
    xt::xarray<T> a;
    if (count * sizeof(T) >= BufferCache<T>::min_bytes && buffer_cache<T>().take(count, a)) {
      a.resize(shape);  // the same element count: the buffer stays
      return a;
    }
  }
  return xt::empty<T>(shape);
}

template <class T>
bool cache_buffer(xt::xarray<T>& value) noexcept {
  return recycle_memory && !cache_gone && buffer_cache<T>().keep(value);
}


template xt::xarray<float> empty_array<float>(const Shape&);
template xt::xarray<double> empty_array<double>(const Shape&);
template bool cache_buffer(xt::xarray<float>&) noexcept;
template bool cache_buffer(xt::xarray<double>&) noexcept;

}  // namespace tg::detail
