#pragma once
// Dropout: inverted, so evaluation needs no rescaling.
#include "module.hpp"

namespace tg::nn {

/// Training: x * m / (1 - p), m ~ Bernoulli(1 - p) per element, drawn from tg::generator().
/// Evaluation (eval()) or p = 0: x unchanged. p = 1 zeroes everything.
template <class T = float>
class Dropout : public Module<T> {
 public:
  explicit Dropout(double p = 0.5);
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;
  double p() const { return p_; }

 private:
  double p_;
};

/// Dropout2d: zeroes whole channels of [N, C, H, W] (or [C, H, W]): x * m / (1 - p) with one
/// m ~ Bernoulli(1 - p) per sample and channel, as PyTorch. Evaluation: x unchanged.
template <class T = float>
class Dropout2d : public Module<T> {
 public:
  explicit Dropout2d(double p = 0.5);
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;
  double p() const { return p_; }

 private:
  double p_;
};

/// Dropout as a function: active when training is true.
template <class T> Variable<T> dropout(const Variable<T>& x, double p, bool training = true);

extern template class Dropout<float>;
extern template class Dropout<double>;
extern template class Dropout2d<float>;
extern template class Dropout2d<double>;

}  // namespace tg::nn
