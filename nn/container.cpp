// Sequential: each module's forward in turn.
#include "container.hpp"

namespace tg::nn {

template <class T>
Sequential<T>::Sequential(std::initializer_list<std::shared_ptr<Module<T>>> modules) {
  for (const auto& m : modules) push_back(m);
}

template <class T>
Variable<T> Sequential<T>::forward(const Variable<T>& x) {
  Variable<T> y = x;
  for (const auto& [name, module] : this->named_children()) {
    try {
      y = module->forward(y);
    } catch (const Error& e) {
      throw Error(this->type_name() + ": module (" + name + ") " + module->type_name() + " failed: " + e.what());
    }
  }
  return y;
}

template <class T>
std::shared_ptr<Module<T>> Sequential<T>::operator[](std::size_t i) const {
  TG_CHECK(i < size(), "Sequential", "index " + std::to_string(i) + " is out of range for " + std::to_string(size()) + " modules");
  return this->named_children()[i].second;
}

template class Sequential<float>;
template class Sequential<double>;

}  // namespace tg::nn
