// SGD: the update of torch.optim.SGD as a raw loop over each parameter.
#include "sgd.hpp"

#include <cmath>

namespace tg::optim {

void SGDOptions::validate() const {
  detail::check_non_negative("SGD", "lr", lr);
  detail::check_non_negative("SGD", "momentum", momentum);
  detail::check_option(std::isfinite(dampening), "SGD", "dampening", dampening, "must be finite");
  detail::check_non_negative("SGD", "weight_decay", weight_decay);
  TG_CHECK(!nesterov || (momentum > 0 && dampening == 0), "SGD",
           "nesterov needs momentum > 0 and dampening = 0 (got momentum " + number_str(momentum) +
               ", dampening " + number_str(dampening) + ")");
}

template <class T>
std::uint32_t SGD<T>::buffers_for(const SGDOptions& o) const {
  return o.momentum != 0 ? 1u : 0u;
}

template <class T>
void SGD<T>::update(Slot& s, std::uint32_t fresh) {
  const SGDOptions& o = this->options_[s.group];
  const T lr = static_cast<T>(o.lr), wd = static_cast<T>(o.weight_decay), mu = static_cast<T>(o.momentum);
  const T keep = static_cast<T>(1 - o.dampening);
  const bool momentum = o.momentum != 0, first = fresh & 1u, nesterov = o.nesterov, maximize = o.maximize;
  T* p = s.param.mutable_value().data();
  const T* g = s.param.grad().value().data();
  T* b = momentum ? s.buffers[0].data() : nullptr;
  for (std::size_t i = 0, n = s.param.numel(); i < n; ++i) {
    T d = maximize ? -g[i] : g[i];
    if (wd != 0) d += wd * p[i];
    if (momentum) {
      // The first step starts the buffer at d itself, undamped (as PyTorch does).
      b[i] = first ? d : mu * b[i] + keep * d;
      d = nesterov ? d + mu * b[i] : b[i];
    }
    p[i] -= lr * d;
  }
}

TG_OPTIMIZER_INSTANTIATE(SGD, SGDOptions)

}  // namespace tg::optim
