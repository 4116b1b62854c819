// Pooling: every kind is a set of windows per spatial axis (PoolWindows) over the planes of
// [N, C, ...]. Max pooling records the argmax positions; its derivative is plane_scatter, whose
// derivative is plane_gather and back. Average pooling's derivative is its adjoint, and back.
#include "pool.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "../core/detail/buffers.hpp"
#include "../core/detail/numel.hpp"
#include "../core/detail/parallel.hpp"
#include "instantiate.hpp"

namespace tg {

namespace {

/// One window along one axis: taps start + j step for j < count, those inside [0, size) used;
/// divisor is the window's share of an average's divisor along this axis.
struct AxisWindow {
  std::int64_t start = 0;
  std::size_t count = 0, step = 1, divisor = 1;
};

/// The windows of a pooling of [N, C, (H,) W] planes into [N, C, (H_out,) W_out].
struct PoolWindows {
  std::size_t planes = 0, height = 1, width = 1;
  std::vector<AxisWindow> rows, cols;  // H_out and W_out windows
  bool sliding_cols = false;           // cols[o] starts at o * col_stride - col_pad (not adaptive)
  std::size_t col_stride = 1, col_pad = 0, col_dilation = 1, col_kernel = 1;
  bool tiles_2x2 = false;  // window (oh, ow) is rows 2oh, 2oh+1 and columns 2ow, 2ow+1, all inside (MaxPool2d(2))
  Shape input_shape, output_shape;
  std::size_t out_plane() const { return rows.size() * cols.size(); }
  std::size_t in_plane() const { return height * width; }
};

using SharedWindows = std::shared_ptr<const PoolWindows>;
using SharedIndices = std::shared_ptr<const IndexArray>;

/// The valid taps of one axis window: [first, last) in j, so start + j step is in [0, size).
std::pair<std::size_t, std::size_t> valid_taps(const AxisWindow& w, std::size_t size) {
  std::size_t first = 0, last = 0;
  for (std::size_t j = 0; j < w.count; ++j) {
    const std::int64_t i = w.start + static_cast<std::int64_t>(j * w.step);
    if (i < 0) first = j + 1;
    if (i < static_cast<std::int64_t>(size)) last = j + 1;
  }
  return {first, std::max(first, last)};
}

/// best, tap = value, at when take: with masks, not a branch (a compiler turns a plain ternary into
/// a jump, and on real data "v > best" is a coin flip the branch predictor loses).
template <class T, class I>
inline void pick_if(bool take, T value, I at, T& best, I& tap) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const Bits mask = Bits(0) - static_cast<Bits>(take);
  best = std::bit_cast<T>((std::bit_cast<Bits>(value) & mask) | (std::bit_cast<Bits>(best) & ~mask));
  using U = std::make_unsigned_t<I>;
  const U wide = U(0) - static_cast<U>(take);
  tap = static_cast<I>((static_cast<U>(at) & wide) | (static_cast<U>(tap) & ~wide));
}

/// max_value of one plane of 2x2 windows side by side: four taps per output in registers, the
/// positions in 32 bits (half the width of the selects), widened to Index after.
template <class T>
void max_2x2(const PoolWindows& w, const T* plane, T* out, Index* indices, std::int32_t* where) {
  const std::size_t out_h = w.rows.size(), out_w = w.cols.size();
  const auto below = static_cast<std::int32_t>(w.width);
  for (std::size_t oh = 0; oh < out_h; ++oh, out += out_w) {
    const auto top = static_cast<std::int32_t>(2 * oh * w.width);
    const T* r0 = plane + top;
    const T* r1 = r0 + below;
    std::int32_t* row_where = where + oh * out_w;
    for (std::size_t k = 0; k < out_w; ++k) {
      const T a = r0[2 * k], b = r0[2 * k + 1], c = r1[2 * k], d = r1[2 * k + 1];
      const std::int32_t at = top + static_cast<std::int32_t>(2 * k);
      T best = a;
      std::int32_t tap = at;
      pick_if((b > best) | (b != b), b, at + 1, best, tap);  // b != b: NaN
      pick_if((c > best) | (c != c), c, at + below, best, tap);
      pick_if((d > best) | (d != d), d, at + below + 1, best, tap);
      out[k] = best;
      row_where[k] = tap;
    }
  }
  for (std::size_t o = 0; o < w.out_plane(); ++o) indices[o] = where[o];
}

/// max_value for MaxPool2d(2)'s windows: one plane at a time, no per-window bookkeeping.
template <class T>
void max_of_2x2_tiles(const xt::xarray<T>& x, const PoolWindows& w, xt::xarray<T>& out, IndexArray& indices) {
  detail::parallel_rows(w.planes, w.in_plane(), [&](std::size_t p0, std::size_t p1) {
    std::vector<std::int32_t> where(w.out_plane());
    for (std::size_t p = p0; p < p1; ++p)
      max_2x2(w, x.data() + p * w.in_plane(), out.data() + p * w.out_plane(), indices.data() + p * w.out_plane(), where.data());
  });
}

/// Per window along one axis, the plane offsets of its taps inside the image (`scale`: the
/// distance between neighbours on that axis, the width for rows, 1 for columns).
std::vector<std::vector<std::int64_t>> tap_offsets(const std::vector<AxisWindow>& windows, std::size_t size, std::int64_t scale) {
  std::vector<std::vector<std::int64_t>> offsets;
  offsets.reserve(windows.size());
  for (const auto& window : windows) {
    const auto [first, last] = valid_taps(window, size);
    auto& o = offsets.emplace_back();
    for (std::size_t j = first; j < last; ++j) o.push_back((window.start + static_cast<std::int64_t>(j * window.step)) * scale);
  }
  return offsets;
}

/// The output columns [lo, hi) of sliding windows whose taps all lie inside the image: a
/// regular loop that vectorises. Empty for adaptive windows and planes too large for 32-bit positions.
std::pair<std::size_t, std::size_t> interior_columns(const PoolWindows& w, const std::vector<std::vector<std::int64_t>>& col_offsets) {
  if (!w.sliding_cols || w.in_plane() >= (std::size_t(1) << 31)) return {0, 0};
  std::size_t lo = w.cols.size(), hi = 0;
  for (std::size_t o = 0; o < w.cols.size(); ++o)
    if (col_offsets[o].size() == w.col_kernel) lo = std::min(lo, o), hi = o + 1;
  return hi < lo ? std::pair<std::size_t, std::size_t>{0, 0} : std::pair{lo, hi};
}

/// The maximum and its plane offset of one window, from its taps' row and column offsets; a
/// dilated window whose taps all fall in the padding gives -inf at -1.
template <class T>
void max_window(const T* plane, const std::vector<std::int64_t>& rows, const std::vector<std::int64_t>& cols, T& out, Index& index) {
  if (rows.empty() || cols.empty()) {
    out = -std::numeric_limits<T>::infinity();
    index = -1;
    return;
  }
  std::int64_t best_index = rows[0] + cols[0];
  T best = plane[best_index];
  for (const std::int64_t r : rows)
    for (const std::int64_t c : cols) {
      const T v = plane[r + c];
      const bool take = (v > best) | (v != v);  // v != v: NaN
      best = take ? v : best;
      best_index = take ? r + c : best_index;
    }
  out = best;
  index = best_index;
}

/// One tap of n windows side by side: the tap of window k is src[k step], at plane offset
/// first + k step. A step known at compile time (1, 2: most pooling) lets the loop vectorise.
template <class T, class Step>
void take_larger_taps(const T* src, std::size_t n, Step step, std::int32_t first, T* best, std::int32_t* where) {
  const auto step32 = static_cast<std::int32_t>(step);
  for (std::size_t k = 0; k < n; ++k) {
    const T v = src[k * step];
    const bool take = (v > best[k]) | (v != v);  // v != v: NaN
    best[k] = take ? v : best[k];
    where[k] = take ? first + static_cast<std::int32_t>(k) * step32 : where[k];
  }
}

/// The windows of one output row whose columns [lo, hi) lie inside the image, tap by tap over
/// all of them. Positions in 32 bits beside 32-bit floats (planes are checked to fit), so the
/// selects vectorise as masks, with no branch on "v > best" (a coin flip on real data).
template <class T>
void max_interior_windows(const PoolWindows& w, const T* plane, const std::vector<std::int64_t>& rows, std::size_t lo, std::size_t hi,
                          T* out, Index* indices, std::int32_t* where) {
  const auto base = static_cast<std::int64_t>(lo * w.col_stride) - static_cast<std::int64_t>(w.col_pad);
  const std::size_t n = hi - lo, stride = w.col_stride;
  T* best = out + lo;
  for (std::size_t k = 0; k < n; ++k) {
    where[k] = static_cast<std::int32_t>(rows[0] + base + static_cast<std::int64_t>(k * stride));
    best[k] = plane[where[k]];
  }
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t j = (r == 0 ? 1 : 0); j < w.col_kernel; ++j) {
      const std::int64_t first = rows[r] + base + static_cast<std::int64_t>(j * w.col_dilation);
      const auto first32 = static_cast<std::int32_t>(first);
      if (stride == 2)
        take_larger_taps(plane + first, n, std::integral_constant<std::size_t, 2>(), first32, best, where);
      else if (stride == 1)
        take_larger_taps(plane + first, n, std::integral_constant<std::size_t, 1>(), first32, best, where);
      else
        take_larger_taps(plane + first, n, stride, first32, best, where);
    }
  for (std::size_t k = 0; k < n; ++k) indices[lo + k] = where[k];
}

/// One output row of windows: the row offsets of its taps, each column's column offsets, and
/// the interior columns [lo, hi) (see interior_columns).
struct WindowRow {
  const std::vector<std::int64_t>& rows;
  const std::vector<std::vector<std::int64_t>>& col_offsets;
  std::size_t lo, hi;  // the interior columns
};

/// One output row of windows: the interior columns in one vectorised sweep, the others one by one.
template <class T>
void max_window_row(const PoolWindows& w, const T* plane, const WindowRow& row, T* out, Index* indices, std::int32_t* where) {
  const auto one_by_one = [&](std::size_t from, std::size_t to) {
    for (std::size_t ow = from; ow < to; ++ow) max_window(plane, row.rows, row.col_offsets[ow], out[ow], indices[ow]);
  };
  if (row.hi <= row.lo || row.rows.empty()) return one_by_one(0, w.cols.size());
  one_by_one(0, row.lo);
  max_interior_windows(w, plane, row.rows, row.lo, row.hi, out, indices, where);
  one_by_one(row.hi, w.cols.size());
}

/// Maximum and flat argmax of each window; a NaN wins (as PyTorch: the last NaN of the window).
/// The comparisons are selects, not branches: on real data "v > best" is a coin flip the branch
/// predictor loses, and a mispredicted branch per element costs far more than a select.
template <class T>
std::pair<xt::xarray<T>, IndexArray> max_value(const xt::xarray<T>& x, const PoolWindows& w) {
  xt::xarray<T> out = detail::empty_array<T>(w.output_shape);
  IndexArray indices = xt::empty<Index>(w.output_shape);
  if (w.tiles_2x2) {
    max_of_2x2_tiles(x, w, out, indices);
    return {std::move(out), std::move(indices)};
  }
  const auto row_offsets = tap_offsets(w.rows, w.height, static_cast<std::int64_t>(w.width));
  const auto col_offsets = tap_offsets(w.cols, w.width, 1);
  const auto interior = interior_columns(w, col_offsets);  // not a structured binding: clang 14 cannot capture one
  const std::size_t lo = interior.first, hi = interior.second, out_w = w.cols.size();
  detail::parallel_rows(w.planes, w.in_plane(), [&](std::size_t p0, std::size_t p1) {
    std::vector<std::int32_t> where(out_w);
    for (std::size_t p = p0; p < p1; ++p) {
      const T* plane = x.data() + p * w.in_plane();
      for (std::size_t oh = 0; oh < row_offsets.size(); ++oh) {
        const std::size_t at = p * w.out_plane() + oh * out_w;
        max_window_row(w, plane, WindowRow{row_offsets[oh], col_offsets, lo, hi}, out.data() + at, indices.data() + at, where.data());
      }
    }
  });
  return {std::move(out), std::move(indices)};
}

template <class T>
Variable<T> plane_gather(const Variable<T>& x, const SharedIndices& indices, const SharedWindows& w);

/// out[plane, indices[plane, o]] += g[plane, o]: the derivative of max pooling. Linear in g;
/// its derivative is plane_gather.
template <class T>
Variable<T> plane_scatter(const Variable<T>& g, const SharedIndices& indices, const SharedWindows& w) {
  xt::xarray<T> out = detail::empty_array<T>(w->input_shape);
  detail::parallel_rows(w->planes, w->in_plane(), [&](std::size_t p0, std::size_t p1) {
    const T* pg = g.value().data() + p0 * w->out_plane();
    const Index* pi = indices->data() + p0 * w->out_plane();
    for (std::size_t p = p0; p < p1; ++p) {
      T* plane = out.data() + p * w->in_plane();
      std::fill_n(plane, w->in_plane(), T(0));
      for (std::size_t o = 0; o < w->out_plane(); ++o, ++pg, ++pi)
        if (*pi >= 0) plane[*pi] += *pg;  // -1: a window with no tap inside the input
    }
  });
  return make_op<T>("max_pool_backward", std::move(out), {g}, [indices, w](const GradContext<T>& c) -> Grads<T> {
    return {plane_gather(c.grad, indices, w)};
  });
}

/// out[plane, o] = x[plane, indices[plane, o]]; its derivative is plane_scatter.
template <class T>
Variable<T> plane_gather(const Variable<T>& x, const SharedIndices& indices, const SharedWindows& w) {
  xt::xarray<T> out = detail::empty_array<T>(w->output_shape);
  detail::parallel_rows(w->planes, w->in_plane(), [&](std::size_t p0, std::size_t p1) {
    T* po = out.data() + p0 * w->out_plane();
    const Index* pi = indices->data() + p0 * w->out_plane();
    for (std::size_t p = p0; p < p1; ++p) {
      const T* plane = x.value().data() + p * w->in_plane();
      for (std::size_t o = 0; o < w->out_plane(); ++o, ++po, ++pi) *po = *pi >= 0 ? plane[*pi] : T(0);
    }
  });
  return make_op<T>("max_pool_gather", std::move(out), {x}, [indices, w](const GradContext<T>& c) -> Grads<T> {
    return {plane_scatter(c.grad, indices, w)};
  });
}

/// The maximum of each window, recorded with its derivative; the argmax positions through `indices`.
template <class T>
Variable<T> max_pool(const char* op, const Variable<T>& x, const SharedWindows& w, SharedIndices* indices_out = nullptr) {
  auto [value, index_values] = max_value(x.value(), *w);
  auto indices = std::make_shared<const IndexArray>(std::move(index_values));
  if (indices_out) *indices_out = indices;
  return make_op<T>(op, std::move(value), {x}, [indices, w](const GradContext<T>& c) -> Grads<T> {
    return {plane_scatter(c.grad, indices, w)};
  });
}

/// max_pool with a copy of the indices for the caller (the shared ones stay with the derivative).
template <class T>
PoolResult<T> max_pool_with_indices(const char* op, const Variable<T>& x, const SharedWindows& w) {
  SharedIndices indices;
  Variable<T> out = max_pool(op, x, w, &indices);
  return {std::move(out), *indices};
}

/// Calls f(plane offset of the tap, weight) for every tap of output (oh, ow) of an average.
template <class F>
void for_each_mean_tap(const PoolWindows& w, std::size_t oh, std::size_t ow, F f) {
  const AxisWindow &rw = w.rows[oh], &cw = w.cols[ow];
  const auto [r0, r1] = valid_taps(rw, w.height);
  const auto [c0, c1] = valid_taps(cw, w.width);
  const double weight = 1.0 / static_cast<double>(rw.divisor * cw.divisor);
  for (std::size_t i = r0; i < r1; ++i)
    for (std::size_t j = c0; j < c1; ++j)
      f(static_cast<std::size_t>(rw.start + static_cast<std::int64_t>(i * rw.step)) * w.width +
            static_cast<std::size_t>(cw.start + static_cast<std::int64_t>(j * cw.step)),
        weight);
}

template <class T>
Variable<T> window_mean_adjoint(const Variable<T>& g, const SharedWindows& w, const char* op);

/// The mean of each window; linear, its derivative is the adjoint spread.
template <class T>
Variable<T> window_mean(const Variable<T>& x, const SharedWindows& w, const char* op) {
  xt::xarray<T> out = detail::empty_array<T>(w->output_shape);
  detail::parallel_rows(w->planes, w->in_plane(), [&](std::size_t p0, std::size_t p1) {
    T* po = out.data() + p0 * w->out_plane();
    for (std::size_t p = p0; p < p1; ++p) {
      const T* plane = x.value().data() + p * w->in_plane();
      for (std::size_t oh = 0; oh < w->rows.size(); ++oh)
        for (std::size_t ow = 0; ow < w->cols.size(); ++ow, ++po) {
          T acc = 0;
          T scale = 0;
          for_each_mean_tap(*w, oh, ow, [&](std::size_t i, double weight) {
            acc += plane[i];
            scale = static_cast<T>(weight);
          });
          *po = acc * scale;
        }
    }
  });
  return make_op<T>(op, std::move(out), {x}, [w, op](const GradContext<T>& c) -> Grads<T> {
    return {window_mean_adjoint(c.grad, w, op)};
  });
}

/// Each output's gradient spread evenly (times its weight) over its window's taps.
template <class T>
Variable<T> window_mean_adjoint(const Variable<T>& g, const SharedWindows& w, const char* op) {
  xt::xarray<T> out = detail::empty_array<T>(w->input_shape);
  detail::parallel_rows(w->planes, w->in_plane(), [&](std::size_t p0, std::size_t p1) {
    const T* pg = g.value().data() + p0 * w->out_plane();
    for (std::size_t p = p0; p < p1; ++p) {
      T* plane = out.data() + p * w->in_plane();
      std::fill_n(plane, w->in_plane(), T(0));
      for (std::size_t oh = 0; oh < w->rows.size(); ++oh)
        for (std::size_t ow = 0; ow < w->cols.size(); ++ow, ++pg) {
          const T v = *pg;
          for_each_mean_tap(*w, oh, ow, [&](std::size_t i, double weight) { plane[i] += v * static_cast<T>(weight); });
        }
    }
  });
  return make_op<T>(op, std::move(out), {g}, [w, op](const GradContext<T>& c) -> Grads<T> {
    return {window_mean(c.grad, w, op)};
  });
}

// ---- windows from the user's options, with the checks --------------------------------------

/// PyTorch's pooling output size, with ceil_mode's rule that the last window starts inside
/// the input or its left padding.
std::size_t pool_out_size(const char* op, const std::string& shapes, std::size_t size, std::size_t kernel, std::size_t stride,
                          std::size_t pad, std::size_t dilation, bool ceil_mode) {
  TG_CHECK(kernel > 0 && stride > 0 && dilation > 0, op, shapes + ": kernel_size, stride and dilation must be positive");
  // the span and the padded size in int64 (beyond 2^62 they would wrap, here or in the windows)
  constexpr std::size_t limit = std::size_t{1} << 62;
  std::size_t window = 0, pads = 0, padded_size = 0;
  const bool overflow = __builtin_mul_overflow(dilation, kernel - 1, &window) || ++window > limit ||
                        __builtin_mul_overflow(pad, std::size_t{2}, &pads) ||
                        __builtin_add_overflow(size, pads, &padded_size) || padded_size > limit;
  TG_CHECK(!overflow, op,
           shapes + ": kernel_size " + std::to_string(kernel) + ", padding " + std::to_string(pad) + " and dilation " +
               std::to_string(dilation) + " overflow the sizes");
  TG_CHECK(pads <= kernel, op,
           shapes + ": padding " + std::to_string(pad) + " must be at most half the kernel size " + std::to_string(kernel));
  const auto span = static_cast<std::int64_t>(window);
  const auto padded = static_cast<std::int64_t>(padded_size);
  TG_CHECK(padded >= span, op,
           shapes + ": the window spans " + std::to_string(span) + " but the padded input is only " + std::to_string(padded) + " long");
  std::int64_t out = (padded - span + (ceil_mode ? static_cast<std::int64_t>(stride) - 1 : 0)) / static_cast<std::int64_t>(stride) + 1;
  if (ceil_mode && (out - 1) * static_cast<std::int64_t>(stride) >= static_cast<std::int64_t>(size + pad)) --out;
  return static_cast<std::size_t>(out);
}

/// Sliding windows along one axis (max pooling: taps dilation apart; average: contiguous, with
/// the divisor share of count_include_pad).
std::vector<AxisWindow> sliding_windows(std::size_t size, std::size_t out, std::size_t kernel, std::size_t stride, std::size_t pad,
                                        std::size_t dilation, bool count_include_pad) {
  std::vector<AxisWindow> windows(out);
  for (std::size_t o = 0; o < out; ++o) {
    AxisWindow& w = windows[o];
    w.start = static_cast<std::int64_t>(o * stride) - static_cast<std::int64_t>(pad);
    w.count = kernel;
    w.step = dilation;
    // average pooling (dilation 1): PyTorch divides by the window clipped to the padded input
    // with count_include_pad, by the part inside the input without
    const std::int64_t end = std::min<std::int64_t>(w.start + static_cast<std::int64_t>(kernel), static_cast<std::int64_t>(size + pad));
    const std::int64_t lo = std::max<std::int64_t>(w.start, 0), hi = std::min<std::int64_t>(end, static_cast<std::int64_t>(size));
    w.divisor = static_cast<std::size_t>(count_include_pad ? end - w.start : std::max<std::int64_t>(hi - lo, 1));
  }
  return windows;
}

/// Adaptive windows: window i of out over size spans [floor(i size / out), ceil((i + 1) size / out)).
std::vector<AxisWindow> adaptive_windows(std::size_t size, std::size_t out) {
  std::vector<AxisWindow> windows(out);
  for (std::size_t i = 0; i < out; ++i) {
    const std::size_t start = i * size / out, end = ((i + 1) * size + out - 1) / out;
    windows[i] = {static_cast<std::int64_t>(start), end - start, 1, end - start};
  }
  return windows;
}

/// The planes of a [N, C, L] (spatial 1) or [N, C, H, W] (spatial 2) input.
PoolWindows planes_of(const char* op, const Shape& input, std::size_t spatial) {
  TG_CHECK(input.size() == spatial + 2 || input.size() == spatial + 1, op,
           "input " + shape_str(input) + " must be " + (spatial == 2 ? "[N, C, H, W] or [C, H, W]" : "[N, C, L] or [C, L]"));
  PoolWindows w;
  w.planes = 1;
  for (std::size_t a = 0; a + spatial < input.size(); ++a) w.planes *= input[a];
  w.height = spatial == 2 ? input[input.size() - 2] : 1;
  w.width = input.back();
  w.input_shape = input;
  return w;
}

/// Windows o covering [2o, 2o + 2), all inside an axis of `size`.
bool pairs(const std::vector<AxisWindow>& windows, std::size_t size) {
  for (std::size_t o = 0; o < windows.size(); ++o)
    if (windows[o].start != static_cast<std::int64_t>(2 * o) || windows[o].count != 2 || windows[o].step != 1) return false;
  return 2 * windows.size() <= size;
}

void finish(PoolWindows& w, std::size_t spatial) {
  w.tiles_2x2 = spatial == 2 && pairs(w.rows, w.height) && pairs(w.cols, w.width) && w.in_plane() < (std::size_t(1) << 31);
  w.output_shape = Shape(w.input_shape.begin(), w.input_shape.end() - static_cast<std::ptrdiff_t>(spatial));
  if (spatial == 2) w.output_shape.push_back(w.rows.size());
  w.output_shape.push_back(w.cols.size());
}

/// Sliding-window pooling geometry: N = 1 or 2 spatial axes.
template <std::size_t N>
SharedWindows sliding(const char* op, const Shape& input, const SpatialSize<N>& kernel, SpatialSize<N> stride,
                      const SpatialSize<N>& padding, const SpatialSize<N>& dilation, bool ceil_mode, bool count_include_pad) {
  PoolWindows w = planes_of(op, input, N);
  const std::string shapes = "input " + shape_str(input);
  std::vector<AxisWindow>* axes[2] = {&w.rows, &w.cols};
  const std::size_t sizes[2] = {w.height, w.width};
  if (N == 1) w.rows = {AxisWindow{0, 1, 1, 1}};
  for (std::size_t a = 0; a < N; ++a) {
    const std::size_t axis = 2 - N + a;
    const std::size_t s = stride[a] == 0 ? kernel[a] : stride[a];
    const std::size_t out = pool_out_size(op, shapes, sizes[axis], kernel[a], s, padding[a], dilation[a], ceil_mode);
    *axes[axis] = sliding_windows(sizes[axis], out, kernel[a], s, padding[a], dilation[a], count_include_pad);
    if (axis == 1) {
      w.sliding_cols = true;
      w.col_stride = s;
      w.col_pad = padding[a];
      w.col_dilation = dilation[a];
      w.col_kernel = kernel[a];
    }
  }
  finish(w, N);
  return std::make_shared<const PoolWindows>(std::move(w));
}

SharedWindows adaptive(const char* op, const Shape& input, const Size2& output_size) {
  PoolWindows w = planes_of(op, input, 2);
  const std::string shapes =
      "input " + shape_str(input) + ", output_size [" + std::to_string(output_size[0]) + "," + std::to_string(output_size[1]) + "]";
  TG_CHECK(output_size[0] > 0 && output_size[1] > 0 && w.height > 0 && w.width > 0, op, shapes + ": sizes must be positive");
  TG_CHECK(detail::checked_numel(Shape{w.planes, output_size[0], output_size[1]}).has_value(), op,
           shapes + ": the output's element count overflows");
  w.rows = adaptive_windows(w.height, output_size[0]);
  w.cols = adaptive_windows(w.width, output_size[1]);
  finish(w, 2);
  return std::make_shared<const PoolWindows>(std::move(w));
}

}  // namespace

template <class T>
PoolResult<T> max_pool1d_with_indices(const Variable<T>& input, const MaxPool1dOptions& o) {
  return max_pool_with_indices("max_pool1d", input,
                               sliding<1>("max_pool1d", input.shape(), o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode, true));
}
template <class T>
PoolResult<T> max_pool2d_with_indices(const Variable<T>& input, const MaxPool2dOptions& o) {
  return max_pool_with_indices("max_pool2d", input,
                               sliding<2>("max_pool2d", input.shape(), o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode, true));
}
template <class T>
Variable<T> max_pool1d(const Variable<T>& input, const MaxPool1dOptions& o) {
  return max_pool("max_pool1d", input, sliding<1>("max_pool1d", input.shape(), o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode, true));
}
template <class T>
Variable<T> max_pool2d(const Variable<T>& input, const MaxPool2dOptions& o) {
  return max_pool("max_pool2d", input, sliding<2>("max_pool2d", input.shape(), o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode, true));
}
template <class T>
Variable<T> avg_pool1d(const Variable<T>& input, const AvgPool1dOptions& o) {
  return window_mean(input, sliding<1>("avg_pool1d", input.shape(), o.kernel_size, o.stride, o.padding, 1, o.ceil_mode, o.count_include_pad),
                     "avg_pool1d");
}
template <class T>
Variable<T> avg_pool2d(const Variable<T>& input, const AvgPool2dOptions& o) {
  return window_mean(input, sliding<2>("avg_pool2d", input.shape(), o.kernel_size, o.stride, o.padding, 1, o.ceil_mode, o.count_include_pad),
                     "avg_pool2d");
}
template <class T>
Variable<T> adaptive_avg_pool2d(const Variable<T>& input, const Size2& output_size) {
  return window_mean(input, adaptive("adaptive_avg_pool2d", input.shape(), output_size), "adaptive_avg_pool2d");
}
template <class T>
PoolResult<T> adaptive_max_pool2d_with_indices(const Variable<T>& input, const Size2& output_size) {
  return max_pool_with_indices("adaptive_max_pool2d", input, adaptive("adaptive_max_pool2d", input.shape(), output_size));
}
template <class T>
Variable<T> adaptive_max_pool2d(const Variable<T>& input, const Size2& output_size) {
  return max_pool("adaptive_max_pool2d", input, adaptive("adaptive_max_pool2d", input.shape(), output_size));
}

TG_INSTANTIATE_OPS(max_pool1d, max_pool2d, max_pool1d_with_indices, max_pool2d_with_indices, avg_pool1d,
                   avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d, adaptive_max_pool2d_with_indices)

}  // namespace tg
