#include "gradcheck.hpp"

#include <cmath>
#include <sstream>

#include "ops/elementwise.hpp"
#include "ops/select.hpp"
#include "ops/shape.hpp"

namespace tg {

namespace {
Variable<double> evaluate(const DoubleFunction& f, const std::vector<Variable<double>>& inputs) {
  Variable<double> out = f(inputs);
  TG_CHECK(out.defined(), "gradcheck", "the function returned an undefined variable");
  return out;
}
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
      const double saved = xv.data()[e];
      xt::xarray<double> plus, minus;
      {
        NoGradGuard no_grad;
        xv.data()[e] = saved + options.eps;
        plus = evaluate(f, inputs).value();
        xv.data()[e] = saved - options.eps;
        minus = evaluate(f, inputs).value();
        xv.data()[e] = saved;
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
    probe = f(inputs);
  }
  // a fixed, generic weighting of the outputs so no second derivative cancels by symmetry
  xt::xarray<double> v = xt::empty<double>(probe.shape());
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = 0.5 + 0.37 * static_cast<double>((i * 7919) % 11) / 11.0;
  Variable<double> weights(std::move(v));

  DoubleFunction first_derivative = [&](const std::vector<Variable<double>>& xs) {
    EnableGradGuard recording;  // gradcheck evaluates finite differences without grad mode
    std::vector<Variable<double>> wrt;
    for (const auto& x : xs)
      if (x.requires_grad()) wrt.push_back(x);
    Variable<double> out = f(xs);
    if (!out.requires_grad()) return zeros<double>({1});
    auto grads = grad({out}, wrt, {weights}, {.create_graph = true, .retain_graph = true, .allow_unused = true});
    std::vector<Variable<double>> flat;
    for (std::size_t i = 0; i < grads.size(); ++i)
      flat.push_back(grads[i].defined() ? reshape(grads[i], {-1}) : zeros<double>({wrt[i].numel()}));
    return concat(flat, 0);
  };
  return gradcheck(first_derivative, inputs, options);
}

}  // namespace tg
