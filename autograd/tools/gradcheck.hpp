#pragma once
// Finite-difference checks of first and second derivatives, in double.
#include <functional>
#include <string>
#include <vector>

#include "../core/variable.hpp"

namespace tg {

struct GradcheckOptions {
  double eps = 1e-6;            // central-difference step
  double atol = 1e-5;           // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  bool raise_exception = true;  // throw tg::Error on failure (else return a result that says what failed)
};

struct GradcheckResult {
  bool ok = true;
  std::size_t input = 0;       // the first failing input ...
  std::size_t element = 0;     // ... its flat element index ...
  std::size_t output = 0;      // ... and the flat index of the output element
  double numeric = 0, analytic = 0;
  std::string message;         // empty when ok
  explicit operator bool() const { return ok; }
};

using DoubleFunction = std::function<Variable<double>(const std::vector<Variable<double>>&)>;

/// Compares the Jacobian of f at `inputs` computed by backward with central differences,
/// for every input that requires grad. f may return any shape.
GradcheckResult gradcheck(const DoubleFunction& f, const std::vector<Variable<double>>& inputs,
                          GradcheckOptions options = {});

/// Checks second derivatives: gradcheck of (x..., v) -> d<f(x), v>/dx, the gradient taken with
/// create_graph so the backward pass is itself differentiated, in x and in the output weighting
/// v (as PyTorch's grad_outputs; a failure there has input index inputs.size()). The check in v
/// catches an unrecorded derivative even for linear ops, whose second derivative is 0.
GradcheckResult gradgradcheck(const DoubleFunction& f, const std::vector<Variable<double>>& inputs,
                              GradcheckOptions options = {});

}  // namespace tg
