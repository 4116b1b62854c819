// Activation modules: each forwards to an op, or to a short composition of ops.
#include "activation.hpp"

#include <cmath>
#include <numbers>
#include <sstream>
#include <string>

#include "../autograd/ops/elementwise.hpp"

namespace tg::nn {

template <class T>
Variable<T> gelu(const Variable<T>& x, GeluApproximation approximate) {
  if (approximate == GeluApproximation::tanh) {
    const T k = static_cast<T>(std::sqrt(2.0 / std::numbers::pi));
    return T(0.5) * x * (T(1) + tanh(k * (x + T(0.044715) * x * x * x)));
  }
  return T(0.5) * x * (T(1) + erf(x * static_cast<T>(1 / std::numbers::sqrt2)));
}

template <class T>
Variable<T> selu(const Variable<T>& x) {
  constexpr double alpha = 1.6732632423543772848170429916717;
  constexpr double scale = 1.0507009873554804934193349852946;
  return elu(x, static_cast<T>(alpha)) * static_cast<T>(scale);
}

template <class T>
Variable<T> ReLU<T>::forward(const Variable<T>& x) {
  return relu(x);
}

template <class T>
Variable<T> LeakyReLU<T>::forward(const Variable<T>& x) {
  return leaky_relu(x, static_cast<T>(negative_slope_));
}
template <class T>
std::string LeakyReLU<T>::extra_repr() const {
  return "negative_slope=" + number_str(negative_slope_);
}

template <class T>
Variable<T> Tanh<T>::forward(const Variable<T>& x) {
  return tanh(x);
}

template <class T>
Variable<T> Sigmoid<T>::forward(const Variable<T>& x) {
  return sigmoid(x);
}

template <class T>
Variable<T> ELU<T>::forward(const Variable<T>& x) {
  return elu(x, static_cast<T>(alpha_));
}
template <class T>
std::string ELU<T>::extra_repr() const {
  return "alpha=" + number_str(alpha_);
}

template <class T>
Variable<T> SELU<T>::forward(const Variable<T>& x) {
  return selu(x);
}

template <class T>
Variable<T> GELU<T>::forward(const Variable<T>& x) {
  return gelu(x, approximate_);
}

template <class T>
Softplus<T>::Softplus(double beta) : beta_(beta) {
  TG_CHECK(beta > 0, "Softplus", "beta must be positive, got " + number_str(beta));
}
template <class T>
Variable<T> Softplus<T>::forward(const Variable<T>& x) {
  if (beta_ == 1) return softplus(x);
  return softplus(x * static_cast<T>(beta_)) * static_cast<T>(1 / beta_);
}
template <class T>
std::string Softplus<T>::extra_repr() const {
  return "beta=" + number_str(beta_);
}

template <class T>
std::shared_ptr<Module<T>> make_activation(Activation activation) {
  switch (activation) {
    case Activation::relu: return std::make_shared<ReLU<T>>();
    case Activation::leaky_relu: return std::make_shared<LeakyReLU<T>>();
    case Activation::tanh: return std::make_shared<Tanh<T>>();
    case Activation::sigmoid: return std::make_shared<Sigmoid<T>>();
    case Activation::elu: return std::make_shared<ELU<T>>();
    case Activation::selu: return std::make_shared<SELU<T>>();
    case Activation::gelu: return std::make_shared<GELU<T>>();
    case Activation::softplus: return std::make_shared<Softplus<T>>();
    case Activation::identity: return nullptr;
  }
  throw Error("make_activation: unknown activation");
}

#define TG_INSTANTIATE(T)                                                          \
  template Variable<T> gelu(const Variable<T>&, GeluApproximation);                                   \
  template Variable<T> selu(const Variable<T>&);                                   \
  template class ReLU<T>;                                                          \
  template class LeakyReLU<T>;                                                     \
  template class Tanh<T>;                                                          \
  template class Sigmoid<T>;                                                       \
  template class ELU<T>;                                                           \
  template class SELU<T>;                                                          \
  template class GELU<T>;                                                          \
  template class Softplus<T>;                                                      \
  template std::shared_ptr<Module<T>> make_activation<T>(Activation);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg::nn
