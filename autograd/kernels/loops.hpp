#pragma once
// Array kernels shared by the op files (not installed as API): elementwise maps with NumPy
// broadcasting, and reductions over a set of axes. Plain loops over contiguous row-major
// data, which GCC vectorises; xtensor's lazy broadcasting and reductions are several times
// slower (docs/design.md, "Working with xtensor").
#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include <xtensor/xarray.hpp>

#include "../core/broadcast.hpp"
#include "../core/detail/buffers.hpp"
#include "../core/detail/parallel.hpp"

namespace tg::kernels {

/// f(x) elementwise into a new array (split over the cores when large).
template <class T, class F>
xt::xarray<T> map(const xt::xarray<T>& x, F f) {
  xt::xarray<T> out = tg::detail::empty_array<T>(x.shape());
  const T* px = x.data();
  T* po = out.data();
  tg::detail::parallel_for(x.size(), [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) po[i] = f(px[i]);
  });
  return out;
}

/// A row-major walk over every multi-index below `extent`, carrying N element offsets that
/// move by their own per-axis strides (0 on a broadcast axis): next() steps the last axis and
/// carries into the ones before it, like an odometer, so offset(k) is always the sum over d of
/// index[d] * stride[k][d]. One walk for every strided loop (broadcast rows, reductions, the
/// batch of matmul). extent and stride are viewed, not copied: they must outlive the walk.
template <std::size_t N>
class Odometer {
 public:
  Odometer(std::span<const std::size_t> extent, std::array<std::span<const std::size_t>, N> stride)
      : extent_(extent), stride_(stride), index_(extent.size(), 0) {}
  std::size_t offset(std::size_t k) const { return offset_[k]; }
  void next() {
    for (std::size_t d = extent_.size(); d-- > 0;) {
      for (std::size_t k = 0; k < N; ++k) offset_[k] += stride_[k][d];
      if (++index_[d] < extent_[d]) return;
      for (std::size_t k = 0; k < N; ++k) offset_[k] -= stride_[k][d] * extent_[d];
      index_[d] = 0;
    }
  }

 private:
  std::span<const std::size_t> extent_;
  std::array<std::span<const std::size_t>, N> stride_;
  std::vector<std::size_t> index_;
  std::array<std::size_t, N> offset_{};
};

/// Element strides of `shape` seen through the broadcast shape `to` (0 on broadcast axes).
inline std::vector<std::size_t> broadcast_strides(const Shape& shape, const Shape& to) {
  std::vector<std::size_t> strides(to.size(), 0);
  std::size_t stride = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    const std::size_t j = i + (to.size() - shape.size());
    strides[j] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/// Walks the rows (runs along the last axis) of `shape`, into which arrays of shapes a and
/// b broadcast: row(o, offset_a, stride_a, offset_b, stride_b) for row o, where offset is
/// the element offset of the row's start in a (b) and stride its step along the row (0 or 1
/// when broadcast or contiguous).
template <class Row>
void for_each_broadcast_row(const Shape& shape, const Shape& a, const Shape& b, Row row) {
  const std::size_t nd = shape.size();
  std::size_t total = 1;
  for (auto d : shape) total *= d;
  if (total == 0) return;
  if (nd == 0) return row(std::size_t(0), std::size_t(0), std::size_t(0), std::size_t(0), std::size_t(0));
  const auto sa = broadcast_strides(a, shape);
  const auto sb = broadcast_strides(b, shape);
  const std::size_t outer = total / shape[nd - 1];
  Odometer<2> walk({shape.data(), nd - 1}, {{{sa.data(), nd - 1}, {sb.data(), nd - 1}}});  // the outer axes
  for (std::size_t o = 0; o < outer; ++o, walk.next()) row(o, walk.offset(0), sa[nd - 1], walk.offset(1), sb[nd - 1]);
}

/// f(a, b) elementwise with NumPy broadcasting.
template <class T, class F>
xt::xarray<T> map2(const char* op, const xt::xarray<T>& a, const xt::xarray<T>& b, F f) {
  if (a.shape() == b.shape()) {
    xt::xarray<T> out = tg::detail::empty_array<T>(a.shape());
    const T* pa = a.data();
    const T* pb = b.data();
    T* po = out.data();
    tg::detail::parallel_for(a.size(), [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) po[i] = f(pa[i], pb[i]);
    });
    return out;
  }
  const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  xt::xarray<T> out = tg::detail::empty_array<T>(shape);
  const std::size_t inner = shape.empty() ? 1 : shape.back();
  for_each_broadcast_row(shape, a.shape(), b.shape(), [&](std::size_t o, std::size_t oa, std::size_t ia, std::size_t ob, std::size_t ib) {
    const T* pa = a.data() + oa;
    const T* pb = b.data() + ob;
    T* po = out.data() + o * inner;
    if (ia == 1 && ib == 1) {
      for (std::size_t i = 0; i < inner; ++i) po[i] = f(pa[i], pb[i]);
    } else if (ia == 1) {
      const T vb = *pb;
      for (std::size_t i = 0; i < inner; ++i) po[i] = f(pa[i], vb);
    } else if (ib == 1) {
      const T va = *pa;
      for (std::size_t i = 0; i < inner; ++i) po[i] = f(va, pb[i]);
    } else {
      for (std::size_t i = 0; i < inner; ++i) po[i] = f(pa[i * ia], pb[i * ib]);
    }
  });
  return out;
}

/// x broadcast to `shape` (which x must broadcast to), as a new array.
template <class T>
xt::xarray<T> broadcast_to(const xt::xarray<T>& x, const Shape& shape) {
  xt::xarray<T> out = tg::detail::empty_array<T>(shape);
  const std::size_t inner = shape.empty() ? 1 : shape.back();
  for_each_broadcast_row(shape, x.shape(), x.shape(), [&](std::size_t o, std::size_t ox, std::size_t ix, std::size_t, std::size_t) {
    T* po = out.data() + o * inner;
    if (ix == 1) std::copy_n(x.data() + ox, inner, po);
    else std::fill_n(po, inner, x.data()[ox]);
  });
  return out;
}

/// Shape after reducing `axes` (sorted, unique) of `shape`.
inline Shape reduced_shape(const Shape& shape, const std::vector<std::size_t>& axes, bool keepdims) {
  Shape out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool reduced = std::binary_search(axes.begin(), axes.end(), i);
    if (!reduced) out.push_back(shape[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

/// Folds a contiguous row into acc one element after the other: acc = f(acc, row[i]).
template <class F>
struct sequential_row {
  F f;
  template <class T>
  T operator()(T acc, const T* row, std::size_t n) const {
    for (std::size_t i = 0; i < n; ++i) acc = f(acc, row[i]);
    return acc;
  }
};

/// Folds x over `axes` (sorted, unique) with acc = f(acc, v), starting from init.
/// The axes are merged into alternating runs of kept and reduced axes; the innermost run
/// is a contiguous loop, so row sums and column sums are both tight loops. When the
/// innermost run is reduced, `row(acc, ptr, n)` folds it; a fold that may reorder its
/// operations (a sum) passes its own, vectorised one.
template <class T, class F, class Row>
xt::xarray<T> reduce(const xt::xarray<T>& x, const std::vector<std::size_t>& axes, bool keepdims, T init, F f, Row row) {
  xt::xarray<T> out = tg::detail::empty_array<T>(reduced_shape(x.shape(), axes, keepdims));
  std::fill(out.begin(), out.end(), init);
  if (x.size() == 0) return out;
  // runs: (length, reduced?) from outermost to innermost, size-1 axes dropped
  std::vector<std::size_t> len;
  std::vector<bool> red;
  for (std::size_t i = 0; i < x.dimension(); ++i) {
    if (x.shape()[i] == 1) continue;
    const bool r = std::binary_search(axes.begin(), axes.end(), i);
    if (!len.empty() && red.back() == r) len.back() *= x.shape()[i];
    else len.push_back(x.shape()[i]), red.push_back(r);
  }
  const T* px = x.data();
  T* po = out.data();
  if (len.empty()) {  // a single element
    po[0] = f(init, px[0]);
    return out;
  }
  // strides in the output for each run (0 for reduced runs)
  const std::size_t nr = len.size();
  std::vector<std::size_t> ostride(nr, 0);
  std::size_t s = 1;
  for (std::size_t i = nr; i-- > 0;)
    if (!red[i]) ostride[i] = s, s *= len[i];
  const std::size_t inner = len[nr - 1];
  const std::size_t outer = x.size() / inner;
  Odometer<1> walk({len.data(), nr - 1}, {{{ostride.data(), nr - 1}}});  // the outer runs
  for (std::size_t o = 0; o < outer; ++o, px += inner, walk.next()) {
    const std::size_t oo = walk.offset(0);
    if (red[nr - 1]) {
      po[oo] = row(po[oo], px, inner);
    } else {
      T* q = po + oo;
      for (std::size_t i = 0; i < inner; ++i) q[i] = f(q[i], px[i]);
    }
  }
  return out;
}

template <class T, class F>
xt::xarray<T> reduce(const xt::xarray<T>& x, const std::vector<std::size_t>& axes, bool keepdims, T init, F f) {
  return reduce<T>(x, axes, keepdims, init, f, sequential_row<F>{f});
}

/// Folds a contiguous row with an associative, commutative f (sum, max, min) in 4 x 32 bytes
/// of independent partial results. A plain `acc = f(acc, row[i])` loop is one long
/// dependency chain that GCC may not reorder (floating-point addition is not associative),
/// so it runs at one element per add latency; independent partials vectorise and overlap,
/// many times faster on long rows, and summing in partials is more accurate too. `init` is
/// f's identity (0 for +, -inf for max).
template <class T, class F>
struct partials_row {
  F f;
  T init;
  T operator()(T acc, const T* row, std::size_t n) const {
    constexpr std::size_t width = 4 * 32 / sizeof(T);  // 32 floats / 16 doubles
    T part[width];
    for (auto& p : part) p = init;
    std::size_t i = 0;
    for (; i + width <= n; i += width) {
#pragma omp simd
      for (std::size_t j = 0; j < width; ++j) part[j] = f(part[j], row[i + j]);
    }
    for (; i < n; ++i) acc = f(acc, row[i]);
    for (std::size_t j = 0; j < width; ++j) acc = f(acc, part[j]);
    return acc;
  }
};

/// reduce() for an associative, commutative f with identity init: rows fold in partials.
template <class T, class F>
xt::xarray<T> reduce_associative(const xt::xarray<T>& x, const std::vector<std::size_t>& axes, bool keepdims, T init, F f) {
  return reduce<T>(x, axes, keepdims, init, f, partials_row<T, F>{f, init});
}

/// Sum over axes, with a vectorised inner loop for row sums.
template <class T>
xt::xarray<T> sum(const xt::xarray<T>& x, const std::vector<std::size_t>& axes, bool keepdims) {
  return reduce_associative<T>(x, axes, keepdims, T(0), [](T acc, T v) { return acc + v; });
}

}  // namespace tg::kernels
