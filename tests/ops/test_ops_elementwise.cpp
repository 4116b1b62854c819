// Elementwise ops: values against std:: functions or hand-computed numbers, first and second
// derivatives against finite differences (in double), broadcasting, stability, errors.
#include <cmath>
#include <functional>
#include <limits>

#include <xtensor/xbroadcast.hpp>

#include "testing.hpp"

using namespace tg;
using tg::testing::check_error;
using tg::testing::check_grads;
using tg::testing::random_input;
using D = Variable<double>;

namespace {

using Unary = std::function<D(const D&)>;
using Binary = std::function<D(const D&, const D&)>;

/// Moves every element at least `margin` away from `kink` (keeping its side), so finite
/// differences never straddle a point where the derivative jumps.
D away_from(D x, double kink = 0, double margin = 0.1) {
  for (auto& v : x.mutable_value()) v += std::abs(v - kink) < margin ? (v < kink ? -margin : margin) : 0;
  return x;
}

/// The value of op(x) against ref at every element, then its derivatives.
void check_unary(const Unary& op, const std::function<double(double)>& ref, const D& x, bool second = true) {
  const D y = op(x);
  REQUIRE(y.shape() == x.shape());
  for (std::size_t i = 0; i < x.numel(); ++i) {
    INFO("x = " << x.value().data()[i]);
    CHECK(y.value().data()[i] == doctest::Approx(ref(x.value().data()[i])).epsilon(1e-12));
  }
  check_grads([&](const std::vector<D>& in) { return op(in[0]); }, {x}, {.second_order = second});
}

/// The NumPy broadcast of a and b, computed independently of tapegrad's kernels.
xt::xarray<double> broadcast_ref(const D& a, const D& b, const Shape& shape, const std::function<double(double, double)>& f) {
  xt::xarray<double> ea = xt::broadcast(a.value(), shape);
  xt::xarray<double> eb = xt::broadcast(b.value(), shape);
  xt::xarray<double> out = xt::empty<double>(shape);
  for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = f(ea.data()[i], eb.data()[i]);
  return out;
}

struct BroadcastCase {
  Shape a, b, out;
};
const std::vector<BroadcastCase> broadcast_cases = {
    {{2, 3}, {2, 3}, {2, 3}},       {{3, 4}, {4}, {3, 4}},          {{4}, {3, 4}, {3, 4}},
    {{3, 1}, {1, 4}, {3, 4}},       {{}, {2, 3}, {2, 3}},           {{2, 3}, {}, {2, 3}},
    {{2, 1, 3}, {4, 1}, {2, 4, 3}}, {{4, 1}, {2, 1, 3}, {2, 4, 3}},
};

/// Value, shape and derivatives of a broadcasting binary op over every broadcast case.
/// make_a / make_b draw inputs in the op's domain.
void check_binary(const Binary& op, const std::function<double(double, double)>& ref,
                  const std::function<D(const Shape&)>& make_a, const std::function<D(const Shape&)>& make_b,
                  bool second = true) {
  for (const auto& c : broadcast_cases) {
    INFO("shapes " << shape_str(c.a) << " and " << shape_str(c.b));
    const D a = make_a(c.a), b = make_b(c.b);
    const D y = op(a, b);
    REQUIRE(y.shape() == c.out);
    const auto expected = broadcast_ref(a, b, c.out, ref);
    for (std::size_t i = 0; i < expected.size(); ++i)
      CHECK(y.value().data()[i] == doctest::Approx(expected.data()[i]).epsilon(1e-12));
    check_grads([&](const std::vector<D>& in) { return op(in[0], in[1]); }, {a, b}, {.second_order = second});
  }
}

D any_input(const Shape& s) { return random_input(s); }
D positive_input(const Shape& s) { return random_input(s, 0.5, 2); }


}  // namespace

// ---- arithmetic ------------------------------------------------------------------------------------

TEST_CASE("add, sub, mul, div: hand values") {
  D a({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}), b({10.0, 20.0, 40.0});
  CHECK(add(a, b).value() == xt::xarray<double>{{11, 22, 43}, {14, 25, 46}});
  CHECK((a - b).value() == xt::xarray<double>{{-9, -18, -37}, {-6, -15, -34}});
  CHECK((a * b).value() == xt::xarray<double>{{10, 40, 120}, {40, 100, 240}});
  CHECK((b / a).value() == xt::xarray<double>{{10, 10, 40.0 / 3}, {2.5, 4, 40.0 / 6}});
  CHECK((-a).value() == xt::xarray<double>{{-1, -2, -3}, {-4, -5, -6}});
  CHECK(reciprocal(b).value() == xt::xarray<double>{0.1, 0.05, 0.025});
}

TEST_CASE("add, sub, mul, div broadcast and differentiate twice") {
  manual_seed(1);
  SUBCASE("add") { check_binary([](auto& a, auto& b) { return a + b; }, std::plus<>(), any_input, any_input); }
  SUBCASE("sub") { check_binary([](auto& a, auto& b) { return a - b; }, std::minus<>(), any_input, any_input); }
  SUBCASE("mul") { check_binary([](auto& a, auto& b) { return a * b; }, std::multiplies<>(), any_input, any_input); }
  SUBCASE("div") { check_binary([](auto& a, auto& b) { return a / b; }, std::divides<>(), any_input, positive_input); }
  SUBCASE("div by negative") {
    check_binary([](auto& a, auto& b) { return div(a, b); }, std::divides<>(), any_input,
                 [](const Shape& s) { return random_input(s, -2, -0.5); });
  }
}

TEST_CASE("the gradient of a broadcast input is summed back to its shape") {
  D a({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, true), b({10.0, 20.0, 40.0}, true);
  sum(a * b).backward();
  CHECK(a.grad().value() == xt::xarray<double>{{10, 20, 40}, {10, 20, 40}});
  CHECK(b.grad().value() == xt::xarray<double>{5, 7, 9});
  D s = scalar<double>(3, true);
  D m({{1.0, 2.0}, {3.0, 4.0}}, true);
  sum(m / s).backward();
  CHECK(s.grad().shape() == Shape{});
  CHECK(s.grad().item() == doctest::Approx(-10.0 / 9));  // d(sum m / s)/ds = -sum(m) / s^2
  CHECK(m.grad().value() == xt::xarray<double>{{1.0 / 3, 1.0 / 3}, {1.0 / 3, 1.0 / 3}});
}

TEST_CASE("neg and reciprocal") {
  manual_seed(2);
  check_unary([](auto& x) { return neg(x); }, [](double v) { return -v; }, random_input({2, 3}));
  check_unary([](auto& x) { return -x; }, [](double v) { return -v; }, random_input({4}));
  check_unary([](auto& x) { return reciprocal(x); }, [](double v) { return 1 / v; }, away_from(random_input({2, 3}), 0, 0.4));
}

TEST_CASE("a scalar on either side of + - * /") {
  manual_seed(3);
  const D x = away_from(random_input({2, 3}), 0, 0.3);
  check_unary([](auto& v) { return v + 2.5; }, [](double v) { return v + 2.5; }, x);
  check_unary([](auto& v) { return 2.5 + v; }, [](double v) { return 2.5 + v; }, x);
  check_unary([](auto& v) { return v - 2.5; }, [](double v) { return v - 2.5; }, x);
  check_unary([](auto& v) { return 2.5 - v; }, [](double v) { return 2.5 - v; }, x);
  check_unary([](auto& v) { return v * -3.0; }, [](double v) { return v * -3.0; }, x);
  check_unary([](auto& v) { return -3.0 * v; }, [](double v) { return -3.0 * v; }, x);
  check_unary([](auto& v) { return v / 4.0; }, [](double v) { return v / 4.0; }, x);
  check_unary([](auto& v) { return 4.0 / v; }, [](double v) { return 4.0 / v; }, x);
  check_unary([](auto& v) { return add_scalar(v, 1.5); }, [](double v) { return v + 1.5; }, x);
  check_unary([](auto& v) { return mul_scalar(v, 0.5); }, [](double v) { return v * 0.5; }, x);
  // in float too, with the scalar's type taken from the variable
  Var f({1.0f, 2.0f}, true);
  auto g = 1.0f - f / 2.0f + 3.0f * f;
  CHECK(g.value() == xt::xarray<float>{3.5f, 6.0f});
  sum(g).backward();
  CHECK(f.grad().value() == xt::xarray<float>{2.5f, 2.5f});
}

TEST_CASE("an input used on both sides gets both contributions") {
  manual_seed(11);
  const D x = positive_input({2, 3});
  check_grads([](const std::vector<D>& in) { return in[0] * in[0]; }, {x});
  check_grads([](const std::vector<D>& in) { return in[0] / (in[0] + 1.0); }, {x});
  check_grads([](const std::vector<D>& in) { return pow(in[0], in[0]); }, {x});
  check_grads([](const std::vector<D>& in) { return in[0] - sum_to(in[0], {3}); }, {x});
}

TEST_CASE("empty tensors broadcast and backpropagate") {
  D e = zeros<double>({0, 3}, true), r({1.0, 2.0, 3.0}, true);
  auto y = e * r + 1.0;
  CHECK(y.shape() == Shape{0, 3});
  sum(y).backward();
  CHECK(e.grad().shape() == Shape{0, 3});
  CHECK(r.grad().value() == xt::xarray<double>{0, 0, 0});
  CHECK(exp(e).shape() == Shape{0, 3});
  CHECK(where(gt(e, e), e, r).shape() == Shape{0, 3});
}

// ---- powers, exponentials, trigonometry ------------------------------------------------------------

TEST_CASE("pow with a scalar exponent") {
  manual_seed(4);
  const D any = away_from(random_input({2, 3}), 0, 0.2);
  const D pos = positive_input({2, 3});
  check_unary([](auto& x) { return pow(x, 3.0); }, [](double v) { return v * v * v; }, any);
  check_unary([](auto& x) { return pow(x, 2.0); }, [](double v) { return v * v; }, any);
  check_unary([](auto& x) { return pow(x, -2.0); }, [](double v) { return 1 / (v * v); }, any);
  check_unary([](auto& x) { return pow(x, 1.0); }, [](double v) { return v; }, any);
  check_unary([](auto& x) { return pow(x, 0.0); }, [](double) { return 1.0; }, any);
  check_unary([](auto& x) { return pow(x, 0.5); }, [](double v) { return std::sqrt(v); }, pos);
  check_unary([](auto& x) { return pow(x, -1.5); }, [](double v) { return std::pow(v, -1.5); }, pos);
  D x({2.0}, true);
  pow(x, 3.0).backward();
  CHECK(x.grad().item() == doctest::Approx(12.0));
}

TEST_CASE("pow with a tensor exponent broadcasts and differentiates in both") {
  manual_seed(5);
  check_binary([](auto& x, auto& p) { return pow(x, p); }, [](double x, double p) { return std::pow(x, p); },
               positive_input, any_input);
  D x({2.0, 3.0}, true), p({3.0, 2.0}, true);
  sum(pow(x, p)).backward();
  CHECK(x.grad().value()(0) == doctest::Approx(12.0));               // p x^(p-1)
  CHECK(x.grad().value()(1) == doctest::Approx(6.0));
  CHECK(p.grad().value()(0) == doctest::Approx(8 * std::log(2.0)));  // x^p log x
  CHECK(p.grad().value()(1) == doctest::Approx(9 * std::log(3.0)));
  // a negative base is fine when the exponent needs no gradient
  D n({-2.0}, true);
  D q({3.0});
  sum(pow(n, q)).backward();
  CHECK(pow(n, q).item() == doctest::Approx(-8.0));
  CHECK(n.grad().item() == doctest::Approx(12.0));
}

TEST_CASE("exp, log, sqrt, erf, abs, sin, cos") {
  manual_seed(6);
  const D any = random_input({2, 3});
  const D pos = positive_input({2, 3});
  check_unary([](auto& x) { return exp(x); }, [](double v) { return std::exp(v); }, any);
  check_unary([](auto& x) { return log(x); }, [](double v) { return std::log(v); }, pos);
  check_unary([](auto& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }, pos);
  check_unary([](auto& x) { return erf(x); }, [](double v) { return std::erf(v); }, any);
  check_unary([](auto& x) { return abs(x); }, [](double v) { return std::abs(v); }, away_from(any));
  check_unary([](auto& x) { return sin(x); }, [](double v) { return std::sin(v); }, any);
  check_unary([](auto& x) { return cos(x); }, [](double v) { return std::cos(v); }, any);
  CHECK(exp(D({0.0, 1.0})).value()(1) == doctest::Approx(2.718281828459045));
  CHECK(sqrt(D({9.0})).item() == 3.0);
  CHECK(log(D({1.0})).item() == 0.0);
  CHECK(erf(D({0.5})).item() == doctest::Approx(0.5204998778130465));
}

TEST_CASE("abs has gradient sign(x), 0 at 0; sign has none") {
  D x({-2.0, 0.0, 3.0}, true);
  sum(abs(x)).backward();
  CHECK(x.grad().value() == xt::xarray<double>{-1, 0, 1});
  auto s = sign(x);
  CHECK(s.value() == xt::xarray<double>{-1, 0, 1});
  CHECK_FALSE(s.requires_grad());
}

// ---- activations -----------------------------------------------------------------------------------

TEST_CASE("tanh, sigmoid, softplus, elu, leaky_relu, relu") {
  manual_seed(7);
  const D any = away_from(random_input({3, 4}, -4, 4));
  check_unary([](auto& x) { return tanh(x); }, [](double v) { return std::tanh(v); }, any);
  check_unary([](auto& x) { return sigmoid(x); }, [](double v) { return 1 / (1 + std::exp(-v)); }, any);
  check_unary([](auto& x) { return softplus(x); }, [](double v) { return std::log1p(std::exp(v)); }, any);
  check_unary([](auto& x) { return elu(x); }, [](double v) { return v > 0 ? v : std::exp(v) - 1; }, any);
  check_unary([](auto& x) { return elu(x, 0.5); }, [](double v) { return v > 0 ? v : 0.5 * (std::exp(v) - 1); }, any);
  check_unary([](auto& x) { return leaky_relu(x); }, [](double v) { return v > 0 ? v : 0.01 * v; }, any);
  check_unary([](auto& x) { return leaky_relu(x, 0.2); }, [](double v) { return v > 0 ? v : 0.2 * v; }, any);
  check_unary([](auto& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0.0; }, any);
}

TEST_CASE("activation gradients by hand, at and around the kinks") {
  D x({-2.0, 0.0, 3.0}, true);
  sum(relu(x)).backward();
  CHECK(x.grad().value() == xt::xarray<double>{0, 0, 1});  // 0 at 0, as PyTorch
  x.zero_grad();
  sum(leaky_relu(x, 0.1)).backward();
  CHECK(x.grad().value() == xt::xarray<double>{0.1, 0.1, 1});
  x.zero_grad();
  sum(elu(x, 2.0)).backward();
  CHECK(x.grad().value()(0) == doctest::Approx(2 * std::exp(-2.0)));
  CHECK(x.grad().value()(2) == 1.0);
  x.zero_grad();
  sum(sigmoid(x)).backward();
  CHECK(x.grad().value()(1) == doctest::Approx(0.25));
  x.zero_grad();
  sum(softplus(x)).backward();
  CHECK(x.grad().value()(1) == doctest::Approx(0.5));
  x.zero_grad();
  sum(tanh(x)).backward();
  CHECK(x.grad().value()(1) == doctest::Approx(1.0));
}

TEST_CASE("sigmoid, softplus, tanh, elu stay finite and correct at extremes") {
  D x({-1000.0, -50.0, 50.0, 1000.0}, true);
  auto s = sigmoid(x);
  CHECK(s.value()(0) == 0.0);
  CHECK(s.value()(1) == doctest::Approx(std::exp(-50.0)).epsilon(1e-12));
  CHECK(s.value()(2) == 1.0);
  CHECK(s.value()(3) == 1.0);
  sum(s).backward();
  for (double g : x.grad().value()) CHECK(std::isfinite(g));
  CHECK(x.grad().value()(1) == doctest::Approx(std::exp(-50.0)).epsilon(1e-9));

  x.zero_grad();
  auto p = softplus(x);
  CHECK(p.value()(0) == doctest::Approx(0.0));
  CHECK(p.value()(1) == doctest::Approx(std::exp(-50.0)).epsilon(1e-12));  // log(1 + e^-50) ~ e^-50
  CHECK(p.value()(2) == doctest::Approx(50.0));
  CHECK(p.value()(3) == 1000.0);
  sum(p).backward();
  CHECK(x.grad().value()(0) == 0.0);
  CHECK(x.grad().value()(3) == 1.0);

  CHECK(tanh(x).value() == xt::xarray<double>{-1, -1, 1, 1});
  CHECK(elu(x).value()(0) == -1.0);

  Var f({-1000.0f, 1000.0f}, true);
  auto sf = sigmoid(f), pf = softplus(f);
  CHECK(sf.value() == xt::xarray<float>{0.0f, 1.0f});
  CHECK(pf.value() == xt::xarray<float>{0.0f, 1000.0f});
  sum(sf + pf).backward();
  CHECK(f.grad().value() == xt::xarray<float>{0.0f, 1.0f});
}

TEST_CASE("clamp") {
  manual_seed(8);
  D x = away_from(away_from(random_input({3, 4}), -1), 0.5);
  check_unary([](auto& v) { return clamp(v, -1.0, 0.5); }, [](double v) { return std::min(std::max(v, -1.0), 0.5); }, x);
  D h({-3.0, -1.0, 0.0, 0.5, 2.0}, true);
  auto c = clamp(h, -1.0, 0.5);
  CHECK(c.value() == xt::xarray<double>{-1, -1, 0, 0.5, 0.5});
  sum(c).backward();
  CHECK(h.grad().value() == xt::xarray<double>{0, 1, 1, 1, 0});  // 1 on the closed interval, as PyTorch
  check_error([&] { clamp(h, 1.0, -1.0); }, {"clamp: lo 1 is greater than hi -1", "[5]"});
}

TEST_CASE("maximum and minimum broadcast; ties split the gradient") {
  manual_seed(9);
  // Values on a 0.25 grid offset by 0.125 between a and b: never tied, never within eps.
  auto grid = [](double offset) {
    return [offset](const Shape& s) {
      D x = random_input(s, -2, 2);
      for (auto& v : x.mutable_value()) v = std::round(v * 4) / 4 + offset;
      return x;
    };
  };
  check_binary([](auto& a, auto& b) { return maximum(a, b); }, [](double u, double v) { return std::max(u, v); },
               grid(0), grid(0.125));
  check_binary([](auto& a, auto& b) { return minimum(a, b); }, [](double u, double v) { return std::min(u, v); },
               grid(0), grid(0.125));
  D a({1.0, 5.0, 3.0}, true), b({2.0, 4.0, 3.0}, true);
  sum(maximum(a, b)).backward();
  CHECK(a.grad().value() == xt::xarray<double>{0, 1, 0.5});
  CHECK(b.grad().value() == xt::xarray<double>{1, 0, 0.5});
  a.zero_grad(), b.zero_grad();
  auto m = minimum(a, b);
  CHECK(m.value() == xt::xarray<double>{1, 4, 3});
  sum(m).backward();
  CHECK(a.grad().value() == xt::xarray<double>{1, 0, 0.5});
  CHECK(b.grad().value() == xt::xarray<double>{0, 1, 0.5});
}

TEST_CASE("a NaN input gives a NaN result, never a silent number") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  D n({nan, 1.0, nan}, true), v({1.0, nan, nan}, true);
  for (const auto& y : {maximum(n, v), maximum(v, n), minimum(n, v), minimum(v, n)})
    for (double e : y.value()) CHECK(std::isnan(e));
  sum(maximum(n, D({2.0, 0.0, 0.0})) * D({1.0, 10.0, 100.0})).backward();
  CHECK(n.grad().value() == xt::xarray<double>{1, 10, 100});  // the NaN was the result: its side gets the gradient
  const D x({nan, -1.0, 2.0});
  for (const auto& y : {relu(x), leaky_relu(x), elu(x), softplus(x), sigmoid(x), tanh(x), abs(x), clamp(x, -0.5, 0.5),
                        exp(x), sqrt(x), pow(x, 2.0)})
    CHECK(std::isnan(y.value()(0)));
  CHECK(relu(x).value()(1) == 0.0);
}

TEST_CASE("pow with a tensor exponent at x = 0 and p = 0 (PyTorch's limits, no NaN)") {
  // d/dx x^p = 0 where p = 0; d/dp x^p = 0 where x = 0 (and p >= 0)
  D x({0.0, 0.0, 2.0, 0.0}, true), p({2.0, 0.0, 0.0, 0.5}, true);
  auto y = pow(x, p);
  CHECK(y.value() == xt::xarray<double>{0, 1, 1, 0});
  auto g = grad({sum(y)}, {x, p});
  CHECK(g[0].value()(0) == 0.0);
  CHECK(g[0].value()(1) == 0.0);
  CHECK(g[0].value()(2) == 0.0);
  CHECK(std::isinf(g[0].value()(3)));  // 0.5 x^-0.5 at 0: a true infinity
  CHECK(g[1].value() == xt::xarray<double>{0, 0, std::log(2.0), 0});
  // the second derivatives stay finite too (away from the true infinity)
  D x3({0.0, 0.0, 2.0}, true), p3({2.0, 0.0, 0.0}, true);
  auto g3 = grad({sum(pow(x3, p3))}, {x3, p3}, {}, {.create_graph = true});
  auto gg = grad({sum(g3[0]) + sum(g3[1])}, {x3, p3});
  for (const auto& v : gg)
    for (double e : v.value()) CHECK(std::isfinite(e));
  CHECK(gg[0].value()(0) == 2.0);  // d2/dx2 x^2 = 2; the mixed terms are 0 at x = 0
  // finite differences agree where they exist: x at 0 with integer exponents, p where x = 0
  check_grads([](const std::vector<D>& in) { return pow(in[0], D({2.0, 0.0, 3.0})); }, {D({0.0, 0.0, 1.5}, true)});
  check_grads([](const std::vector<D>& in) { return pow(D({0.0, 0.0, 1.5}), in[0]); }, {D({2.0, 0.5, -1.0}, true)});
}

// ---- where and comparisons -------------------------------------------------------------------------

TEST_CASE("where picks elementwise and routes gradients to the chosen side") {
  D mask({1.0, 0.0, 2.0});  // nonzero is true
  D a({1.0, 2.0, 3.0}, true), b({10.0, 20.0, 30.0}, true);
  auto y = where(mask, a, b);
  CHECK(y.value() == xt::xarray<double>{1, 20, 3});
  sum(y * D({1.0, 2.0, 3.0})).backward();
  CHECK(a.grad().value() == xt::xarray<double>{1, 0, 3});
  CHECK(b.grad().value() == xt::xarray<double>{0, 2, 0});

  // broadcasting all three: mask [3,1], a [3,4], b 0-d
  D m3 = reshape(D({1.0, 0.0, 1.0}), {3, 1});  // (D({{1.0}, {0.0}}) is ambiguous with the copy constructor)
  D a3(xt::xarray<double>(xt::arange<double>(12).reshape({3, 4})), true);
  D b3 = scalar<double>(-1, true);
  auto y3 = where(m3, a3, b3);
  REQUIRE(y3.shape() == Shape{3, 4});
  CHECK(y3.value() == xt::xarray<double>{{0, 1, 2, 3}, {-1, -1, -1, -1}, {8, 9, 10, 11}});
  sum(y3).backward();
  CHECK(a3.grad().value() == xt::xarray<double>{{1, 1, 1, 1}, {0, 0, 0, 0}, {1, 1, 1, 1}});
  CHECK(b3.grad().item() == 4.0);

  // a mask larger than both branches
  D mbig(xt::xarray<double>{{1, 0}, {0, 1}});
  auto yb = where(mbig, D({5.0, 6.0}), scalar<double>(0));
  CHECK(yb.value() == xt::xarray<double>{{5, 0}, {0, 6}});

  // an unchosen NaN or Inf does not leak into the value or the gradients
  const double inf = std::numeric_limits<double>::infinity();
  D bad({inf, 1.0}, true), good({2.0, 3.0}, true);
  auto z = where(D({0.0, 1.0}), bad, good);
  CHECK(z.value() == xt::xarray<double>{2, 1});
  sum(z).backward();
  CHECK(bad.grad().value() == xt::xarray<double>{0, 1});
  CHECK(good.grad().value() == xt::xarray<double>{1, 0});
}

TEST_CASE("where: gradcheck over broadcast shapes") {
  manual_seed(10);
  for (const auto& c : broadcast_cases) {
    INFO("shapes " << shape_str(c.a) << " and " << shape_str(c.b));
    const D a = random_input(c.a), b = random_input(c.b);
    D mask = gt(random_input(Shape{c.out.back()}), scalar<double>(0));
    mask.mutable_value()(0) = 1;  // both branches used on the last axis
    if (mask.numel() > 1) mask.mutable_value()(1) = 0;
    check_grads([&](const std::vector<D>& in) { return where(mask, in[0], in[1]) * where(mask, in[1], in[0]); }, {a, b});
  }
}

TEST_CASE("comparisons give 0/1 masks that do not require grad") {
  D a({1.0, 2.0, 3.0}, true), b({2.0, 2.0, 2.0}, true);
  CHECK(lt(a, b).value() == xt::xarray<double>{1, 0, 0});
  CHECK(le(a, b).value() == xt::xarray<double>{1, 1, 0});
  CHECK(gt(a, b).value() == xt::xarray<double>{0, 0, 1});
  CHECK(ge(a, b).value() == xt::xarray<double>{0, 1, 1});
  CHECK(eq(a, b).value() == xt::xarray<double>{0, 1, 0});
  CHECK(ne(a, b).value() == xt::xarray<double>{1, 0, 1});
  CHECK((a < b).value() == lt(a, b).value());
  CHECK((a <= b).value() == le(a, b).value());
  CHECK((a > b).value() == gt(a, b).value());
  CHECK((a >= b).value() == ge(a, b).value());
  CHECK((a < 2.0).value() == xt::xarray<double>{1, 0, 0});
  CHECK((a <= 2.0).value() == xt::xarray<double>{1, 1, 0});
  CHECK((a > 2.0).value() == xt::xarray<double>{0, 0, 1});
  CHECK((a >= 2.0).value() == xt::xarray<double>{0, 1, 1});
  for (const auto& m : {lt(a, b), le(a, b), gt(a, b), ge(a, b), eq(a, b), ne(a, b), a < 2.0}) {
    CHECK_FALSE(m.requires_grad());
    CHECK(m.is_leaf());
  }
  // broadcasting
  D col = reshape(D({1.0, 2.0, 3.0}), {3, 1});
  auto g = gt(col, D({1.5, 2.5}));
  REQUIRE(g.shape() == Shape{3, 2});
  CHECK(g.value() == xt::xarray<double>{{0, 0}, {1, 0}, {1, 1}});
  // a mask times a variable is a gradient gate
  sum(a * (a > 1.5)).backward();
  CHECK(a.grad().value() == xt::xarray<double>{0, 1, 1});
}

// ---- recording and errors --------------------------------------------------------------------------

TEST_CASE("an op records only when an input requires grad and grad mode is on") {
  D x({1.0, 2.0}), w({3.0, 4.0}, true);
  CHECK_FALSE(exp(x).requires_grad());
  CHECK(std::string(exp(w).op_name()) == "exp");
  CHECK((x * w).requires_grad());
  NoGradGuard off;
  CHECK_FALSE((x * w).requires_grad());
  CHECK((x * w).is_leaf());
}

TEST_CASE("shapes that do not broadcast are an error naming the op and both shapes") {
  D a = zeros<double>({2, 3}), b = zeros<double>({4});
  const std::string tail = ": shapes [2,3] and [4] do not broadcast";
  check_error([&] { add(a, b); }, {"add" + tail});
  check_error([&] { a - b; }, {"sub" + tail});
  check_error([&] { a * b; }, {"mul" + tail});
  check_error([&] { a / b; }, {"div" + tail});
  check_error([&] { pow(a, b); }, {"pow" + tail});
  check_error([&] { maximum(a, b); }, {"maximum" + tail});
  check_error([&] { minimum(a, b); }, {"minimum" + tail});
  check_error([&] { lt(a, b); }, {"lt" + tail});
  check_error([&] { le(a, b); }, {"le" + tail});
  check_error([&] { gt(a, b); }, {"gt" + tail});
  check_error([&] { ge(a, b); }, {"ge" + tail});
  check_error([&] { eq(a, b); }, {"eq" + tail});
  check_error([&] { ne(a, b); }, {"ne" + tail});
  check_error([&] { where(a, a, b); }, {"where" + tail});
  check_error([&] { where(b, a, a); }, {"where: shapes [4] and [2,3] do not broadcast"});
  check_error([&] { add(zeros<double>({2, 1, 3}), zeros<double>({4, 2})); },
              {"add: shapes [2,1,3] and [4,2] do not broadcast"});
  // the check comes before any recording: a requires-grad input changes nothing
  check_error([&] { mul(D(xt::xarray<double>(xt::zeros<double>({3})), true), b); }, {"mul: shapes [3] and [4]"});
}

TEST_CASE("pow with a whole or half exponent is multiplications (or sqrt) and agrees with std::pow") {
  manual_seed(91);
  const D x = random_input({257}, -3, 3);
  for (double p : {0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, -1.0, -2.0, -3.0, 0.5, 2.5}) {
    INFO("p = " << p);
    const D y = pow(x, p);
    for (std::size_t i = 0; i < x.numel(); ++i) {
      const double v = x.value()(i), expected = std::pow(v, p);
      if (std::isnan(expected)) CHECK(std::isnan(y.value()(i)));
      else CHECK(y.value()(i) == doctest::Approx(expected).epsilon(1e-14));
    }
  }
  // float: x^2 is x * x exactly; the gradient is 2x, second order 2
  Var f({1.5f, -2.25f, 0.0f}, true);
  CHECK(pow(f, 2.0f).value()(1) == -2.25f * -2.25f);
  CHECK(gradcheck([](const std::vector<D>& in) { return pow(in[0], 3.0); }, {random_input({4})}));
  CHECK(gradgradcheck([](const std::vector<D>& in) { return pow(in[0], 2.0); }, {random_input({4})}));
  // 0 to a negative whole power is inf, as std::pow
  CHECK(std::isinf(pow(D({0.0}), -2.0).value()(0)));
}
