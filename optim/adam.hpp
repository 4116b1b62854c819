#pragma once
// Adam (optionally AMSGrad) and AdamW, Adam with decoupled weight decay.
#include <array>

#include "optimizer.hpp"

namespace tg::optim {

/// As torch.optim.Adam. Per step t, with g the gradient (negated when maximize):
///   g = g + weight_decay·θ
///   m = β1·m + (1 − β1)·g,   v = β2·v + (1 − β2)·g²
///   v_max = max(v_max, v) and v = v_max                  (amsgrad)
///   θ = θ − lr·(m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + eps)
struct AdamOptions {
  static constexpr const char* name = "Adam";
  static constexpr const char* state[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};  // per-parameter buffers
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;  // an L2 penalty added to the gradient
  bool amsgrad = false;
  bool maximize = false;
  void validate() const;
  template <class O, class F>
  static void fields(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.betas[0]);
    f("beta2", o.betas[1]);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("amsgrad", o.amsgrad);
    f("maximize", o.maximize);
  }
};

/// As torch.optim.AdamW: Adam whose weight decay shrinks the weights directly,
///   θ = θ − lr·weight_decay·θ, then the Adam step with g free of any penalty.
struct AdamWOptions {
  static constexpr const char* name = "AdamW";
  static constexpr const auto& state = AdamOptions::state;  // per-parameter buffers
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled
  bool amsgrad = false;
  bool maximize = false;
  void validate() const;
  template <class O, class F>
  static void fields(O& o, F&& f) {  // Adam's fields, by the same names
    AdamOptions::fields(o, std::forward<F>(f));
  }
};

/// State per parameter: "exp_avg" (m), "exp_avg_sq" (v), "max_exp_avg_sq" (v_max, amsgrad).
template <class T = float>
class Adam : public OptimizerOf<T, AdamOptions> {
 public:
  using OptimizerOf<T, AdamOptions>::OptimizerOf;

 protected:
  using Slot = typename Optimizer<T>::Slot;
  std::uint32_t buffers_for(const AdamOptions& o) const override;
  void update(Slot& slot, std::uint32_t fresh) override;
};

/// State per parameter: as Adam.
template <class T = float>
class AdamW : public OptimizerOf<T, AdamWOptions> {
 public:
  using OptimizerOf<T, AdamWOptions>::OptimizerOf;

 protected:
  using Slot = typename Optimizer<T>::Slot;
  std::uint32_t buffers_for(const AdamWOptions& o) const override;
  void update(Slot& slot, std::uint32_t fresh) override;
};

TG_OPTIMIZER_DECLARE(Adam, AdamOptions)
TG_OPTIMIZER_DECLARE(AdamW, AdamWOptions)

}  // namespace tg::optim
