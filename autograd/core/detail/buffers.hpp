#pragma once
// Internal (tg::detail, not installed): the library's own cache of large array buffers. A
// training step frees its activations and gradients and allocates the same sizes again in the
// next step; glibc hands such multi-megabyte buffers back to the kernel and every page is
// faulted in again every step, and page faults are slow. The values of freed nodes
// that are large go to a per-thread cache instead, and the kernels take their result arrays
// from it. The process's malloc settings are left alone.
#include <xtensor/xarray.hpp>

#include "../variable.hpp"

namespace tg::detail {

// Under AddressSanitizer every node and buffer goes through new and delete, so it sees each
// use after free. ThreadSanitizer keeps the recycling: a thread still touching a node another
// thread has recycled shows as a race.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool recycle_memory = false;
#else
inline constexpr bool recycle_memory = true;
#endif

/// Buffers below this many bytes are left to malloc, which keeps such memory itself.
inline constexpr std::size_t min_cached_bytes = 64 << 10;

/// An uninitialised array of `shape`: a cached buffer of that many elements when this thread
/// has one, else a new allocation (small arrays always are).
template <class T>
xt::xarray<T> empty_array(const Shape& shape);

/// Offers a large value (of a node being freed) to this thread's cache; true when taken (the
/// value is then left empty).
template <class T>
bool cache_buffer(xt::xarray<T>& value) noexcept;

}  // namespace tg::detail
