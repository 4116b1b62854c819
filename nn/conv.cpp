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

/// A convolution's weight and bias, checked, registered and initialised: weight [rows, columns,
/// kernel...] (rows and columns are the channel counts in the layer's layout), bias [out_channels].
template <class T, std::size_t N>
void make_conv_parameters(Module<T>& layer, const char* name, std::size_t rows, std::size_t columns, const SpatialSize<N>& kernel_size,
                          std::size_t out_channels, bool with_bias, Variable<T>& weight, Variable<T>& bias) {
  Shape shape{rows, columns};
  for (std::size_t a = 0; a < N; ++a) {
    TG_CHECK(kernel_size[a] > 0, name, "kernel_size must be positive, got " + tuple_str(kernel_size));
    shape.push_back(kernel_size[a]);
  }
  weight = layer.register_parameter("weight", zeros<T>(shape));
  if (with_bias) bias = layer.register_parameter("bias", zeros<T>({out_channels}));
  init_conv(weight, bias);
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

template <class T, std::size_t N>
ConvNd<T, N>::ConvNd(std::size_t in_channels, std::size_t out_channels, SpatialSize<N> kernel_size, ConvLayerOptions<N> options)
    : in_(in_channels), out_(out_channels), kernel_(kernel_size), options_(options) {
  const char* layer = N == 1 ? "Conv1d" : "Conv2d";
  check_channels(layer, in_channels, out_channels, options.groups);
  make_conv_parameters(*this, layer, out_channels, in_channels / options.groups, kernel_size, out_channels, options.bias, weight, bias);
}

template <class T, std::size_t N>
Variable<T> ConvNd<T, N>::forward(const Variable<T>& x) {
  const ConvOpOptions<N> o{.stride = options_.stride, .padding = options_.padding, .dilation = options_.dilation, .groups = options_.groups};
  if constexpr (N == 1)
    return conv1d(x, weight, bias, o);
  else
    return conv2d(x, weight, bias, o);
}

template <class T, std::size_t N>
std::string ConvNd<T, N>::extra_repr() const {
  std::string s = conv_repr_head(in_, out_, kernel_, options_.stride);
  const auto& p = options_.padding;
  if (p.mode == PaddingMode::same) s += ", padding=same";
  else if (p.mode == PaddingMode::valid) s += ", padding=valid";
  else if (p.size != SpatialSize<N>(0)) s += ", padding=" + tuple_str(p.size);
  return s + conv_repr_tail(options_.dilation, options_.groups, options_.bias);
}

template <class T, std::size_t N>
ConvTransposeNd<T, N>::ConvTransposeNd(std::size_t in_channels, std::size_t out_channels, SpatialSize<N> kernel_size,
                                       ConvTransposeLayerOptions<N> options)
    : in_(in_channels), out_(out_channels), kernel_(kernel_size), options_(options) {
  const char* layer = N == 1 ? "ConvTranspose1d" : "ConvTranspose2d";
  check_channels(layer, in_channels, out_channels, options.groups);
  make_conv_parameters(*this, layer, in_channels, out_channels / options.groups, kernel_size, out_channels, options.bias, weight, bias);
}

template <class T, std::size_t N>
Variable<T> ConvTransposeNd<T, N>::forward(const Variable<T>& x) {
  const ConvTransposeOpOptions<N> o{.stride = options_.stride, .padding = options_.padding, .output_padding = options_.output_padding,
                                    .groups = options_.groups, .dilation = options_.dilation};
  if constexpr (N == 1)
    return conv_transpose1d(x, weight, bias, o);
  else
    return conv_transpose2d(x, weight, bias, o);
}

template <class T, std::size_t N>
std::string ConvTransposeNd<T, N>::extra_repr() const {
  std::string s = conv_repr_head(in_, out_, kernel_, options_.stride);
  if (options_.padding != SpatialSize<N>(0)) s += ", padding=" + tuple_str(options_.padding);
  if (options_.output_padding != SpatialSize<N>(0)) s += ", output_padding=" + tuple_str(options_.output_padding);
  return s + conv_repr_tail(options_.dilation, options_.groups, options_.bias);
}

template class ConvNd<float, 1>;
template class ConvNd<double, 1>;
template class ConvNd<float, 2>;
template class ConvNd<double, 2>;
template class ConvTransposeNd<float, 2>;
template class ConvTransposeNd<double, 2>;
template class ConvTranspose2d<float>;
template class ConvTranspose2d<double>;

}  // namespace tg::nn
