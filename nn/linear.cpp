// Linear: the fused linear op (one GEMM with the weight transposed by flag, accumulating onto the bias).
#include "linear.hpp"

#include <cmath>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/linalg.hpp"
#include "init.hpp"

namespace tg::nn {

template <class T>
Linear<T>::Linear(std::size_t in_features, std::size_t out_features, LinearOptions options)
    : in_(in_features), out_(out_features) {
  TG_CHECK(in_features > 0 && out_features > 0, "Linear",
           "in_features and out_features must be positive, got " + std::to_string(in_features) + " and " +
               std::to_string(out_features));
  weight = this->register_parameter("weight", zeros<T>({out_features, in_features}));
  init::kaiming_uniform_(weight, {.a = std::sqrt(5.0)});
  if (options.bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    bias = this->register_parameter("bias", zeros<T>({out_features}));
    init::uniform_(bias, -bound, bound);
  }
}

template <class T>
Variable<T> Linear<T>::forward(const Variable<T>& x) {
  TG_CHECK(x.dim() >= 1 && x.shape().back() == in_, "Linear",
           "input " + shape_str(x.shape()) + " must end in in_features " + std::to_string(in_) + " (weight " +
               shape_str(weight.shape()) + ")");
  return linear(x, weight, bias);
}

template <class T>
std::string Linear<T>::extra_repr() const {
  return "in_features=" + std::to_string(in_) + ", out_features=" + std::to_string(out_) +
         ", bias=" + (bias.defined() ? "true" : "false");
}

template class Linear<float>;
template class Linear<double>;

}  // namespace tg::nn
