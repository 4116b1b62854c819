#pragma once
// Linear: y = x W^T + b, one GEMM with the weight transposed by flag.
#include <cstddef>

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

extern template class Linear<float>;
extern template class Linear<double>;

}  // namespace tg::nn
