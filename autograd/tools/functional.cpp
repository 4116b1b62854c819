#include "functional.hpp"

#include <string>

#include "../core/error.hpp"
#include "../core/grad_mode.hpp"
#include "../ops/elementwise.hpp"
#include "../ops/reduce.hpp"

namespace tg {

namespace {

/// The variables f is evaluated at: detached leaves that require grad, unless create_graph asks
/// for the products to be recorded through the caller's own inputs (those that require grad).
template <class T>
std::vector<Variable<T>> differentiable_inputs(const char* op, const std::vector<Variable<T>>& inputs,
                                               const FunctionalOptions& options) {
  TG_CHECK(!inputs.empty(), op, "no inputs");
  std::vector<Variable<T>> xs;
  xs.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    TG_CHECK(inputs[i].defined(), op, "input " + std::to_string(i) + " is undefined");
    if (options.create_graph && inputs[i].requires_grad()) {
      xs.push_back(inputs[i]);
    } else {
      Variable<T> leaf = inputs[i].detach();
      leaf.set_requires_grad(true);
      xs.push_back(std::move(leaf));
    }
  }
  return xs;
}

/// One v per input, each of its input's shape.
template <class T>
void check_directions(const char* op, const std::vector<Variable<T>>& inputs, const std::vector<Variable<T>>& v) {
  TG_CHECK(v.size() == inputs.size(), op,
           std::to_string(inputs.size()) + " inputs but " + std::to_string(v.size()) + " direction tensors v");
  for (std::size_t i = 0; i < v.size(); ++i) {
    TG_CHECK(v[i].defined(), op, "v[" + std::to_string(i) + "] is undefined");
    TG_CHECK(v[i].shape() == inputs[i].shape(), op,
             "v[" + std::to_string(i) + "] has shape " + shape_str(v[i].shape()) + " but input " + std::to_string(i) +
                 " has shape " + shape_str(inputs[i].shape()));
  }
}

/// The inputs to differentiate in (above) and f evaluated at them.
template <class T>
struct Evaluation {
  std::vector<Variable<T>> xs;
  Variable<T> out;
};
template <class T>
Evaluation<T> evaluate(const char* op, const VariableFunction<T>& f, const std::vector<Variable<T>>& inputs,
                       const FunctionalOptions& options) {
  Evaluation<T> e{differentiable_inputs(op, inputs, options), {}};
  e.out = f(e.xs);
  TG_CHECK(e.out.defined(), op, "f returned an undefined variable");
  return e;
}

/// What grad gives, with zeros where an input does not reach the output (as torch's non-strict mode).
template <class T>
std::vector<Variable<T>> grad_or_zeros(const Variable<T>& out, const std::vector<Variable<T>>& xs, const Variable<T>& seed,
                                       bool create_graph) {
  std::vector<Variable<T>> g(xs.size());
  if (out.defined() && out.requires_grad())
    g = grad({out}, xs, seed.defined() ? std::vector<Variable<T>>{seed} : std::vector<Variable<T>>{},
             {.create_graph = create_graph, .retain_graph = true, .allow_unused = true});
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (!g[i].defined()) g[i] = zeros<T>(xs[i].shape());
  return g;
}

/// <a, v> summed over every pair whose a still depends on something (a constant term adds
/// nothing to a derivative); undefined when none does.
template <class T>
Variable<T> inner(const std::vector<Variable<T>>& a, const std::vector<Variable<T>>& v) {
  Variable<T> s;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].requires_grad()) continue;
    Variable<T> term = sum(a[i] * v[i]);
    s = s.defined() ? s + term : term;
  }
  return s;
}

template <class T>
Variable<T> result_output(Variable<T> out, const FunctionalOptions& options) {
  return options.create_graph ? out : out.detach();
}

}  // namespace

template <class T>
FunctionalResult<T> vjp(const VariableFunction<T>& f, const std::vector<Variable<T>>& inputs, const Variable<T>& v,
                        const FunctionalOptions& options) {
  EnableGradGuard enable;
  auto [xs, out] = evaluate("vjp", f, inputs, options);
  TG_CHECK(v.defined() && v.shape() == out.shape(), "vjp",
           "v has shape " + (v.defined() ? shape_str(v.shape()) : std::string("(undefined)")) + " but f(x) has shape " +
               shape_str(out.shape()));
  std::vector<Variable<T>> product = grad_or_zeros(out, xs, v, options.create_graph);
  return {result_output(out, options), std::move(product)};
}

template <class T>
FunctionalResult<T> jvp(const VariableFunction<T>& f, const std::vector<Variable<T>>& inputs,
                        const std::vector<Variable<T>>& v, const FunctionalOptions& options) {
  EnableGradGuard enable;
  check_directions("jvp", inputs, v);
  auto [xs, out] = evaluate("jvp", f, inputs, options);
  Variable<T> u = zeros<T>(out.shape(), /*requires_grad=*/true);  // the value is irrelevant: g is linear in u
  Variable<T> s = inner(grad_or_zeros(out, xs, u, /*create_graph=*/true), v);
  Variable<T> product = zeros<T>(out.shape());
  if (s.defined()) {
    Variable<T> d = grad({s}, {u}, {}, {.create_graph = options.create_graph, .allow_unused = true})[0];
    if (d.defined()) product = d;
  }
  return {result_output(out, options), {product}};
}

template <class T>
FunctionalResult<T> hvp(const VariableFunction<T>& f, const std::vector<Variable<T>>& inputs,
                        const std::vector<Variable<T>>& v, const FunctionalOptions& options) {
  EnableGradGuard enable;
  check_directions("hvp", inputs, v);
  auto [xs, out] = evaluate("hvp", f, inputs, options);
  TG_CHECK(out.numel() == 1, "hvp", "f(x) has shape " + shape_str(out.shape()) + "; the Hessian needs a scalar f");
  Variable<T> s = inner(grad_or_zeros(out, xs, Variable<T>(), /*create_graph=*/true), v);
  std::vector<Variable<T>> product = grad_or_zeros(s, xs, Variable<T>(), options.create_graph);  // zeros if s is undefined
  return {result_output(out, options), std::move(product)};
}

#define TG_INSTANTIATE(T)                                                                                        \
  template FunctionalResult<T> vjp(const VariableFunction<T>&, const std::vector<Variable<T>>&, const Variable<T>&, \
                                   const FunctionalOptions&);                                                    \
  template FunctionalResult<T> jvp(const VariableFunction<T>&, const std::vector<Variable<T>>&,                  \
                                   const std::vector<Variable<T>>&, const FunctionalOptions&);                   \
  template FunctionalResult<T> hvp(const VariableFunction<T>&, const std::vector<Variable<T>>&,                  \
                                   const std::vector<Variable<T>>&, const FunctionalOptions&);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg
