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
};

/// cols[(c*kh + i)*kw + j][oh*out_w + ow] = image[c][ih][iw] (0 outside): [rows, positions],
/// its rows ld apart (ld = 0: positions; a larger ld places samples side by side).
template <class T>
void im2col(const PatchGeometry& g, const T* image, T* cols, std::size_t ld = 0) {
  if (ld == 0) ld = g.positions();
  const auto H = static_cast<std::int64_t>(g.height), W = static_cast<std::int64_t>(g.width);
  const std::size_t ow_count = g.out_w;
  for (std::size_t c = 0; c < g.channels; ++c) {
    const T* plane = image + c * g.height * g.width;
    for (std::size_t i = 0; i < g.kernel_h; ++i) {
      for (std::size_t j = 0; j < g.kernel_w; ++j) {
        T* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * ld;
        const std::int64_t col_offset = static_cast<std::int64_t>(j * g.dilation_w) - static_cast<std::int64_t>(g.pad_w);
        // the output columns whose input column lies inside the image: [ow_lo, ow_hi)
        std::size_t ow_lo = 0, ow_hi = 0;
        for (std::size_t ow = 0; ow < ow_count; ++ow) {
          const std::int64_t iw = static_cast<std::int64_t>(ow * g.stride_w) + col_offset;
          if (iw < 0) ow_lo = ow + 1;
          if (iw < W) ow_hi = ow + 1;
        }
        ow_hi = std::max(ow_hi, ow_lo);
        for (std::size_t oh = 0; oh < g.out_h; ++oh, row += ow_count) {
          const std::int64_t ih = static_cast<std::int64_t>(oh * g.stride_h + i * g.dilation_h) - static_cast<std::int64_t>(g.pad_h);
          if (ih < 0 || ih >= H) {
            std::fill_n(row, ow_count, T(0));
            continue;
          }
          // input column of output column ow: ow*stride_w + col_offset, >= 0 from ow_lo on
          const T* src = plane + ih * W;
          std::fill_n(row, ow_lo, T(0));
          if (g.stride_w == 1) {
            if (ow_hi > ow_lo) std::copy_n(src + (static_cast<std::int64_t>(ow_lo) + col_offset), ow_hi - ow_lo, row + ow_lo);
          } else {
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) row[ow] = src[static_cast<std::int64_t>(ow * g.stride_w) + col_offset];
          }
          std::fill(row + ow_hi, row + ow_count, T(0));
        }
      }
    }
  }
}

/// The adjoint of im2col: image[c][ih][iw] += every column entry that reads it. The image is
/// accumulated into (zero it first for a plain col2im); rows ld apart as in im2col.
template <class T>
void col2im_add(const PatchGeometry& g, const T* cols, T* image, std::size_t ld = 0) {
  if (ld == 0) ld = g.positions();
  const auto H = static_cast<std::int64_t>(g.height), W = static_cast<std::int64_t>(g.width);
  const std::size_t ow_count = g.out_w;
  for (std::size_t c = 0; c < g.channels; ++c) {
    T* plane = image + c * g.height * g.width;
    for (std::size_t i = 0; i < g.kernel_h; ++i) {
      for (std::size_t j = 0; j < g.kernel_w; ++j) {
        const T* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * ld;
        const std::int64_t col_offset = static_cast<std::int64_t>(j * g.dilation_w) - static_cast<std::int64_t>(g.pad_w);
        std::size_t ow_lo = 0, ow_hi = 0;
        for (std::size_t ow = 0; ow < ow_count; ++ow) {
          const std::int64_t iw = static_cast<std::int64_t>(ow * g.stride_w) + col_offset;
          if (iw < 0) ow_lo = ow + 1;
          if (iw < W) ow_hi = ow + 1;
        }
        ow_hi = std::max(ow_hi, ow_lo);
        for (std::size_t oh = 0; oh < g.out_h; ++oh, row += ow_count) {
          const std::int64_t ih = static_cast<std::int64_t>(oh * g.stride_h + i * g.dilation_h) - static_cast<std::int64_t>(g.pad_h);
          if (ih < 0 || ih >= H) continue;
          T* dst = plane + ih * W;
          if (g.stride_w == 1) {
            T* d = dst + (static_cast<std::int64_t>(ow_lo) + col_offset);
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) d[ow - ow_lo] += row[ow];
          } else {
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) dst[static_cast<std::int64_t>(ow * g.stride_w) + col_offset] += row[ow];
          }
        }
      }
    }
  }
}

}  // namespace tg::kernels
