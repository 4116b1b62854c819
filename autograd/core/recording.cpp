// Results of ops: a node recorded on the tape with its inputs, or a plain leaf when nothing
// records (make_op in variable.hpp decides which); anomaly mode's NaN check on every result.
#include "variable.hpp"

#include <memory>
#include <string>

#include "detail/anomaly.hpp"

namespace tg {

namespace {
template <class T>
std::string input_shapes(const Edges<T>& inputs) {
  std::string s;
  for (const auto& e : inputs) s += (s.empty() ? "" : ", ") + shape_str(e.var.shape());
  return s;
}
}  // namespace

namespace detail {

void throw_undefined_input(const char* op, std::size_t index) {
  throw Error(std::string(op) + ": input " + std::to_string(index) +
              " is undefined (a default-constructed Variable, or one whose gradient was never computed)");
}
}  // namespace detail

namespace detail {
template <class T>
Variable<T> unrecorded(const char* op, xt::xarray<T>&& value) {
  if (is_anomaly_enabled() && !all_finite(value))
    throw Error(std::string("anomaly: op '") + op + "' produced NaN or Inf in its forward pass (result shape " +
                shape_str(value.shape()) + ")" + where_created(*capture_trace()));
  return Variable<T>(new_leaf<T>(std::move(value), false));
}

template <class T>
Variable<T> recorded(const char* op, xt::xarray<T>&& value, Edges<T>&& inputs) {
  std::unique_ptr<Trace, TraceDeleter> trace;
  if (is_anomaly_enabled()) {
    trace = capture_trace();
    if (!all_finite(value))
      throw Error(std::string("anomaly: op '") + op + "' produced NaN or Inf in its forward pass (inputs " +
                  input_shapes(inputs) + ", result " + shape_str(value.shape()) + ")" + where_created(*trace));
  }
  auto* node = detail::new_node(std::move(value));
  node->requires_grad = true;
  node->op = op;
  node->inputs = std::move(inputs);
  node->trace = std::move(trace);
  return Variable<T>(node);
}
}  // namespace detail

template Variable<float> detail::unrecorded(const char*, xt::xarray<float>&&);
template Variable<double> detail::unrecorded(const char*, xt::xarray<double>&&);
template Variable<float> detail::recorded(const char*, xt::xarray<float>&&, Edges<float>&&);
template Variable<double> detail::recorded(const char*, xt::xarray<double>&&, Edges<double>&&);

}  // namespace tg
