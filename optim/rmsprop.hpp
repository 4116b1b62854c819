#pragma once
// RMSprop, with optional momentum and centring.
#include "optimizer.hpp"

namespace tg::optim {

/// As torch.optim.RMSprop. Per step, with g the gradient (negated when maximize):
///   g = g + weight_decay·θ
///   v = α·v + (1 − α)·g²
///   ĝ = α·ĝ + (1 − α)·g and s = sqrt(v − ĝ²) + eps   (centered), else s = sqrt(v) + eps
///   b = momentum·b + g/s and θ = θ − lr·b             (momentum > 0), else θ = θ − lr·g/s
struct RMSpropOptions {
  static constexpr const char* name = "RMSprop";
  static constexpr const char* state[] = {"square_avg", "momentum_buffer", "grad_avg"};  // per-parameter buffers
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;
  void validate() const;
  template <class O, class F>
  static void fields(O& o, F&& f) {
    f("lr", o.lr);
    f("alpha", o.alpha);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("momentum", o.momentum);
    f("centered", o.centered);
    f("maximize", o.maximize);
  }
};

/// State per parameter: "square_avg" (v), "momentum_buffer" (b, momentum > 0),
/// "grad_avg" (ĝ, centered).
template <class T = float>
class RMSprop : public OptimizerOf<T, RMSpropOptions> {
 public:
  using OptimizerOf<T, RMSpropOptions>::OptimizerOf;

 protected:
  using Slot = typename Optimizer<T>::Slot;
  std::uint32_t buffers_for(const RMSpropOptions& o) const override;
  void update(Slot& slot, std::uint32_t fresh) override;
};

TG_OPTIMIZER_DECLARE(RMSprop, RMSpropOptions)

}  // namespace tg::optim
