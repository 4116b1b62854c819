#pragma once
// Pooling over [N, C, L] (1-d) and [N, C, H, W] (2-d), as torch.nn.functional's: max (with its
// indices), average, and adaptive average / max to a fixed output size. Max pooling's gradient
// routes g to the argmax of each window (a scatter whose own derivative is the matching gather);
// average pooling's is the adjoint spread. Both differentiate twice.
#include <cstddef>

#include "conv.hpp"  // SpatialSize

namespace tg {

struct MaxPool1dOptions {
  Size1 kernel_size = 1;
  Size1 stride = 0;  // 0: the kernel size (PyTorch's default)
  Size1 padding = 0; // implicit -inf on both sides, at most half the kernel
  Size1 dilation = 1;
  bool ceil_mode = false;  // round the output size up (a last, partial window)
};
struct MaxPool2dOptions {
  Size2 kernel_size = 1;
  Size2 stride = 0;
  Size2 padding = 0;
  Size2 dilation = 1;
  bool ceil_mode = false;
};
struct AvgPool1dOptions {
  Size1 kernel_size = 1;
  Size1 stride = 0;  // 0: the kernel size
  Size1 padding = 0; // implicit zeros on both sides, at most half the kernel
  bool ceil_mode = false;
  bool count_include_pad = true;  // divide by the window size with its padding, else by the values inside
};
struct AvgPool2dOptions {
  Size2 kernel_size = 1;
  Size2 stride = 0;
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

/// A max pooling's result and where each maximum came from: indices has the output's shape and
/// holds flat positions in the input's spatial plane (h W + w; for 1-d, the position l), as PyTorch.
template <class T>
struct PoolResult {
  Variable<T> output;
  IndexArray indices;
};

/// Maximum over each window of kernel_size taps dilation apart; a NaN in a window wins.
template <class T> Variable<T> max_pool1d(const Variable<T>& input, const MaxPool1dOptions& options);
template <class T> Variable<T> max_pool2d(const Variable<T>& input, const MaxPool2dOptions& options);
template <class T> PoolResult<T> max_pool1d_with_indices(const Variable<T>& input, const MaxPool1dOptions& options);
template <class T> PoolResult<T> max_pool2d_with_indices(const Variable<T>& input, const MaxPool2dOptions& options);
/// Mean over each window (divisor: see count_include_pad).
template <class T> Variable<T> avg_pool1d(const Variable<T>& input, const AvgPool1dOptions& options);
template <class T> Variable<T> avg_pool2d(const Variable<T>& input, const AvgPool2dOptions& options);
/// Mean over output_size {H_out, W_out} windows that tile the input: window i of an axis of size n
/// spans [floor(i n / H_out), ceil((i + 1) n / H_out)).
template <class T> Variable<T> adaptive_avg_pool2d(const Variable<T>& input, const Size2& output_size);
/// Maximum over the same windows.
template <class T> Variable<T> adaptive_max_pool2d(const Variable<T>& input, const Size2& output_size);
template <class T> PoolResult<T> adaptive_max_pool2d_with_indices(const Variable<T>& input, const Size2& output_size);

}  // namespace tg
