// Module<T>: registration, traversal with dotted names, state dicts, modes, the printed summary.
#include "module.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <set>
#include <sstream>
#include <typeinfo>

namespace tg::nn {

namespace {

/// 1234567 -> "1,234,567": parameter counts are read by people.
std::string with_commas(std::size_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

template <class T>
void collect(const Module<T>& m, const std::string& prefix, bool recurse, bool buffers,
             typename Module<T>::NamedVariables& out, std::type_identity_t<std::set<const Node<T>*>>* seen) {
  for (const auto& [name, v] : buffers ? m.named_buffers(false) : m.named_parameters(false))
    if (!seen || seen->insert(v.node()).second) out.emplace_back(prefix + name, v);
  if (!recurse) return;
  for (const auto& [name, child] : m.named_children()) collect(*child, prefix + name + ".", true, buffers, out, seen);
}

}  // namespace

template <class T>
Variable<T> Module<T>::forward(const Variable<T>&) {
  throw Error(type_name() + ": forward(Variable) is not defined for this module; call its own forward");
}

template <class T>
void Module<T>::check_name(const char* op, const std::string& name) const {
  TG_CHECK(!name.empty(), op, "empty name in " + type_name());
  TG_CHECK(name.find('.') == std::string::npos, op, "name '" + name + "' contains a dot (dots separate submodules)");
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& e) { return e.first == name; });
  };
  TG_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), op,
           "name '" + name + "' is already registered in " + type_name());
}

template <class T>
Variable<T> Module<T>::register_parameter(std::string name, Variable<T> value) {
  check_name("register_parameter", name);
  TG_CHECK(value.defined(), "register_parameter", "parameter '" + name + "' is undefined");
  TG_CHECK(value.is_leaf(), "register_parameter",
           "parameter '" + name + "' is the result of op '" + value.op_name() + "'; parameters must be leaves (detach() it)");
  if (!value.requires_grad()) value.set_requires_grad(true);
  parameters_.emplace_back(std::move(name), value);
  return value;
}

template <class T>
Variable<T> Module<T>::register_buffer(std::string name, Variable<T> value) {
  check_name("register_buffer", name);
  TG_CHECK(value.defined(), "register_buffer", "buffer '" + name + "' is undefined");
  TG_CHECK(value.is_leaf(), "register_buffer",
           "buffer '" + name + "' is the result of op '" + value.op_name() + "'; buffers must be leaves (detach() it)");
  value.set_requires_grad(false);
  buffers_.emplace_back(std::move(name), value);
  return value;
}

template <class T>
void Module<T>::add_module(std::string name, std::shared_ptr<Module<T>> module) {
  check_name("register_module", name);
  TG_CHECK(module != nullptr, "register_module", "module '" + name + "' is null");
  TG_CHECK(module.get() != this, "register_module", "module '" + name + "' is the module itself");
  children_.emplace_back(std::move(name), std::move(module));
}

template <class T>
typename Module<T>::NamedVariables Module<T>::named_parameters(bool recurse) const {
  if (!recurse) return parameters_;
  NamedVariables out;
  std::set<const Node<T>*> seen;
  collect(*this, "", true, false, out, &seen);
  return out;
}

template <class T>
std::vector<Variable<T>> Module<T>::parameters(bool recurse) const {
  std::vector<Variable<T>> out;
  for (auto& [name, v] : named_parameters(recurse)) out.push_back(std::move(v));
  return out;
}

template <class T>
typename Module<T>::NamedVariables Module<T>::named_buffers(bool recurse) const {
  if (!recurse) return buffers_;
  NamedVariables out;
  std::set<const Node<T>*> seen;
  collect(*this, "", true, true, out, &seen);
  return out;
}

template <class T>
std::vector<Variable<T>> Module<T>::buffers(bool recurse) const {
  std::vector<Variable<T>> out;
  for (auto& [name, v] : named_buffers(recurse)) out.push_back(std::move(v));
  return out;
}

template <class T>
StateDict<T> Module<T>::state_dict() const {
  NamedVariables all;
  collect(*this, "", true, false, all, nullptr);
  collect(*this, "", true, true, all, nullptr);
  StateDict<T> dict;
  for (const auto& [name, v] : all) dict.emplace(name, v.value());
  return dict;
}

template <class T>
void Module<T>::load_state_dict(const StateDict<T>& dict, bool strict) {
  NamedVariables all;
  collect(*this, "", true, false, all, nullptr);
  collect(*this, "", true, true, all, nullptr);
  std::vector<std::string> missing, mismatched, unexpected;
  std::set<std::string> known;
  for (const auto& [name, v] : all) {
    known.insert(name);
    auto it = dict.find(name);
    if (it == dict.end()) {
      if (strict) missing.push_back(name);
    }
    else if (it->second.shape() != v.shape())
      mismatched.push_back(name + " is " + shape_str(v.shape()) + " in the module but " + shape_str(it->second.shape()) +
                           " in the state dict");
  }
  if (strict)
    for (const auto& [name, value] : dict)
      if (!known.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !mismatched.empty() || !unexpected.empty()) {
    std::string message;
    auto list = [&](const char* what, const std::vector<std::string>& items) {
      if (items.empty()) return;
      if (!message.empty()) message += "; ";
      message += what;
      for (std::size_t i = 0; i < items.size(); ++i) message += (i ? ", " : " ") + items[i];
    };
    list("missing", missing);
    list("shape mismatch:", mismatched);
    list("unexpected", unexpected);
    throw Error("load_state_dict: " + type_name() + ": " + message);
  }
  for (auto& [name, v] : all)
    if (auto it = dict.find(name); it != dict.end()) std::copy(it->second.begin(), it->second.end(), v.mutable_value().begin());
}

template <class T>
std::size_t Module<T>::num_parameters(bool trainable_only) const {
  std::size_t n = 0;
  for (const auto& [name, v] : named_parameters())
    if (!trainable_only || v.requires_grad()) n += v.numel();
  return n;
}

template <class T>
Module<T>& Module<T>::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
  return *this;
}

template <class T>
void Module<T>::zero_grad() {
  for (auto& v : parameters()) v.zero_grad();
}

template <class T>
std::string Module<T>::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  // "tg::nn::Linear<float>" -> "Linear": drop template arguments, then the namespaces.
  if (auto lt = name.find('<'); lt != std::string::npos) name.erase(lt);
  if (auto colon = name.rfind("::"); colon != std::string::npos) name.erase(0, colon + 2);
  return name;
}

template <class T>
void Module<T>::print(std::ostream& os, const std::string& name, std::size_t depth) const {
  const std::string indent(2 * depth, ' ');
  os << indent;
  if (!name.empty()) os << "(" << name << "): ";
  os << type_name() << "(" << extra_repr();
  if (!children_.empty()) {
    os << "\n";
    for (const auto& [child_name, child] : children_) child->print(os, child_name, depth + 1);
    os << indent;
  }
  os << ")";
  // Own parameters: "weight [256,784], bias [256]: 200,960 parameters"
  std::size_t own = 0;
  std::string shapes;
  for (const auto& [pname, v] : parameters_) {
    shapes += (shapes.empty() ? "" : ", ") + pname + " " + shape_str(v.shape());
    own += v.numel();
  }
  if (!parameters_.empty()) os << "  # " << shapes << ": " << with_commas(own) << (own == 1 ? " parameter" : " parameters");
  if (!buffers_.empty()) {
    os << (parameters_.empty() ? "  # buffers " : "; buffers ");
    for (std::size_t i = 0; i < buffers_.size(); ++i)
      os << (i ? ", " : "") << buffers_[i].first << " " << shape_str(buffers_[i].second.shape());
  }
  os << "\n";
}

template <class T>
std::string Module<T>::repr() const {
  std::ostringstream os;
  print(os, "", 0);
  const std::size_t total = num_parameters(), trainable = num_parameters(true);
  os << "Total: " << with_commas(total) << (total == 1 ? " parameter" : " parameters");
  if (trainable != total) os << " (" << with_commas(trainable) << " trainable)";
  return os.str();
}

template <class T>
std::ostream& operator<<(std::ostream& os, const Module<T>& module) {
  return os << module.repr();
}

template class Module<float>;
template class Module<double>;
template std::ostream& operator<<(std::ostream&, const Module<float>&);
template std::ostream& operator<<(std::ostream&, const Module<double>&);

}  // namespace tg::nn
