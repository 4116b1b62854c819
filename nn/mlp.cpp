// MLP: Linear, activation and dropout layers pushed into a Sequential.
#include "mlp.hpp"

#include "dropout.hpp"
#include "linear.hpp"

namespace tg::nn {

template <class T>
MLP<T>::MLP(const std::vector<std::size_t>& sizes, MLPOptions options) {
  TG_CHECK(sizes.size() >= 2, "MLP", "needs at least an input and an output size, got " + std::to_string(sizes.size()) + " sizes");
  TG_CHECK(options.dropout >= 0 && options.dropout < 1, "MLP",
           "dropout must be in [0, 1), got " + std::to_string(options.dropout));
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    this->push_back(std::make_shared<Linear<T>>(sizes[i], sizes[i + 1], LinearOptions{.bias = options.bias}));
    const bool last = i + 2 == sizes.size();
    if (last && !options.activate_output) break;
    if (auto act = make_activation<T>(options.activation)) this->push_back(act);
    if (options.dropout > 0 && !last) this->push_back(std::make_shared<Dropout<T>>(options.dropout));
  }
}

template class MLP<float>;
template class MLP<double>;

}  // namespace tg::nn
