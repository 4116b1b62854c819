// Adam, AMSGrad and AdamW: one raw loop over each parameter, shared by both classes.
#include "adam.hpp"

#include <algorithm>
#include <cmath>

namespace tg::optim {

namespace {
template <class Options>
void validate_adam(const Options& o, const char* op) {
  detail::check_non_negative(op, "lr", o.lr);
  detail::check_fraction(op, "betas[0]", o.betas[0]);
  detail::check_fraction(op, "betas[1]", o.betas[1]);
  detail::check_non_negative(op, "eps", o.eps);
  detail::check_non_negative(op, "weight_decay", o.weight_decay);
}

template <class Options>
std::uint32_t adam_buffers_for(const Options& o) {
  return o.amsgrad ? 7u : 3u;
}

enum class Decay { none, l2, decoupled };

/// The per-element Adam update with every option fixed at compile time: no branch and no
/// possible aliasing inside the loop, so it vectorises (with the options tested per element
/// it stayed scalar, several times slower). Its divisions and square root bound it, so it is
/// also cloned for AVX2 and AVX-512, picked at load time for the CPU; fp-contract=off keeps FMA
/// out of the clones, so every CPU rounds each step exactly as the portable build does.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TG_ADAM_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=off")))
#else
#define TG_ADAM_CLONES
#endif
template <class T, Decay decay, bool amsgrad>
TG_ADAM_CLONES void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                              T* __restrict v_max, std::size_t n, T sign, T wd, T shrink, T b1, T one_minus_b1, T b2,
                              T one_minus_b2, T step_size, T bias2_sqrt, T eps) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    T gi = sign * g[i];  // sign = -1 maximizes; multiplying by +-1 is exact
    if constexpr (decay == Decay::decoupled) p[i] *= shrink;
    if constexpr (decay == Decay::l2) gi += wd * p[i];
    const T mi = b1 * m[i] + one_minus_b1 * gi;
    const T vi = b2 * v[i] + one_minus_b2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if constexpr (amsgrad) second = v_max[i] = std::max(v_max[i], vi);
    p[i] -= step_size * mi / (std::sqrt(second) / bias2_sqrt + eps);
  }
}

/// One Adam step of p (n values) at step t. decoupled: AdamW's weight decay.
template <class T, class Options>
void adam_update(T* p, const T* g, T* m, T* v, T* v_max, std::size_t n, std::int64_t t, const Options& o,
                 bool decoupled) {
  // Scalars in double, then T, in the order PyTorch's single-tensor Adam computes them.
  const double bias1 = 1 - std::pow(o.betas[0], static_cast<double>(t));
  const double bias2 = 1 - std::pow(o.betas[1], static_cast<double>(t));
  const T step_size = static_cast<T>(o.lr / bias1);
  const T bias2_sqrt = static_cast<T>(std::sqrt(bias2));
  const T b1 = static_cast<T>(o.betas[0]), b2 = static_cast<T>(o.betas[1]);
  const T one_minus_b1 = static_cast<T>(1 - o.betas[0]), one_minus_b2 = static_cast<T>(1 - o.betas[1]);
  const T eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay);
  const T shrink = static_cast<T>(1 - o.lr * o.weight_decay);
  const T sign = o.maximize ? T(-1) : T(1);
  const Decay decay = decoupled ? Decay::decoupled : wd != 0 ? Decay::l2 : Decay::none;
  const auto run = [&]<Decay d, bool ams>() {
    adam_loop<T, d, ams>(p, g, m, v, v_max, n, sign, wd, shrink, b1, one_minus_b1, b2, one_minus_b2, step_size,
                         bias2_sqrt, eps);
  };
  const bool ams = v_max != nullptr;
  switch (decay) {
    case Decay::none:
      return ams ? run.template operator()<Decay::none, true>() : run.template operator()<Decay::none, false>();
    case Decay::l2:
      return ams ? run.template operator()<Decay::l2, true>() : run.template operator()<Decay::l2, false>();
    case Decay::decoupled:
      return ams ? run.template operator()<Decay::decoupled, true>()
                 : run.template operator()<Decay::decoupled, false>();
  }
}
}  // namespace

void AdamOptions::validate() const { validate_adam(*this, "Adam"); }
void AdamWOptions::validate() const { validate_adam(*this, "AdamW"); }

template <class T>
std::uint32_t Adam<T>::buffers_for(const AdamOptions& o) const {
  return adam_buffers_for(o);
}
template <class T>
void Adam<T>::update(Slot& s, std::uint32_t) {
  const AdamOptions& o = this->options_[s.group];
  adam_update<T>(s.param.mutable_value().data(), s.param.grad().value().data(), s.buffers[0].data(),
                 s.buffers[1].data(), o.amsgrad ? s.buffers[2].data() : nullptr, s.param.numel(), s.step, o,
                 false);
}

template <class T>
std::uint32_t AdamW<T>::buffers_for(const AdamWOptions& o) const {
  return adam_buffers_for(o);
}
template <class T>
void AdamW<T>::update(Slot& s, std::uint32_t) {
  const AdamWOptions& o = this->options_[s.group];
  adam_update<T>(s.param.mutable_value().data(), s.param.grad().value().data(), s.buffers[0].data(),
                 s.buffers[1].data(), o.amsgrad ? s.buffers[2].data() : nullptr, s.param.numel(), s.step, o,
                 true);
}

TG_OPTIMIZER_INSTANTIATE(Adam, AdamOptions)
TG_OPTIMIZER_INSTANTIATE(AdamW, AdamWOptions)

}  // namespace tg::optim
