#pragma once
// im2col / col2im: the patches of one image as the columns of a matrix, so a convolution is
// one GEMM (internal to the library). Shared by conv, conv_transpose, unfold and fold.
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace tg::kernels {

/// Where the patches of a [channels, height, width] image sit: out_h x out_w windows of
/// kernel_h x kernel_w taps, the window at (oh, ow) reading input row oh*stride_h - pad_h +
/// i*dilation_h and column ow*stride_w - pad_w + j*dilation_w (outside the image: zero).
/// Padding after the image is implied by out_h and out_w.
struct PatchGeometry {
  std::size_t channels, height, width;
  std::size_t kernel_h, kernel_w;
  std::size_t stride_h, stride_w;
  std::size_t pad_h, pad_w;
  std::size_t dilation_h, dilation_w;
  std::size_t out_h, out_w;

  std::size_t taps() const { return kernel_h * kernel_w; }
  std::size_t rows() const { return channels * taps(); }       // of the column matrix
  std::size_t positions() const { return out_h * out_w; }     // its columns
  std::size_t image_size() const { return channels * height * width; }
  /// A 1x1 kernel with stride 1 and no padding: the column matrix is the image itself.
  bool is_identity() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0 &&
           out_h == height && out_w == width;
  }
  /// Stride 1 and as many output columns as input columns ("same" padding): the taps of one
  /// kernel position over all windows are the image shifted by a constant offset, so a column
  /// matrix row is one contiguous stretch of the image with the padding columns zeroed.
  bool is_shifted_image() const { return stride_h == 1 && stride_w == 1 && out_w == width; }
};

namespace detail {

/// The outputs o in [0, count) whose input o*stride + offset lies in [0, size): [lo, hi).
inline std::pair<std::size_t, std::size_t> inside(std::size_t count, std::size_t stride, std::int64_t offset, std::size_t size) {
  const auto s = static_cast<std::int64_t>(stride), n = static_cast<std::int64_t>(count);
  const std::int64_t lo = offset >= 0 ? 0 : (-offset + s - 1) / s;
  const std::int64_t end = static_cast<std::int64_t>(size) - offset;  // o*stride < end
  const std::int64_t hi = end <= 0 ? 0 : (end + s - 1) / s;
  const std::int64_t l = std::min(lo, n), h = std::clamp(hi, l, n);
  return {static_cast<std::size_t>(l), static_cast<std::size_t>(h)};
}

/// Calls f(row index, kernel row i, kernel column j, first output row, row range, column range,
/// input row offset, input column offset) for each row of the column matrix.
template <class F>
void for_each_tap(const PatchGeometry& g, F f) {
  for (std::size_t c = 0; c < g.channels; ++c)
    for (std::size_t i = 0; i < g.kernel_h; ++i) {
      const std::int64_t row_offset = static_cast<std::int64_t>(i * g.dilation_h) - static_cast<std::int64_t>(g.pad_h);
      const auto rows = inside(g.out_h, g.stride_h, row_offset, g.height);
      for (std::size_t j = 0; j < g.kernel_w; ++j) {
        const std::int64_t col_offset = static_cast<std::int64_t>(j * g.dilation_w) - static_cast<std::int64_t>(g.pad_w);
        f((c * g.kernel_h + i) * g.kernel_w + j, c, rows, inside(g.out_w, g.stride_w, col_offset, g.width), row_offset, col_offset);
      }
    }
}

}  // namespace detail

/// cols[(c*kh + i)*kw + j][oh*out_w + ow] = image[c][ih][iw] (0 outside): [rows, positions].
template <class T>
void im2col(const PatchGeometry& g, const T* image, T* cols) {
  const std::size_t L = g.positions(), ow_count = g.out_w, plane_size = g.height * g.width;
  const auto W = static_cast<std::int64_t>(g.width);
  detail::for_each_tap(g, [&](std::size_t r, std::size_t c, auto rows, auto cols_in, std::int64_t row_offset, std::int64_t col_offset) {
    T* row = cols + r * L;
    const T* plane = image + c * plane_size;
    const auto [oh_lo, oh_hi] = rows;
    const auto [ow_lo, ow_hi] = cols_in;
    std::fill_n(row, oh_lo * ow_count, T(0));
    std::fill(row + oh_hi * ow_count, row + L, T(0));
    if (g.is_shifted_image()) {
      // output (oh, ow) reads plane[(oh + row_offset) W + ow + col_offset]: one stretch for all
      // valid rows, clipped to the plane (the entries outside it are padding columns, zeroed below)
      const std::int64_t first = (static_cast<std::int64_t>(oh_lo) + row_offset) * W + col_offset;
      const std::int64_t last = (static_cast<std::int64_t>(oh_hi) + row_offset) * W + col_offset;
      const std::int64_t from = std::max<std::int64_t>(first, 0), to = std::min<std::int64_t>(last, static_cast<std::int64_t>(plane_size));
      T* out = row + oh_lo * ow_count;
      if (to > from) std::copy(plane + from, plane + to, out + (from - first));
      for (std::size_t oh = oh_lo; oh < oh_hi; ++oh, out += ow_count) {
        for (std::size_t ow = 0; ow < ow_lo; ++ow) out[ow] = T(0);
        for (std::size_t ow = ow_hi; ow < ow_count; ++ow) out[ow] = T(0);
      }
      return;
    }
    const std::int64_t first_col = static_cast<std::int64_t>(ow_lo * g.stride_w) + col_offset;  // >= 0
    for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
      T* out = row + oh * ow_count;
      const T* src = plane + (static_cast<std::int64_t>(oh * g.stride_h) + row_offset) * W + first_col;  // input of ow_lo
      std::fill_n(out, ow_lo, T(0));
      if (g.stride_w == 1) {
        std::copy(src, src + (ow_hi - ow_lo), out + ow_lo);
      } else {
        for (std::size_t k = 0; k < ow_hi - ow_lo; ++k) out[ow_lo + k] = src[k * g.stride_w];
      }
      std::fill(out + ow_hi, out + ow_count, T(0));
    }
  });
}

/// The adjoint of im2col: image[c][ih][iw] += every column entry that reads it. The image is
/// accumulated into (zero it first for a plain col2im).
template <class T>
void col2im_add(const PatchGeometry& g, const T* cols, T* image) {
  const std::size_t L = g.positions(), ow_count = g.out_w, plane_size = g.height * g.width;
  const auto W = static_cast<std::int64_t>(g.width);
  detail::for_each_tap(g, [&](std::size_t r, std::size_t c, auto rows, auto cols_in, std::int64_t row_offset, std::int64_t col_offset) {
    const T* row = cols + r * L;
    T* plane = image + c * plane_size;
    const auto [oh_lo, oh_hi] = rows;
    const auto [ow_lo, ow_hi] = cols_in;
    const std::size_t n = ow_hi - ow_lo;
    const std::int64_t first_col = static_cast<std::int64_t>(ow_lo * g.stride_w) + col_offset;  // >= 0
    for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
      const T* __restrict in = row + oh * ow_count + ow_lo;
      T* __restrict dst = plane + (static_cast<std::int64_t>(oh * g.stride_h) + row_offset) * W + first_col;  // input of ow_lo
      if (g.stride_w == 1) {
#pragma omp simd
        for (std::size_t k = 0; k < n; ++k) dst[k] += in[k];
      } else {
        for (std::size_t k = 0; k < n; ++k) dst[k * g.stride_w] += in[k];
      }
    }
  });
}

}  // namespace tg::kernels
