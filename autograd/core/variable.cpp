// Variable, the handle: its constructors, accessors, gradient slot, detach and printing.
// (Nodes: node.cpp; results of ops: recording.cpp; backward: engine.cpp.)
#include "variable.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <thread>

#include <xtensor/xio.hpp>

#include "detail/anomaly.hpp"
#include "detail/buffers.hpp"
#include "detail/numel.hpp"
#include "detail/partial_grad.hpp"

namespace tg {

// ---- handles --------------------------------------------------------------------------------------

template <class T>
Variable<T>::Variable(const array_type& value, bool requires_grad)
    : Variable(detail::new_leaf<T>(array_type(value), requires_grad)) {}
template <class T>
Variable<T>::Variable(array_type&& value, bool requires_grad)
    : Variable(detail::new_leaf<T>(std::move(value), requires_grad)) {}
template <class T>
Variable<T>::Variable(xt::nested_initializer_list_t<T, 1> values, bool requires_grad)
    : Variable(detail::new_leaf<T>(array_type(values), requires_grad)) {}
template <class T>
Variable<T>::Variable(xt::nested_initializer_list_t<T, 2> values, bool requires_grad)
    : Variable(detail::new_leaf<T>(array_type(values), requires_grad)) {}
template <class T>
Variable<T>::Variable(xt::nested_initializer_list_t<T, 3> values, bool requires_grad)
    : Variable(detail::new_leaf<T>(array_type(values), requires_grad)) {}

template <class T>
void Variable<T>::check_defined(const char* what) const {
  if (node_) return;
  // Name the op that was handed the undefined variable, found on the stack (this is the error
  // path, so symbolising costs nothing that matters).
  const std::string op = detail::calling_op();
  if (!op.empty())
    throw Error(op + ": an input is undefined (a default-constructed Variable, or one never assigned); "
                "Variable::" + what + " was called on it");
  throw Error(std::string("Variable::") + what + ": the variable is undefined (default-constructed)");
}

template <class T>
xt::xarray<T>& Variable<T>::mutable_value() {
  check_defined("mutable_value");
  node_->version.fetch_add(1, std::memory_order_relaxed);
  return node_->value;
}
template <class T>
std::uint32_t Variable<T>::version() const {
  check_defined("version");
  return node_->version.load(std::memory_order_relaxed);
}
template <class T>
std::size_t Variable<T>::dim() const {
  return shape().size();
}
template <class T>
std::size_t Variable<T>::numel() const {
  return value().size();
}
template <class T>
T Variable<T>::item() const {
  TG_CHECK(numel() == 1, "item", "the variable has shape " + shape_str(shape()) + " (" +
                                     std::to_string(numel()) + " elements), item() needs exactly one");
  return *node_->value.data();
}
template <class T>
Variable<T>& Variable<T>::set_requires_grad(bool requires_grad) {
  check_defined("set_requires_grad");
  TG_CHECK(node_->op == nullptr, "set_requires_grad",
           std::string("only leaves can change requires_grad; this variable is the result of '") + node_->op +
               "' (use detach() for a new leaf)");
  node_->requires_grad = requires_grad;
  return *this;
}
template <class T>
bool Variable<T>::is_leaf() const {
  check_defined("is_leaf");
  return node_->op == nullptr;
}
template <class T>
const char* Variable<T>::op_name() const {
  check_defined("op_name");
  return node_->op ? node_->op : "";
}
template <class T>
const std::string& Variable<T>::name() const {
  check_defined("name");
  return node_->name;
}
template <class T>
Variable<T>& Variable<T>::set_name(std::string name) {
  check_defined("set_name");
  node_->name = std::move(name);
  return *this;
}
template <class T>
bool Variable<T>::has_grad() const {
  return node_ && node_->grad.defined();
}
template <class T>
const Variable<T>& Variable<T>::grad() const {
  check_defined("grad");
  if (!node_->grad.defined()) {
    std::string who = node_->name.empty() ? "" : " '" + node_->name + "'";
    throw Error("grad: variable" + who + " of shape " + shape_str(shape()) + " has no gradient" +
                (node_->requires_grad ? (node_->op ? " (it is not a leaf: use tg::grad for gradients of intermediate results)"
                                                   : " yet (call backward() on a result that depends on it)")
                                      : " (requires_grad is false)"));
  }
  return node_->grad;
}
template <class T>
void Variable<T>::set_grad(Variable grad) {
  check_defined("set_grad");
  if (grad.defined())
    TG_CHECK(grad.shape() == shape(), "set_grad",
             "gradient of shape " + shape_str(grad.shape()) + " for a variable of shape " + shape_str(shape()));
  node_->grad = std::move(grad);
}
template <class T>
void Variable<T>::zero_grad() {
  check_defined("zero_grad");
  node_->grad = Variable();
}

template <class T>
Variable<T> Variable<T>::detach() const {
  check_defined("detach");
  return Variable(detail::new_leaf<T>(array_type(node_->value), false));
}

template <class T>
std::ostream& operator<<(std::ostream& os, const Variable<T>& v) {
  if (!v.defined()) return os << "Variable(undefined)";
  os << "Variable(shape=" << shape_str(v.shape());
  if (!v.name().empty()) os << ", name=" << v.name();
  if (v.requires_grad()) os << ", requires_grad";
  if (!v.is_leaf()) os << ", op=" << v.op_name();
  return os << ")\n" << v.value();
}

template class Variable<float>;
template class Variable<double>;
template std::ostream& operator<<(std::ostream&, const Variable<float>&);
template std::ostream& operator<<(std::ostream&, const Variable<double>&);

}  // namespace tg
