// gradcheck and gradgradcheck themselves: they catch wrong derivatives (first and second
// order, linear ops included) and leave the caller's inputs exactly as they found them.
#include "testing.hpp"

#include <stdexcept>

using namespace tg;
using tg::testing::D;

namespace {

/// 3x with the given derivative of (incoming gradient, input).
template <class Derivative>
D triple(const D& x, Derivative derivative) {
  return make_op<double>("triple", xt::xarray<double>(x.value() * 3.0), {x},
                         [derivative](const GradContext<double>& c) -> Grads<double> { return {derivative(c.grad)}; });
}

}  // namespace

TEST_CASE("gradgradcheck passes a linear op whose derivative is recorded") {
  D x({0.3, -1.2, 2.5}, true);
  auto f = [](const std::vector<D>& in) { return triple(in[0], [](const D& g) { return g * 3.0; }); };
  CHECK(gradcheck(f, {x}));
  CHECK(gradgradcheck(f, {x}));
}

TEST_CASE("gradgradcheck catches a linear op whose derivative is right in value but not recorded") {
  // the gradient built as a constant from raw values: correct numbers, no graph behind them,
  // so d/dv of the gradient is recorded as 0 where it is 3. Before the weighting v was an
  // input, both sides of the second-order check of a linear op were 0 and this passed.
  D x({0.3, -1.2, 2.5}, true);
  auto f = [](const std::vector<D>& in) {
    return triple(in[0], [](const D& g) { return D(xt::xarray<double>(g.value() * 3.0)); });
  };
  CHECK(gradcheck(f, {x}));
  const auto r = gradgradcheck(f, {x}, {.raise_exception = false});
  CHECK_FALSE(r.ok);
  CHECK(r.input == 1);  // the output weighting, after the one input
  CHECK(r.numeric == doctest::Approx(3.0));
  CHECK(r.analytic == 0.0);
  CHECK(r.message.find("gradgradcheck") != std::string::npos);
  CHECK(r.message.find("output weighting") != std::string::npos);
  tg::testing::check_error([&] { gradgradcheck(f, {x}); }, {"gradgradcheck", "output weighting", "numeric 3", "analytic 0"});
}

TEST_CASE("gradgradcheck catches a derivative that is right in value but recorded wrong") {
  // 3g + (g - detach(g)): the value is 3g, the recorded derivative in g is 4
  D x({0.3, -1.2}, true);
  auto f = [](const std::vector<D>& in) {
    return triple(in[0], [](const D& g) { return g * 3.0 + (g - g.detach()); });
  };
  CHECK(gradcheck(f, {x}));
  const auto r = gradgradcheck(f, {x}, {.raise_exception = false});
  CHECK_FALSE(r.ok);
  CHECK(r.input == 1);
  CHECK(r.numeric == doctest::Approx(3.0));
  CHECK(r.analytic == doctest::Approx(4.0));
}

TEST_CASE("gradgradcheck checks a nonlinear derivative in the weighting too") {
  // cube with the incoming gradient cut loose: right in x (6 x v), unrecorded in v
  auto cube = [](const D& x) {
    xt::xarray<double> value = x.value() * x.value() * x.value();
    return make_op<double>("cube", std::move(value), {x}, [](const GradContext<double>& c) -> Grads<double> {
      return {c.grad.detach() * c.in[0] * c.in[0] * 3.0};
    });
  };
  D x({0.5, -1.0}, true);
  auto f = [&](const std::vector<D>& in) { return cube(in[0]); };
  CHECK(gradcheck(f, {x}));
  const auto r = gradgradcheck(f, {x}, {.raise_exception = false});
  CHECK_FALSE(r.ok);
  CHECK(r.input == 1);
  CHECK(r.numeric == doctest::Approx(3 * 0.5 * 0.5));
  CHECK(r.analytic == 0.0);
}

TEST_CASE("gradgradcheck of several inputs, one without grad, and a non-scalar output") {
  D a({{0.5, -1.0, 2.0}, {1.5, 0.25, -0.75}}, true);
  D b({0.3, -0.6, 0.9}, true);
  D c({1.0, 2.0, 3.0});  // no grad: not perturbed, not part of the gradient
  auto f = [](const std::vector<D>& in) { return in[0] * in[1] * in[2] + in[0]; };
  CHECK(gradcheck(f, {a, b, c}));
  CHECK(gradgradcheck(f, {a, b, c}));
}

TEST_CASE("gradcheck restores the inputs exactly when f throws on a perturbed evaluation") {
  const xt::xarray<double> original = {0.1, 0.7, -1.3};
  SUBCASE("on the step up") {
    D x(original, true);
    auto f = [&](const std::vector<D>& in) {
      if (in[0].value()(1) > original(1)) throw std::runtime_error("f: refused a perturbed input");
      return in[0] * in[0];
    };
    CHECK_THROWS_AS(gradcheck(f, {x}), std::runtime_error);
    CHECK(x.value() == original);  // exact, not approximate: saved + eps - eps is not saved
  }
  SUBCASE("on the step down") {
    D x(original, true);
    auto f = [&](const std::vector<D>& in) {
      if (in[0].value()(2) < original(2)) throw std::runtime_error("f: refused a perturbed input");
      return in[0] * in[0];
    };
    CHECK_THROWS_AS(gradcheck(f, {x}), std::runtime_error);
    CHECK(x.value() == original);
  }
  SUBCASE("the second input, through gradgradcheck") {
    D x(original, true);
    D y(original * 2.0, true);
    const xt::xarray<double> y_original = y.value();
    auto f = [&](const std::vector<D>& in) {
      if (in[1].value()(0) != y_original(0)) throw std::runtime_error("f: refused a perturbed input");
      return in[0] * in[1];
    };
    CHECK_THROWS_AS(gradgradcheck(f, {x, y}), std::runtime_error);
    CHECK(x.value() == original);
    CHECK(y.value() == y_original);
  }
}

TEST_CASE("gradcheck leaves the inputs exactly as they were after a passing check") {
  const xt::xarray<double> original = {0.1, 0.7, -1.3};
  D x(original, true);
  CHECK(gradcheck([](const std::vector<D>& in) { return sin(in[0]); }, {x}));
  CHECK(gradgradcheck([](const std::vector<D>& in) { return sin(in[0]); }, {x}));
  CHECK(x.value() == original);
}
