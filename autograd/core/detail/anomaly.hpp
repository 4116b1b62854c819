#pragma once
// Internal to the library (not installed): what anomaly mode records and prints. While
// DetectAnomalyGuard is on, each recorded op keeps the stack that created it (captured as raw
// addresses, cheap); an error about that op prints the user's frames of it, symbolised then.
#include <cmath>
#include <memory>
#include <string>

#include <xtensor/xarray.hpp>

#include "../variable.hpp"

namespace tg::detail {

/// The stack of the calling thread now (Boost.Stacktrace).
std::unique_ptr<Trace, TraceDeleter> capture_trace();

/// "\n  where the op was created: ..." with the frames outside tapegrad, innermost first.
std::string where_created(const Trace& trace);

/// The public tapegrad op on the calling thread's stack nearest to it ("matmul"), or "" when
/// the stack has no names (a stripped binary). Used on error paths only: it symbolises.
std::string calling_op();

template <class T>
bool all_finite(const xt::xarray<T>& a) {
  const T* p = a.data();
  for (std::size_t i = 0, n = a.size(); i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

}  // namespace tg::detail
