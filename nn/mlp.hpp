#pragma once
// MLP: Linear layers with an activation (and dropout) between them, as one Sequential.
#include <cstddef>
#include <vector>

#include "activation.hpp"
#include "container.hpp"

namespace tg::nn {

struct MLPOptions {
  Activation activation = Activation::relu;  // after every hidden Linear
  double dropout = 0;                        // Dropout(p) after every hidden activation when > 0
  bool bias = true;                          // Linear layers with bias
  bool activate_output = false;              // also apply the activation after the last Linear
};

/// A Sequential of Linear(sizes[i], sizes[i+1]) layers with an activation (and dropout)
/// between them: MLP({784, 256, 10}, {.activation = Activation::gelu, .dropout = 0.1}).
/// The Linear layers keep their default init.
template <class T = float>
class MLP : public Sequential<T> {
 public:
  explicit MLP(const std::vector<std::size_t>& sizes, MLPOptions options = {});
};

extern template class MLP<float>;
extern template class MLP<double>;

}  // namespace tg::nn
