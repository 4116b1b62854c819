#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.
#include "optimizer.hpp"

namespace tg::optim {

/// As torch.optim.SGD. Per step, with g the gradient (negated when maximize):
///   d = g + weight_decay·θ
///   b = d on the first step, else momentum·b + (1 − dampening)·d   (when momentum ≠ 0)
///   d = d + momentum·b if nesterov, else b                          (when momentum ≠ 0)
///   θ = θ − lr·d
struct SGDOptions {
  static constexpr const char* name = "SGD";
  static constexpr const char* state[] = {"momentum_buffer"};  // per-parameter buffers
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;  // needs momentum > 0 and dampening = 0
  bool maximize = false;
  void validate() const;
  template <class O, class F>
  static void fields(O& o, F&& f) {
    f("lr", o.lr);
    f("momentum", o.momentum);
    f("dampening", o.dampening);
    f("weight_decay", o.weight_decay);
    f("nesterov", o.nesterov);
    f("maximize", o.maximize);
  }
};

/// State per parameter: "momentum_buffer" (when momentum ≠ 0).
template <class T = float>
class SGD : public OptimizerOf<T, SGDOptions> {
 public:
  using OptimizerOf<T, SGDOptions>::OptimizerOf;

 protected:
  using Slot = typename Optimizer<T>::Slot;
  std::uint32_t buffers_for(const SGDOptions& o) const override;
  void update(Slot& slot, std::uint32_t fresh) override;
};

TG_OPTIMIZER_DECLARE(SGD, SGDOptions)

}  // namespace tg::optim
