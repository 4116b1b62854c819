#pragma once
// Linear, the Sequential container, and the MLP builder made of both.
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <vector>

#include "activation.hpp"
#include "module.hpp"

namespace tg::nn {

struct LinearOptions {
  bool bias = true;
};

/// y = x W^T + b for x of shape [..., in_features]; W is [out_features, in_features]
/// (PyTorch's layout, passed to GEMM as a transpose flag, never copied), b is [out_features].
/// Default init (PyTorch's): W = kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
/// and b ~ U(-1/sqrt(in), 1/sqrt(in)).
template <class T = float>
class Linear : public Module<T> {
 public:
  Linear(std::size_t in_features, std::size_t out_features, LinearOptions options = {});
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;

  std::size_t in_features() const { return in_; }
  std::size_t out_features() const { return out_; }

  // The registered parameters (bias is undefined without one). Change their values in place
  // (tg::nn::init, mutable_value()); assigning a new Variable would detach it from the module.
  Variable<T> weight;
  Variable<T> bias;

 private:
  std::size_t in_, out_;
};

/// Runs its modules in order, each one's output the next one's input. Modules are named
/// by position ("0", "1", ...) unless added with a name.
template <class T = float>
class Sequential : public Module<T> {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module<T>>> modules);

  /// Appends a module named by its position; returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return this->register_module(std::to_string(this->named_children().size()), std::move(module));
  }
  /// Appends a module under a chosen name; returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::string name, std::shared_ptr<M> module) {
    return this->register_module(std::move(name), std::move(module));
  }

  /// Each module's forward in turn; an error names the position and type of the failing module.
  Variable<T> forward(const Variable<T>& x) override;
  std::size_t size() const { return this->named_children().size(); }
  std::shared_ptr<Module<T>> operator[](std::size_t i) const;
};

struct MLPOptions {
  Activation activation = Activation::relu;  // after every hidden Linear
  double dropout = 0;                        // Dropout(p) after every hidden activation when > 0
  bool bias = true;                          // Linear layers with bias
  bool activate_output = false;              // also apply the activation after the last Linear
};

/// A Sequential of Linear(sizes[i], sizes[i+1]) layers with an activation (and dropout)
/// between them: MLP({784, 256, 10}, {.activation = Activation::gelu, .dropout = 0.1}).
/// The Linear layers keep their default init.
template <class T = float>
class MLP : public Sequential<T> {
 public:
  explicit MLP(const std::vector<std::size_t>& sizes, MLPOptions options = {});
};

extern template class Linear<float>;
extern template class Linear<double>;
extern template class Sequential<float>;
extern template class Sequential<double>;
extern template class MLP<float>;
extern template class MLP<double>;

}  // namespace tg::nn
