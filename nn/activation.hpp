#pragma once
// Activation modules (stateless, no parameters) and the two activations that are
// compositions rather than primitive ops: GELU and SELU.
#include <memory>

#include "module.hpp"

namespace tg::nn {

/// How gelu computes Phi: exactly with erf (PyTorch's default), or with the tanh
/// approximation (PyTorch's approximate="tanh"; within 5e-4 of the exact form).
enum class GeluApproximation { none, tanh };

/// GELU: x Phi(x) = 0.5 x (1 + erf(x / sqrt(2))); with GeluApproximation::tanh
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class T> Variable<T> gelu(const Variable<T>& x, GeluApproximation approximate = GeluApproximation::none);
/// SELU: scale * elu(x, alpha), scale = 1.0507009873554805, alpha = 1.6732632423543772.
template <class T> Variable<T> selu(const Variable<T>& x);

/// max(x, 0)
template <class T = float>
class ReLU : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
};

/// x if x > 0 else negative_slope * x
template <class T = float>
class LeakyReLU : public Module<T> {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;
  double negative_slope() const { return negative_slope_; }

 private:
  double negative_slope_;
};

template <class T = float>
class Tanh : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
};

/// 1 / (1 + e^-x)
template <class T = float>
class Sigmoid : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
};

/// x if x > 0 else alpha (e^x - 1)
template <class T = float>
class ELU : public Module<T> {
 public:
  explicit ELU(double alpha = 1.0) : alpha_(alpha) {}
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;

 private:
  double alpha_;
};

/// See selu().
template <class T = float>
class SELU : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
};

/// See gelu(); exact unless constructed with GeluApproximation::tanh.
template <class T = float>
class GELU : public Module<T> {
 public:
  explicit GELU(GeluApproximation approximate = GeluApproximation::none) : approximate_(approximate) {}
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override {
    return approximate_ == GeluApproximation::tanh ? "approximate=tanh" : "";
  }

 private:
  GeluApproximation approximate_;
};

/// log(1 + e^(beta x)) / beta
template <class T = float>
class Softplus : public Module<T> {
 public:
  explicit Softplus(double beta = 1.0);
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;

 private:
  double beta_;
};

/// The activations by name, for builders such as MLP.
enum class Activation { relu, leaky_relu, tanh, sigmoid, elu, selu, gelu, softplus, identity };

/// A new module computing `activation` with its default settings (nullptr for identity).
template <class T = float>
std::shared_ptr<Module<T>> make_activation(Activation activation);

#define TG_NN_ACTIVATION_EXTERN(T)                                                  \
  extern template class ReLU<T>;                                                    \
  extern template class LeakyReLU<T>;                                               \
  extern template class Tanh<T>;                                                    \
  extern template class Sigmoid<T>;                                                 \
  extern template class ELU<T>;                                                     \
  extern template class SELU<T>;                                                    \
  extern template class GELU<T>;                                                    \
  extern template class Softplus<T>;
TG_NN_ACTIVATION_EXTERN(float)
TG_NN_ACTIVATION_EXTERN(double)
#undef TG_NN_ACTIVATION_EXTERN

}  // namespace tg::nn
