// RMSprop: the update of torch.optim.RMSprop as a raw loop over each parameter.
#include "rmsprop.hpp"

#include <cmath>

namespace tg::optim {

void RMSpropOptions::validate() const {
  detail::check_non_negative("RMSprop", "lr", lr);
  detail::check_option(alpha >= 0 && alpha <= 1, "RMSprop", "alpha", alpha, "must be in [0, 1]");
  detail::check_non_negative("RMSprop", "eps", eps);
  detail::check_non_negative("RMSprop", "weight_decay", weight_decay);
  detail::check_non_negative("RMSprop", "momentum", momentum);
}

template <class T>
std::uint32_t RMSprop<T>::buffers_for(const RMSpropOptions& o) const {
  return 1u | (o.momentum > 0 ? 2u : 0u) | (o.centered ? 4u : 0u);
}

template <class T>
void RMSprop<T>::update(Slot& s, std::uint32_t) {
  const RMSpropOptions& o = this->options_[s.group];
  const T lr = static_cast<T>(o.lr), alpha = static_cast<T>(o.alpha), one_minus_alpha = static_cast<T>(1 - o.alpha);
  const T eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay), mu = static_cast<T>(o.momentum);
  const bool maximize = o.maximize;
  T* p = s.param.mutable_value().data();
  const T* g = s.param.grad().value().data();
  T* v = s.buffers[0].data();
  T* b = o.momentum > 0 ? s.buffers[1].data() : nullptr;
  T* g_avg = o.centered ? s.buffers[2].data() : nullptr;
  for (std::size_t i = 0, n = s.param.numel(); i < n; ++i) {
    T gi = maximize ? -g[i] : g[i];
    if (wd != 0) gi += wd * p[i];
    v[i] = alpha * v[i] + one_minus_alpha * gi * gi;
    T denom;
    if (g_avg) {
      g_avg[i] = alpha * g_avg[i] + one_minus_alpha * gi;
      denom = std::sqrt(v[i] - g_avg[i] * g_avg[i]) + eps;
    } else {
      denom = std::sqrt(v[i]) + eps;
    }
    if (b) {
      b[i] = mu * b[i] + gi / denom;
      p[i] -= lr * b[i];
    } else {
      p[i] -= lr * gi / denom;
    }
  }
}

TG_OPTIMIZER_INSTANTIATE(RMSprop, RMSpropOptions)

}  // namespace tg::optim
