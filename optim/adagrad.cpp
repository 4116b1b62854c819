// Adagrad: the update of torch.optim.Adagrad as a raw loop over each parameter.
#include "adagrad.hpp"

#include <algorithm>
#include <cmath>

namespace tg::optim {

void AdagradOptions::validate() const {
  detail::check_non_negative("Adagrad", "lr", lr);
  detail::check_non_negative("Adagrad", "lr_decay", lr_decay);
  detail::check_non_negative("Adagrad", "weight_decay", weight_decay);
  detail::check_non_negative("Adagrad", "initial_accumulator_value", initial_accumulator_value);
  detail::check_non_negative("Adagrad", "eps", eps);
}

template <class T>
std::uint32_t Adagrad<T>::buffers_for(const AdagradOptions&) const {
  return 1u;
}

template <class T>
void Adagrad<T>::update(Slot& s, std::uint32_t fresh) {
  const AdagradOptions& o = this->options_[s.group];
  T* sum = s.buffers[0].data();
  const std::size_t n = s.param.numel();
  if (fresh & 1u) std::fill_n(sum, n, static_cast<T>(o.initial_accumulator_value));
  const T lr_t = static_cast<T>(o.lr / (1 + static_cast<double>(s.step - 1) * o.lr_decay));
  const T eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay);
  const bool maximize = o.maximize;
  T* p = s.param.mutable_value().data();
  const T* g = s.param.grad().value().data();
  for (std::size_t i = 0; i < n; ++i) {
    T gi = maximize ? -g[i] : g[i];
    if (wd != 0) gi += wd * p[i];
    sum[i] += gi * gi;
    p[i] -= lr_t * gi / (std::sqrt(sum[i]) + eps);
  }
}

TG_OPTIMIZER_INSTANTIATE(Adagrad, AdagradOptions)

}  // namespace tg::optim
