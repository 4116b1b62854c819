// tg::vjp, tg::jvp and tg::hvp (autograd/functional) against finite differences in double, and
// the WGAN-GP gradient penalty of the README, whose gradient in D's parameters goes through a
// recorded input gradient.
#include "testing.hpp"

using namespace tg;
using tg::testing::check_close;
using tg::testing::check_error;
using tg::testing::D;
using tg::testing::random_input;

namespace {

/// Not quadratic, two inputs that interact: f(a, b) = Σ tanh(a b) + 0.1 Σ a³ + Σ exp(b / 2).
D f_two(const std::vector<D>& in) {
  return sum(tanh(matmul(in[0], in[1]))) + sum(in[0] * in[0] * in[0]) * 0.1 + sum(exp(in[1] * 0.5));
}

/// ∇f at the given values, as plain arrays.
std::vector<xt::xarray<double>> gradient_at(const std::vector<xt::xarray<double>>& values) {
  std::vector<D> xs;
  for (const auto& v : values) xs.emplace_back(v, true);
  std::vector<xt::xarray<double>> g;
  for (const auto& gi : grad({f_two(xs)}, xs)) g.push_back(gi.value());
  return g;
}

/// x + s v, input by input.
std::vector<xt::xarray<double>> shifted(const std::vector<D>& x, const std::vector<D>& v, double s) {
  std::vector<xt::xarray<double>> out;
  for (std::size_t i = 0; i < x.size(); ++i) out.push_back(x[i].value() + s * v[i].value());
  return out;
}

}  // namespace

TEST_CASE("hvp of a non-quadratic function of two inputs equals finite differences of the gradient") {
  manual_seed(3);
  std::vector<D> x{random_input({3, 4}, -1, 1), random_input({4, 2}, -1, 1)};
  std::vector<D> v{random_input({3, 4}), random_input({4, 2})};
  const FunctionalResult<double> r = hvp<double>(f_two, x, v);
  CHECK(r.output.item() == doctest::Approx(f_two(x).item()));
  CHECK_FALSE(r.output.requires_grad());

  // H v = (∇f(x + εv) − ∇f(x − εv)) / 2ε + O(ε²)
  const double eps = 1e-5;
  const auto plus = gradient_at(shifted(x, v, eps)), minus = gradient_at(shifted(x, v, -eps));
  REQUIRE(r.product.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    INFO("input " << i);
    CHECK_FALSE(r.product[i].requires_grad());
    check_close(r.product[i].value(), (plus[i] - minus[i]) / (2 * eps), 1e-6);
  }
  // the caller's inputs are left as they were: no gradient, no graph
  CHECK_FALSE(x[0].has_grad());
}

TEST_CASE("hvp of a quadratic is the matrix product with its Hessian") {
  // f(x) = ½ xᵀ A x with A symmetric: H = A exactly
  D a({{2.0, -1.0, 0.5}, {-1.0, 3.0, 0.0}, {0.5, 0.0, 1.0}});
  auto f = [&](const std::vector<D>& in) { return sum(in[0] * matmul(a, in[0])) * 0.5; };
  D x({0.3, -0.7, 1.1}), v({1.0, 2.0, -1.0});
  const auto r = hvp<double>(f, {x}, {v});
  check_close(r.product[0].value(), xt::xarray<double>{2.0 - 2.0 - 0.5, -1.0 + 6.0, 0.5 - 1.0}, 1e-12);
}

TEST_CASE("hvp with create_graph is itself differentiable: third derivatives by gradcheck") {
  manual_seed(4);
  D v = random_input({4});
  // x -> H(x) v for f = Σ sin(x) x², differentiated once more by gradcheck
  auto f = [](const std::vector<D>& in) { return sum(sin(in[0]) * in[0] * in[0]); };
  auto hv = [&](const std::vector<D>& in) { return hvp<double>(f, in, {v}, {.create_graph = true}).product[0]; };
  CHECK(gradcheck(hv, {random_input({4})}));
}

TEST_CASE("jvp and vjp equal finite differences and each other (<u, J w> = <Jᵀu, w>)") {
  manual_seed(5);
  D a = random_input({3, 4}, -1, 1), b = random_input({4, 2}, -1, 1);
  D w_a = random_input({3, 4}), w_b = random_input({4, 2}), u = random_input({3, 2});
  auto g_vec = [](const std::vector<D>& in) { return tanh(matmul(in[0], in[1])) + exp(matmul(in[0], in[1]) * 0.1); };

  const auto jv = jvp<double>(g_vec, {a, b}, {w_a, w_b});
  const double eps = 1e-6;
  const std::vector<D> ab{a, b}, w{w_a, w_b};
  const auto p = shifted(ab, w, eps), m = shifted(ab, w, -eps);
  xt::xarray<double> numeric = (g_vec({D(p[0]), D(p[1])}).value() - g_vec({D(m[0]), D(m[1])}).value()) / (2 * eps);
  check_close(jv.product[0].value(), numeric, 1e-6);

  const auto vj = vjp<double>(g_vec, {a, b}, u);
  const double lhs = xt::sum(u.value() * jv.product[0].value())();
  const double rhs = xt::sum(vj.product[0].value() * w_a.value())() + xt::sum(vj.product[1].value() * w_b.value())();
  CHECK(lhs == doctest::Approx(rhs).epsilon(1e-12));
}

TEST_CASE("an input f does not use gets a zero product; bad shapes are errors naming the function") {
  D x({1.0, 2.0}), unused({3.0, 4.0, 5.0});
  auto f = [](const std::vector<D>& in) { return sum(in[0] * in[0] * in[0]); };
  const auto r = hvp<double>(f, {x, unused}, {D({1.0, 0.0}), D({1.0, 1.0, 1.0})});
  check_close(r.product[0].value(), xt::xarray<double>{6.0, 0.0}, 1e-12);  // 6 x v
  check_close(r.product[1].value(), xt::xarray<double>{0.0, 0.0, 0.0}, 1e-15);
  // a linear f: the gradient is constant, the Hessian 0
  const auto lin = hvp<double>([](const std::vector<D>& in) { return sum(in[0] * 3.0); }, {x}, {D({1.0, 1.0})});
  check_close(lin.product[0].value(), xt::xarray<double>{0.0, 0.0}, 1e-15);

  check_error([&] { hvp<double>(f, {x}, {D({1.0, 2.0, 3.0})}); }, {"hvp", "v[0]", "[3]", "[2]"});
  check_error([&] { hvp<double>(f, {x}, {}); }, {"hvp", "1 inputs but 0"});
  check_error([&] { hvp<double>([](const std::vector<D>& in) { return in[0] * 2.0; }, {x}, {x}); },
              {"hvp", "[2]", "scalar"});
  check_error([&] { vjp<double>(f, {x}, D({1.0, 2.0})); }, {"vjp", "[2]", "[]"});
}

TEST_CASE("the WGAN-GP penalty (‖∇ₓD(x)‖ − 1)²: its gradient in D's parameters matches finite differences") {
  manual_seed(6);
  nn::MLP<double> critic({3, 5, 1}, {.activation = nn::Activation::tanh});
  const D x_hat = random_input({4, 3});  // points between real and generated samples
  auto penalty = [&](const std::vector<D>&) {
    // the README's lines: the input gradient is recorded (create_graph), so the penalty trains D.
    // No EnableGradGuard needed: gradcheck runs f in the caller's grad mode.
    D x = x_hat.detach();
    x.set_requires_grad(true);
    D g = grad({sum(critic(x))}, {x}, {}, {.create_graph = true})[0];
    return mean(pow(norm(g, {1}) - 1.0, 2.0));
  };
  const D p = penalty({});
  CHECK(p.item() > 0);
  CHECK(p.requires_grad());  // it reaches D's parameters through the recorded gradient
  CHECK(gradcheck(penalty, critic.parameters()));
}
