#pragma once
// Products with the Jacobian and the Hessian of a function of several inputs, as
// torch.autograd.functional: each is one or two tg::grad calls, with no Jacobian or Hessian
// ever formed, so a product costs about as much as a few evaluations of f.
#include <functional>
#include <vector>

#include "../core/variable.hpp"

namespace tg {

/// A function of some variables, as the products below take it: f(x_1, ..., x_n).
template <class T>
using VariableFunction = std::function<Variable<T>(const std::vector<Variable<T>>&)>;

struct FunctionalOptions {
  /// false: the inputs are used through detached copies and the products carry no graph.
  /// true: the products are recorded, through the inputs themselves and through whatever f
  /// captures (parameters), so they can be differentiated again or trained through.
  bool create_graph = false;
};

template <class T>
struct FunctionalResult {
  Variable<T> output;                // f(x)
  std::vector<Variable<T>> product;  // one per input: the shape of x_i (vjp, hvp) or of f(x) (jvp, as product[0])
};

/// vᵀ J: d<f(x), v>/dx_i for each input, v of f(x)'s shape. An input f does not use gets zeros.
template <class T>
FunctionalResult<T> vjp(const VariableFunction<T>& f, const std::vector<Variable<T>>& inputs, const Variable<T>& v,
                        const FunctionalOptions& options = {});

/// J v = Σ_i ∂f/∂x_i v_i (the shape of f(x)), by the double-backward trick: the gradient
/// g(u) = d<f(x), u>/dx is linear in u, and d<g(u), v>/du = J v.
template <class T>
FunctionalResult<T> jvp(const VariableFunction<T>& f, const std::vector<Variable<T>>& inputs,
                        const std::vector<Variable<T>>& v, const FunctionalOptions& options = {});

/// H v for a scalar f: (H v)_i = Σ_j ∂²f/∂x_i∂x_j v_j = d<∇f(x), v>/dx_i, two tg::grad calls
/// (the first with create_graph). v holds one tensor per input, of that input's shape.
template <class T>
FunctionalResult<T> hvp(const VariableFunction<T>& f, const std::vector<Variable<T>>& inputs,
                        const std::vector<Variable<T>>& v, const FunctionalOptions& options = {});

}  // namespace tg
