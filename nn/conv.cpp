// Convolution layers: the parameters, PyTorch's initialisation, and one op call each.
#include "conv.hpp"

#include <cmath>

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

}  // namespace

template <class T, std::size_t N>
ConvNd<T, N>::ConvNd(std::size_t in_channels, std::size_t out_channels, SpatialSize<N> kernel_size, ConvLayerOptions<N> options)
    : in_(in_channels), out_(out_channels), kernel_(kernel_size), options_(options) {
  const char* layer = N == 1 ? "Conv1d" : "Conv2d";
  check_channels(layer, in_channels, out_channels, options.groups);
  Shape shape{out_channels, in_channels / options.groups};
  for (std::size_t a = 0; a < N; ++a) {
    TG_CHECK(kernel_size[a] > 0, layer, "kernel_size must be positive, got " + tuple_str(kernel_size));
    shape.push_back(kernel_size[a]);
  }
  weight = this->register_parameter("weight", zeros<T>(shape));
  if (options.bias) bias = this->register_parameter("bias", zeros<T>({out_channels}));
  init_conv(weight, bias);
}

template <class T, std::size_t N>
Variable<T> ConvNd<T, N>::forward(const Variable<T>& x) {
  if constexpr (N == 1)
    return conv1d(x, weight, bias, {.stride = options_.stride, .padding = options_.padding, .dilation = options_.dilation, .groups = options_.groups});
  else
    return conv2d(x, weight, bias, {.stride = options_.stride, .padding = options_.padding, .dilation = options_.dilation, .groups = options_.groups});
}

template <class T, std::size_t N>
std::string ConvNd<T, N>::extra_repr() const {
  std::string s = std::to_string(in_) + ", " + std::to_string(out_) + ", kernel_size=" + tuple_str(kernel_) +
                  ", stride=" + tuple_str(options_.stride);
  const auto& p = options_.padding;
  if (p.mode == PaddingMode::same) s += ", padding=same";
  else if (p.mode == PaddingMode::valid) s += ", padding=valid";
  else if (p.size != SpatialSize<N>(0)) s += ", padding=" + tuple_str(p.size);
  if (options_.dilation != SpatialSize<N>(1)) s += ", dilation=" + tuple_str(options_.dilation);
  if (options_.groups != 1) s += ", groups=" + std::to_string(options_.groups);
  if (!options_.bias) s += ", bias=false";
  return s;
}

template <class T>
ConvTranspose2d<T>::ConvTranspose2d(std::size_t in_channels, std::size_t out_channels, Size2 kernel_size,
                                    ConvTransposeLayerOptions<2> options)
    : in_(in_channels), out_(out_channels), kernel_(kernel_size), options_(options) {
  check_channels("ConvTranspose2d", in_channels, out_channels, options.groups);
  TG_CHECK(kernel_size[0] > 0 && kernel_size[1] > 0, "ConvTranspose2d", "kernel_size must be positive, got " + tuple_str(kernel_size));
  weight = this->register_parameter("weight", zeros<T>({in_channels, out_channels / options.groups, kernel_size[0], kernel_size[1]}));
  if (options.bias) bias = this->register_parameter("bias", zeros<T>({out_channels}));
  init_conv(weight, bias);
}

template <class T>
Variable<T> ConvTranspose2d<T>::forward(const Variable<T>& x) {
  return conv_transpose2d(x, weight, bias,
                          {.stride = options_.stride, .padding = options_.padding, .output_padding = options_.output_padding,
                           .groups = options_.groups, .dilation = options_.dilation});
}

template <class T>
std::string ConvTranspose2d<T>::extra_repr() const {
  std::string s = std::to_string(in_) + ", " + std::to_string(out_) + ", kernel_size=" + tuple_str(kernel_) +
                  ", stride=" + tuple_str(options_.stride);
  if (options_.padding != Size2(0)) s += ", padding=" + tuple_str(options_.padding);
  if (options_.output_padding != Size2(0)) s += ", output_padding=" + tuple_str(options_.output_padding);
  if (options_.dilation != Size2(1)) s += ", dilation=" + tuple_str(options_.dilation);
  if (options_.groups != 1) s += ", groups=" + std::to_string(options_.groups);
  if (!options_.bias) s += ", bias=false";
  return s;
}

template class ConvNd<float, 1>;
template class ConvNd<double, 1>;
template class ConvNd<float, 2>;
template class ConvNd<double, 2>;
template class ConvTranspose2d<float>;
template class ConvTranspose2d<double>;

}  // namespace tg::nn
