// Pooling layers: their settings as PyTorch prints them.
#include "pooling.hpp"

namespace tg::nn {

namespace {
std::string pair_str(const Size2& s) { return "(" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ")"; }
Size2 stride_or_kernel(const Size2& stride, const Size2& kernel) {
  return {stride[0] == 0 ? kernel[0] : stride[0], stride[1] == 0 ? kernel[1] : stride[1]};
}
}  // namespace

template <class T>
std::string MaxPool2d<T>::extra_repr() const {
  const auto& o = options_;
  return "kernel_size=" + pair_str(o.kernel_size) + ", stride=" + pair_str(stride_or_kernel(o.stride, o.kernel_size)) +
         ", padding=" + pair_str(o.padding) + ", dilation=" + pair_str(o.dilation) + ", ceil_mode=" + (o.ceil_mode ? "true" : "false");
}

template <class T>
std::string AvgPool2d<T>::extra_repr() const {
  const auto& o = options_;
  return "kernel_size=" + pair_str(o.kernel_size) + ", stride=" + pair_str(stride_or_kernel(o.stride, o.kernel_size)) +
         ", padding=" + pair_str(o.padding) + ", ceil_mode=" + (o.ceil_mode ? "true" : "false") +
         ", count_include_pad=" + (o.count_include_pad ? "true" : "false");
}

template <class T>
std::string AdaptiveAvgPool2d<T>::extra_repr() const {
  return "output_size=" + pair_str(output_size_);
}
template <class T>
std::string AdaptiveMaxPool2d<T>::extra_repr() const {
  return "output_size=" + pair_str(output_size_);
}

template class MaxPool2d<float>;
template class MaxPool2d<double>;
template class AvgPool2d<float>;
template class AvgPool2d<double>;
template class AdaptiveAvgPool2d<float>;
template class AdaptiveAvgPool2d<double>;
template class AdaptiveMaxPool2d<float>;
template class AdaptiveMaxPool2d<double>;

}  // namespace tg::nn
