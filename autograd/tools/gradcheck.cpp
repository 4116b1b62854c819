#include "gradcheck.hpp"

#include <cmath>
#include <sstream>

#include "../ops/elementwise.hpp"
#include "../ops/select.hpp"
#include "../ops/shape.hpp"

namespace tg {

namespace {
Variable<double> evaluate(const DoubleFunction& f, const std::vector<Variable<double>>& inputs) {
  Variable<double> out = f(inputs);
  TG_CHECK(out.defined(), "gradcheck", "the function returned an undefined variable");
  return out;
}

/// Puts one perturbed element back when it goes out of scope, so the caller's input is
/// restored exactly even when f throws on a perturbed evaluation.
class RestoreElement {
 public:
  RestoreElement(xt::xarray<double>& values, std::size_t element) noexcept
      : values_(values), element_(element), saved_(values.data()[element]) {}
  RestoreElement(const RestoreElement&) = delete;
  RestoreElement& operator=(const RestoreElement&) = delete;
  ~RestoreElement() { values_.data()[element_] = saved_; }
  double saved() const noexcept { return saved_; }

 private:
  xt::xarray<double>& values_;
  std::size_t element_;
  double saved_;
};
}  // namespace

GradcheckResult gradcheck(const DoubleFunction& f, const std::vector<Variable<double>>& inputs, GradcheckOptions options) {
  GradcheckResult result;
  std::vector<std::size_t> checked;
  std::vector<Variable<double>> wrt;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) checked.push_back(i), wrt.push_back(inputs[i]);
  TG_CHECK(!wrt.empty(), "gradcheck", "no input requires grad: nothing to check");

  Variable<double> out = evaluate(f, inputs);
  const std::size_t n_out = out.numel();

  // analytic Jacobian, one row per output element: J[o][input] = d out[o] / d input
  std::vector<std::vector<Variable<double>>> rows(n_out);
  if (out.requires_grad()) {
    for (std::size_t o = 0; o < n_out; ++o) {
      xt::xarray<double> seed = xt::zeros<double>(out.shape());
      seed.data()[o] = 1.0;
      rows[o] = grad({out}, wrt, {Variable<double>(std::move(seed))}, {.create_graph = false, .retain_graph = true, .allow_unused = true});
    }
  }

  for (std::size_t w = 0; w < wrt.size(); ++w) {
    Variable<double> x = wrt[w];
    xt::xarray<double>& xv = x.mutable_value();
    for (std::size_t e = 0; e < x.numel(); ++e) {
      xt::xarray<double> plus, minus;
      {
        // Grad mode as the caller has it: f may need recording itself (a gradient penalty, an
        // hvp), and what it records here is dropped at once.
        RestoreElement restore(xv, e);
        xv.data()[e] = restore.saved() + options.eps;
        plus = evaluate(f, inputs).value();
        xv.data()[e] = restore.saved() - options.eps;
        minus = evaluate(f, inputs).value();
      }
      for (std::size_t o = 0; o < n_out; ++o) {
        const double numeric = (plus.data()[o] - minus.data()[o]) / (2 * options.eps);
        const auto& g = out.requires_grad() ? rows[o][w] : Variable<double>();
        const double analytic = g.defined() ? g.value().data()[e] : 0.0;
        const bool close = std::abs(analytic - numeric) <= options.atol + options.rtol * std::abs(numeric);
        if (!close || std::isnan(analytic) != std::isnan(numeric)) {
          std::ostringstream msg;
          msg << "gradcheck: input " << checked[w] << " (shape " << shape_str(x.shape()) << "), element " << e
              << ", output element " << o << " (output shape " << shape_str(out.shape()) << "): numeric " << numeric
              << " vs analytic " << analytic << " (atol " << options.atol << ", rtol " << options.rtol << ")";
          result = {false, checked[w], e, o, numeric, analytic, msg.str()};
          if (options.raise_exception) throw Error(result.message);
          return result;
        }
      }
    }
  }
  return result;
}

GradcheckResult gradgradcheck(const DoubleFunction& f, const std::vector<Variable<double>>& inputs,
                              GradcheckOptions options) {
  Variable<double> probe;
  {
    NoGradGuard no_grad;
    probe = evaluate(f, inputs);
  }
  // The output weighting v is an input of the checked function, as PyTorch's grad_outputs:
  // (x..., v) -> d<f(x), v>/dx. Its derivative in v is the Jacobian of f again, computed by
  // differentiating the backward pass, so a derivative that is right in value but not
  // recorded (or recorded wrong) fails even for a linear f, whose derivative in x is 0.
  // Generic values (not all ones) so that no second derivative cancels by symmetry.
  xt::xarray<double> v = xt::empty<double>(probe.shape());
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = 0.5 + 0.37 * static_cast<double>((i * 7919) % 11) / 11.0;
  std::vector<Variable<double>> extended = inputs;
  extended.emplace_back(std::move(v), true);
  const std::size_t n_inputs = inputs.size();

  std::size_t n_flat = 0;  // the length of the concatenated gradients
  for (const auto& x : inputs)
    if (x.requires_grad()) n_flat += x.numel();

  DoubleFunction first_derivative = [&](const std::vector<Variable<double>>& xs) {
    EnableGradGuard recording;  // the first derivative needs a graph even if the caller turned recording off
    const std::vector<Variable<double>> xs_f(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(n_inputs));
    const Variable<double>& weights = xs[n_inputs];
    std::vector<Variable<double>> wrt;
    for (const auto& x : xs_f)
      if (x.requires_grad()) wrt.push_back(x);
    Variable<double> out = evaluate(f, xs_f);
    TG_CHECK(out.shape() == weights.shape(), "gradgradcheck",
             "f returned shape " + shape_str(out.shape()) + " on one call and " + shape_str(weights.shape()) + " on another");
    if (!out.requires_grad()) return zeros<double>({n_flat});
    auto grads = grad({out}, wrt, {weights}, {.create_graph = true, .retain_graph = true, .allow_unused = true});
    std::vector<Variable<double>> flat;
    for (std::size_t i = 0; i < grads.size(); ++i)
      flat.push_back(grads[i].defined() ? reshape(grads[i], {-1}) : zeros<double>({wrt[i].numel()}));
    return concat(flat, 0);
  };
  GradcheckOptions quiet = options;
  quiet.raise_exception = false;
  GradcheckResult result = gradcheck(first_derivative, extended, quiet);
  if (!result.ok) {
    // name the check and, when it is the weighting that failed, say what that input is
    std::string what = result.input == n_inputs ? "the output weighting v (grad_outputs)" : "input " + std::to_string(result.input);
    result.message = "gradgradcheck: d/d(" + what + ") of the gradient d<f, v>/dx failed; " + result.message;
    if (options.raise_exception) throw Error(result.message);
  }
  return result;
}

}  // namespace tg
