#pragma once
// Module<T>: the base of every layer. A module owns named parameters (leaves that require
// grad), buffers (state that is saved but not trained, such as BatchNorm's running
// statistics) and submodules, and walks them with dotted names ("encoder.fc1.weight").
// Modules are plain classes; share them with std::shared_ptr (register_module takes one).
#include <cstddef>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../autograd/core/variable.hpp"
#include "../autograd/tools/serialize.hpp"

namespace tg::nn {

template <class T = float>
class Module {
 public:
  using value_type = T;
  using NamedVariables = std::vector<std::pair<std::string, Variable<T>>>;
  using NamedModules = std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>;

  Module() = default;
  virtual ~Module() = default;
  // A copy would share every parameter node with the original: a trap, so none.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The layer's computation on one input. The base version throws: a module with other
  /// inputs (several tensors, index arrays) defines its own forward instead.
  virtual Variable<T> forward(const Variable<T>& input);
  Variable<T> operator()(const Variable<T>& input) { return forward(input); }

  /// Registers a trainable leaf under `name` (no dots) and returns the same handle.
  /// requires_grad is switched on; a parameter frozen later keeps its flag.
  Variable<T> register_parameter(std::string name, Variable<T> value);
  /// Registers state that is saved and loaded but not trained (requires_grad off).
  Variable<T> register_buffer(std::string name, Variable<T> value);
  /// Registers a submodule; its entries appear as "<name>.<entry>". Returns the module.
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module<T>, M>, "register_module: M must derive from tg::nn::Module<T>");
    add_module(std::move(name), module);
    return module;
  }

  /// Every parameter with its dotted name: own ones first (in registration order), then each
  /// submodule's. A node registered twice (tied weights) is listed once, under its first name.
  NamedVariables named_parameters(bool recurse = true) const;
  std::vector<Variable<T>> parameters(bool recurse = true) const;
  NamedVariables named_buffers(bool recurse = true) const;
  std::vector<Variable<T>> buffers(bool recurse = true) const;
  /// The direct submodules in registration order.
  const NamedModules& named_children() const { return children_; }

  /// Copies of every parameter and buffer value by dotted name (tied nodes under each name).
  StateDict<T> state_dict() const;
  /// Copies values into the existing parameters and buffers (the nodes stay the same, so an
  /// optimizer holding them keeps working). Checks first, changes nothing on error: missing and
  /// unexpected entries (if strict) and shape mismatches (always) are all named in one tg::Error.
  void load_state_dict(const StateDict<T>& dict, bool strict = true);

  /// Elements in all (distinct) parameters; only those that require grad if trainable_only.
  std::size_t num_parameters(bool trainable_only = false) const;

  /// Training mode (dropout active, batch statistics) or evaluation mode, for the whole tree.
  Module& train(bool on = true);
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }
  /// Clears the gradient of every parameter.
  void zero_grad();

  /// The class name without namespace or template arguments ("Linear", or a user's "Net").
  virtual std::string type_name() const;
  /// The layer's settings for the printed summary, as "in_features=784, out_features=256".
  virtual std::string extra_repr() const { return {}; }
  /// PyTorch-like summary: one line per module with its settings, its own parameter shapes
  /// and counts, indented by depth, and the total at the end.
  std::string repr() const;

 private:
  void add_module(std::string name, std::shared_ptr<Module<T>> module);
  void check_name(const char* op, const std::string& name) const;
  void print(std::ostream& os, const std::string& name, std::size_t depth) const;

  bool training_ = true;
  NamedVariables parameters_;
  NamedVariables buffers_;
  NamedModules children_;
};

template <class T>
std::ostream& operator<<(std::ostream& os, const Module<T>& module);

extern template class Module<float>;
extern template class Module<double>;
extern template std::ostream& operator<<(std::ostream&, const Module<float>&);
extern template std::ostream& operator<<(std::ostream&, const Module<double>&);

}  // namespace tg::nn
