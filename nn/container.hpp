#pragma once
// Containers of modules: Sequential.
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>

#include "module.hpp"

namespace tg::nn {

/// Runs its modules in order, each one's output the next one's input. Modules are named
/// by position ("0", "1", ...) unless added with a name.
template <class T = float>
class Sequential : public Module<T> {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module<T>>> modules);

  /// Appends a module named by its position; returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return this->register_module(std::to_string(this->named_children().size()), std::move(module));
  }
  /// Appends a module under a chosen name; returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::string name, std::shared_ptr<M> module) {
    return this->register_module(std::move(name), std::move(module));
  }

  /// Each module's forward in turn; an error names the position and type of the failing module.
  Variable<T> forward(const Variable<T>& x) override;
  std::size_t size() const { return this->named_children().size(); }
  std::shared_ptr<Module<T>> operator[](std::size_t i) const;
};

extern template class Sequential<float>;
extern template class Sequential<double>;

}  // namespace tg::nn
