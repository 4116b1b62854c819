// Convolution layers: the parameters, PyTorch's initialisation, and one op call each.
#include "conv.hpp"

#include <cmath>
#include <type_traits>

#include "init.hpp"

namespace tg::nn {

namespace {

/// "(3, 3)" as PyTorch prints a per-axis size.
template <std::size_t N>
std::string tuple_str(const SpatialSize<N>& s) {
  std::string out = "(";
  for (std::size_t a = 0; a < N; ++a) out += (a ? ", " : "") + std::to_string(s[a]);
  return out + (N == 1 ? ",)" : ")");
}

/// PyTorch's init of a convolution's weight and bias (see the class comments).
template <class T>
void init_conv(Variable<T>& weight, Variable<T>& bias) {
  init::kaiming_uniform_(weight, {.a = std::sqrt(5.0)});
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::compute_fans(weight.shape()).fan_in));
    init::uniform_(bias, -bound, bound);
  }
}

void check_channels(const char* layer, std::size_t in, std::size_t out, std::size_t groups) {
  TG_CHECK(in > 0 && out > 0 && groups > 0, layer,
           "in_channels, out_channels and groups must be positive, got " + std::to_string(in) + ", " + std::to_string(out) + ", " +
               std::to_string(groups));
  TG_CHECK(in % groups == 0 && out % groups == 0, layer,
           "in_channels " + std::to_string(in) + " and out_channels " + std::to_string(out) + " must be divisible by groups " +
               std::to_string(groups));
}

/// "in, out, kernel_size=(..), stride=(..)": how every convolution's settings begin.
template <std::size_t N>
std::string conv_repr_head(std::size_t in, std::size_t out, const SpatialSize<N>& kernel, const SpatialSize<N>& stride) {
  return std::to_string(in) + ", " + std::to_string(out) + ", kernel_size=" + tuple_str(kernel) + ", stride=" + tuple_str(stride);
}

/// The settings every convolution ends with, each only where it is not the default.
template <std::size_t N>
std::string conv_repr_tail(const SpatialSize<N>& dilation, std::size_t groups, bool bias) {
  std::string s;
  if (dilation != SpatialSize<N>(1)) s += ", dilation=" + tuple_str(dilation);
  if (groups != 1) s += ", groups=" + std::to_string(groups);
  if (!bias) s += ", bias=false";
  return s;
}

// The op's options for N spatial axes.
template <std::size_t N>
using ConvOpOptions = std::conditional_t<N == 1, Conv1dOptions, Conv2dOptions>;
template <std::size_t N>
using ConvTransposeOpOptions = std::conditional_t<N == 1, ConvTranspose1dOptions, ConvTranspose2dOptions>;

}  // namespace

template <class T, std::size_t N, class Options>
ConvLayerBase<T, N, Options>::ConvLayerBase(const char* layer, std::size_t in_channels, std::size_t out_channels,
                                            SpatialSize<N> kernel_size, Options options)
    : in_(in_channels), out_(out_channels), kernel_(kernel_size), options_(options) {
  check_channels(layer, in_channels, out_channels, options.groups);
  Shape shape = transposed ? Shape{in_channels, out_channels / options.groups} : Shape{out_channels, in_channels / options.groups};
  for (std::size_t a = 0; a < N; ++a) {
    TG_CHECK(kernel_size[a] > 0, layer, "kernel_size must be positive, got " + tuple_str(kernel_size));
    shape.push_back(kernel_size[a]);
  }
  weight = this->register_parameter("weight", zeros<T>(shape));
  if (options.bias) bias = this->register_parameter("bias", zeros<T>({out_channels}));
  init_conv(weight, bias);
}

template <class T, std::size_t N>
ConvNd<T, N>::ConvNd(std::size_t in_channels, std::size_t out_channels, SpatialSize<N> kernel_size, ConvLayerOptions<N> options)
    : ConvLayerBase<T, N, ConvLayerOptions<N>>(N == 1 ? "Conv1d" : "Conv2d", in_channels, out_channels, kernel_size, options) {}

template <class T, std::size_t N>
Variable<T> ConvNd<T, N>::forward(const Variable<T>& x) {
  const auto& o = this->options_;
  const ConvOpOptions<N> op{.stride = o.stride, .padding = o.padding, .dilation = o.dilation, .groups = o.groups};
  if constexpr (N == 1)
    return conv1d(x, this->weight, this->bias, op);
  else
    return conv2d(x, this->weight, this->bias, op);
}

template <class T, std::size_t N>
std::string ConvNd<T, N>::extra_repr() const {
  const auto& o = this->options_;
  std::string s = conv_repr_head(this->in_, this->out_, this->kernel_, o.stride);
  if (o.padding.mode == PaddingMode::same) s += ", padding=same";
  else if (o.padding.mode == PaddingMode::valid) s += ", padding=valid";
  else if (o.padding.size != SpatialSize<N>(0)) s += ", padding=" + tuple_str(o.padding.size);
  return s + conv_repr_tail(o.dilation, o.groups, o.bias);
}

template <class T, std::size_t N>
ConvTransposeNd<T, N>::ConvTransposeNd(std::size_t in_channels, std::size_t out_channels, SpatialSize<N> kernel_size,
                                       ConvTransposeLayerOptions<N> options)
    : ConvLayerBase<T, N, ConvTransposeLayerOptions<N>>(N == 1 ? "ConvTranspose1d" : "ConvTranspose2d", in_channels, out_channels,
                                                        kernel_size, options) {}

template <class T, std::size_t N>
Variable<T> ConvTransposeNd<T, N>::forward(const Variable<T>& x) {
  const auto& o = this->options_;
  const ConvTransposeOpOptions<N> op{
      .stride = o.stride, .padding = o.padding, .output_padding = o.output_padding, .groups = o.groups, .dilation = o.dilation};
  if constexpr (N == 1)
    return conv_transpose1d(x, this->weight, this->bias, op);
  else
    return conv_transpose2d(x, this->weight, this->bias, op);
}

template <class T, std::size_t N>
std::string ConvTransposeNd<T, N>::extra_repr() const {
  const auto& o = this->options_;
  std::string s = conv_repr_head(this->in_, this->out_, this->kernel_, o.stride);
  if (o.padding != SpatialSize<N>(0)) s += ", padding=" + tuple_str(o.padding);
  if (o.output_padding != SpatialSize<N>(0)) s += ", output_padding=" + tuple_str(o.output_padding);
  return s + conv_repr_tail(o.dilation, o.groups, o.bias);
}

template class ConvLayerBase<float, 1, ConvLayerOptions<1>>;
template class ConvLayerBase<double, 1, ConvLayerOptions<1>>;
template class ConvLayerBase<float, 2, ConvLayerOptions<2>>;
template class ConvLayerBase<double, 2, ConvLayerOptions<2>>;
template class ConvLayerBase<float, 2, ConvTransposeLayerOptions<2>>;
template class ConvLayerBase<double, 2, ConvTransposeLayerOptions<2>>;
template class ConvNd<float, 1>;
template class ConvNd<double, 1>;
template class ConvNd<float, 2>;
template class ConvNd<double, 2>;
template class ConvTransposeNd<float, 2>;
template class ConvTransposeNd<double, 2>;
template class ConvTranspose2d<float>;
template class ConvTranspose2d<double>;

}  // namespace tg::nn
