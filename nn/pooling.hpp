#pragma once
// Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d (no parameters),
// over the ops of autograd/ops/pool.hpp, with PyTorch's defaults (stride = kernel_size).
#include <string>

#include "../autograd/ops/pool.hpp"
#include "module.hpp"

namespace tg::nn {

template <class T = float>
class MaxPool2d : public Module<T> {
 public:
  explicit MaxPool2d(MaxPool2dOptions options) : options_(options) {}
  explicit MaxPool2d(Size2 kernel_size) : options_{.kernel_size = kernel_size} {}
  Variable<T> forward(const Variable<T>& x) override { return max_pool2d(x, options_); }
  std::string extra_repr() const override;

 private:
  MaxPool2dOptions options_;
};

template <class T = float>
class AvgPool2d : public Module<T> {
 public:
  explicit AvgPool2d(AvgPool2dOptions options) : options_(options) {}
  explicit AvgPool2d(Size2 kernel_size) : options_{.kernel_size = kernel_size} {}
  Variable<T> forward(const Variable<T>& x) override { return avg_pool2d(x, options_); }
  std::string extra_repr() const override;

 private:
  AvgPool2dOptions options_;
};

template <class T = float>
class AdaptiveAvgPool2d : public Module<T> {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size) : output_size_(output_size) {}
  Variable<T> forward(const Variable<T>& x) override { return adaptive_avg_pool2d(x, output_size_); }
  std::string extra_repr() const override;

 private:
  Size2 output_size_;
};

template <class T = float>
class AdaptiveMaxPool2d : public Module<T> {
 public:
  explicit AdaptiveMaxPool2d(Size2 output_size) : output_size_(output_size) {}
  Variable<T> forward(const Variable<T>& x) override { return adaptive_max_pool2d(x, output_size_); }
  std::string extra_repr() const override;

 private:
  Size2 output_size_;
};

extern template class MaxPool2d<float>;
extern template class MaxPool2d<double>;
extern template class AvgPool2d<float>;
extern template class AvgPool2d<double>;
extern template class AdaptiveAvgPool2d<float>;
extern template class AdaptiveAvgPool2d<double>;
extern template class AdaptiveMaxPool2d<float>;
extern template class AdaptiveMaxPool2d<double>;

}  // namespace tg::nn
