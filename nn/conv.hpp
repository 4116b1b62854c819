#pragma once
// Convolution layers: Conv1d, Conv2d, ConvTranspose2d, with PyTorch's shapes, defaults,
// initialisation and parameter names (weight, bias), over the ops of autograd/ops/conv.hpp. Each
// is a thin class over ConvNd<T, N> or ConvTransposeNd<T, N>, which hold the code.
#include <cstddef>
#include <string>
#include <type_traits>

#include "../autograd/ops/conv.hpp"
#include "module.hpp"

namespace tg::nn {

/// A convolution layer's settings besides the channel counts and the kernel size.
template <std::size_t N>
struct ConvLayerOptions {
  SpatialSize<N> stride = 1;
  ConvPadding<N> padding = 0;  // numbers, "same" or "valid"
  SpatialSize<N> dilation = 1;
  std::size_t groups = 1;
  bool bias = true;
};
template <std::size_t N>
struct ConvTransposeLayerOptions {
  SpatialSize<N> stride = 1;
  SpatialSize<N> padding = 0;
  SpatialSize<N> output_padding = 0;
  std::size_t groups = 1;
  bool bias = true;
  SpatialSize<N> dilation = 1;
};

/// What ConvNd and ConvTransposeNd share: the channel counts, kernel and settings they were made
/// with, and the parameters weight [rows, columns, kernel...] and bias [out_channels], initialised
/// as PyTorch: kaiming_uniform_(a = sqrt(5)) on the weight, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
/// with fan_in = columns * prod(kernel), and the bias U(same bound).
template <class T, std::size_t N, class Options>
class ConvLayerBase : public Module<T> {
 public:
  std::size_t in_channels() const { return in_; }
  std::size_t out_channels() const { return out_; }

  Variable<T> weight;
  Variable<T> bias;  // undefined without one

 protected:
  /// A convolution's weight is [out, in / groups, kernel...], a transposed one's (its options
  /// have output_padding) [in, out / groups, kernel...]: PyTorch's layouts.
  static constexpr bool transposed = std::is_same_v<Options, ConvTransposeLayerOptions<N>>;
  /// `layer` names the layer in errors.
  ConvLayerBase(const char* layer, std::size_t in_channels, std::size_t out_channels, SpatialSize<N> kernel_size, Options options);

  std::size_t in_, out_;
  SpatialSize<N> kernel_;
  Options options_;
};

/// Conv1d / Conv2d (N = 1, 2): weight [out_channels, in_channels / groups, kernel...], bias
/// [out_channels]; fan_in = in_channels / groups * prod(kernel).
template <class T, std::size_t N>
class ConvNd : public ConvLayerBase<T, N, ConvLayerOptions<N>> {
 public:
  ConvNd(std::size_t in_channels, std::size_t out_channels, SpatialSize<N> kernel_size, ConvLayerOptions<N> options = {});
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;
};

/// Conv1d: input [N, C, L], weight [out_channels, in_channels / groups, K].
template <class T = float>
class Conv1d : public ConvNd<T, 1> {
 public:
  Conv1d(std::size_t in_channels, std::size_t out_channels, Size1 kernel_size, ConvLayerOptions<1> options = {})
      : ConvNd<T, 1>(in_channels, out_channels, kernel_size, options) {}
};
/// Conv2d: input [N, C, H, W], weight [out_channels, in_channels / groups, kH, kW].
template <class T = float>
class Conv2d : public ConvNd<T, 2> {
 public:
  Conv2d(std::size_t in_channels, std::size_t out_channels, Size2 kernel_size, ConvLayerOptions<2> options = {})
      : ConvNd<T, 2>(in_channels, out_channels, kernel_size, options) {}
};

/// ConvTranspose1d / ConvTranspose2d (N = 1, 2): weight [in_channels, out_channels / groups,
/// kernel...] (PyTorch's layout), bias [out_channels]; output size per axis (H - 1) stride -
/// 2 padding + dilation (k - 1) + output_padding + 1; fan_in = out_channels / groups * prod(kernel).
template <class T, std::size_t N>
class ConvTransposeNd : public ConvLayerBase<T, N, ConvTransposeLayerOptions<N>> {
 public:
  ConvTransposeNd(std::size_t in_channels, std::size_t out_channels, SpatialSize<N> kernel_size,
                  ConvTransposeLayerOptions<N> options = {});
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;
};

/// ConvTranspose2d: input [N, C, H, W], weight [in_channels, out_channels / groups, kH, kW].
template <class T = float>
class ConvTranspose2d : public ConvTransposeNd<T, 2> {
 public:
  ConvTranspose2d(std::size_t in_channels, std::size_t out_channels, Size2 kernel_size, ConvTransposeLayerOptions<2> options = {})
      : ConvTransposeNd<T, 2>(in_channels, out_channels, kernel_size, options) {}
};

extern template class ConvLayerBase<float, 1, ConvLayerOptions<1>>;
extern template class ConvLayerBase<double, 1, ConvLayerOptions<1>>;
extern template class ConvLayerBase<float, 2, ConvLayerOptions<2>>;
extern template class ConvLayerBase<double, 2, ConvLayerOptions<2>>;
extern template class ConvLayerBase<float, 2, ConvTransposeLayerOptions<2>>;
extern template class ConvLayerBase<double, 2, ConvTransposeLayerOptions<2>>;
extern template class ConvNd<float, 1>;
extern template class ConvNd<double, 1>;
extern template class ConvNd<float, 2>;
extern template class ConvNd<double, 2>;
extern template class ConvTransposeNd<float, 2>;
extern template class ConvTransposeNd<double, 2>;
extern template class ConvTranspose2d<float>;
extern template class ConvTranspose2d<double>;

}  // namespace tg::nn
