#pragma once
// Adagrad: per-coordinate step sizes from the running sum of squared gradients.
#include "optimizer.hpp"

namespace tg::optim {

/// As torch.optim.Adagrad. Per step t, with g the gradient (negated when maximize):
///   lr_t = lr / (1 + (t − 1)·lr_decay)
///   g = g + weight_decay·θ
///   s = s + g²                   (s starts at initial_accumulator_value)
///   θ = θ − lr_t·g / (sqrt(s) + eps)
struct AdagradOptions {
  static constexpr const char* name = "Adagrad";
  static constexpr const char* state[] = {"sum"};  // per-parameter buffers
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
  bool maximize = false;
  void validate() const;
  template <class O, class F>
  static void fields(O& o, F&& f) {
    f("lr", o.lr);
    f("lr_decay", o.lr_decay);
    f("weight_decay", o.weight_decay);
    f("initial_accumulator_value", o.initial_accumulator_value);
    f("eps", o.eps);
    f("maximize", o.maximize);
  }
};

/// State per parameter: "sum" (s).
template <class T = float>
class Adagrad : public OptimizerOf<T, AdagradOptions> {
 public:
  using OptimizerOf<T, AdagradOptions>::OptimizerOf;

 protected:
  using Slot = typename Optimizer<T>::Slot;
  std::uint32_t buffers_for(const AdagradOptions& o) const override;
  void update(Slot& slot, std::uint32_t fresh) override;
};

TG_OPTIMIZER_DECLARE(Adagrad, AdagradOptions)

}  // namespace tg::optim
