#pragma once
// Flatten: merges axes start_dim..end_dim (PyTorch's defaults 1 and -1: one row per sample).
#include <cstdint>
#include <string>

#include "module.hpp"

namespace tg::nn {

template <class T = float>
class Flatten : public Module<T> {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;

 private:
  std::int64_t start_, end_;
};

extern template class Flatten<float>;
extern template class Flatten<double>;

}  // namespace tg::nn
