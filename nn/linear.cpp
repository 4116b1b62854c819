// Linear (one GEMM with the weight transposed by flag), Sequential and MLP.
#include "linear.hpp"

#include <cmath>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/linalg.hpp"
#include "dropout.hpp"
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
  Variable<T> y = matmul(x, weight, {.transpose_b = true});
  return bias.defined() ? y + bias : y;
}

template <class T>
std::string Linear<T>::extra_repr() const {
  return "in_features=" + std::to_string(in_) + ", out_features=" + std::to_string(out_) +
         ", bias=" + (bias.defined() ? "true" : "false");
}

template <class T>
Sequential<T>::Sequential(std::initializer_list<std::shared_ptr<Module<T>>> modules) {
  for (const auto& m : modules) push_back(m);
}

template <class T>
Variable<T> Sequential<T>::forward(const Variable<T>& x) {
  Variable<T> y = x;
  for (const auto& [name, module] : this->named_children()) {
    try {
      y = module->forward(y);
    } catch (const Error& e) {
      throw Error(this->type_name() + ": module (" + name + ") " + module->type_name() + " failed: " + e.what());
    }
  }
  return y;
}

template <class T>
std::shared_ptr<Module<T>> Sequential<T>::operator[](std::size_t i) const {
  TG_CHECK(i < size(), "Sequential", "index " + std::to_string(i) + " is out of range for " + std::to_string(size()) + " modules");
  return this->named_children()[i].second;
}

template <class T>
MLP<T>::MLP(const std::vector<std::size_t>& sizes, MLPOptions options) {
  TG_CHECK(sizes.size() >= 2, "MLP", "needs at least an input and an output size, got " + std::to_string(sizes.size()) + " sizes");
  TG_CHECK(options.dropout >= 0 && options.dropout < 1, "MLP",
           "dropout must be in [0, 1), got " + std::to_string(options.dropout));
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    this->push_back(std::make_shared<Linear<T>>(sizes[i], sizes[i + 1], LinearOptions{.bias = options.bias}));
    const bool last = i + 2 == sizes.size();
    if (last && !options.activate_output) break;
    if (auto act = make_activation<T>(options.activation)) this->push_back(act);
    if (options.dropout > 0 && !last) this->push_back(std::make_shared<Dropout<T>>(options.dropout));
  }
}

template class Linear<float>;
template class Linear<double>;
template class Sequential<float>;
template class Sequential<double>;
template class MLP<float>;
template class MLP<double>;

}  // namespace tg::nn
