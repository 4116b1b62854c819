// Flatten: the flatten op.
#include "flatten.hpp"

#include "../autograd/ops/shape.hpp"

namespace tg::nn {

template <class T>
Variable<T> Flatten<T>::forward(const Variable<T>& x) {
  return flatten(x, start_, end_);
}

template <class T>
std::string Flatten<T>::extra_repr() const {
  return "start_dim=" + std::to_string(start_) + ", end_dim=" + std::to_string(end_);
}

template class Flatten<float>;
template class Flatten<double>;

}  // namespace tg::nn
