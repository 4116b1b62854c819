// The Variable handle, the tape and the backward engine.
#include "testing.hpp"

#include <thread>

using namespace tg;
using tg::testing::check_error;
using D = Variable<double>;

TEST_CASE("xtensor is built with the C++20 template-template fix") {
  // Without -fno-new-ttp-matching, GCC 12 in C++20 mode makes this rank 4.
  xt::xarray<double> a = {{1, 2}, {3, 4}};
  xt::xarray<double> b = {{5, 6}, {7, 8}};
  auto c = xt::eval(a * b);
  CHECK(c.dimension() == 2);
  CHECK(c(1, 1) == 32);
}

TEST_CASE("a scalar expression and its gradient") {
  Var x({2.0f}, true), w({3.0f}, true);
  auto y = sum(tanh(x * w) * 2.0f);
  y.backward();
  const float t = std::tanh(6.0f);
  CHECK(y.item() == doctest::Approx(2 * t));
  CHECK(x.grad().item() == doctest::Approx(2 * (1 - t * t) * 3));
  CHECK(w.grad().item() == doctest::Approx(2 * (1 - t * t) * 2));
}

TEST_CASE("gradients accumulate across backward calls and zero_grad clears them") {
  D x({1.0, 2.0}, true);
  sum(x * x).backward();
  sum(x * x).backward();
  CHECK(x.grad().value()(0) == doctest::Approx(4.0));
  CHECK(x.grad().value()(1) == doctest::Approx(8.0));
  x.zero_grad();
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("a variable used twice gets both contributions") {
  D x({3.0}, true);
  auto y = x * x + x;  // dy/dx = 2x + 1
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(7.0));
}

TEST_CASE("gradients of leaves sharing a derivative do not alias") {
  D a({1.0, 2.0}, true), b({3.0, 4.0}, true);
  sum(a + b).backward();
  CHECK_FALSE(a.grad().same_node(b.grad()));
  a.grad().node()->value(0) = 100;
  CHECK(b.grad().value()(0) == 1.0);
}

TEST_CASE("properties of a variable") {
  Var x(xt::xarray<float>{{1, 2, 3}, {4, 5, 6}});
  CHECK(x.shape() == Shape{2, 3});
  CHECK(x.dim() == 2);
  CHECK(x.numel() == 6);
  CHECK_FALSE(x.requires_grad());
  CHECK(x.is_leaf());
  x.set_name("x").set_requires_grad(true);
  CHECK(x.name() == "x");
  auto y = x * 2.0f;
  CHECK(y.requires_grad());
  CHECK(std::string(y.op_name()) == "mul_scalar");
  auto d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.value()(1, 2) == 12.0f);
  std::ostringstream os;
  os << x;
  CHECK(os.str().find("shape=[2,3]") != std::string::npos);
  CHECK(os.str().find("name=x") != std::string::npos);
  check_error([&] { y.set_requires_grad(false); }, {"set_requires_grad", "mul_scalar"});
  check_error([&] { x.item(); }, {"item", "[2,3]"});
  check_error([&] { x.detach().grad(); }, {"grad", "[2,3]", "no gradient"});
}

TEST_CASE("factories and manual_seed") {
  CHECK(zeros({2, 3}).value() == xt::xarray<float>(xt::zeros<float>({2, 3})));
  CHECK(ones<double>({4}).value()(3) == 1.0);
  CHECK(full({2}, 7.5).value()(1) == 7.5f);
  CHECK(arange(0, 5).numel() == 5);
  CHECK(arange<double>(1, 2, 0.25).value()(3) == doctest::Approx(1.75));
  CHECK(scalar(3).dim() == 0);
  CHECK(randn({3}, true).requires_grad());
  manual_seed(42);
  auto a = randn({5}).value();
  auto r1 = rand({3}).value();
  manual_seed(42);
  CHECK(randn({5}).value() == a);
  CHECK(rand({3}).value() == r1);
  auto u = rand({1000}).value();
  CHECK(xt::amin(u)() >= 0.0f);
  CHECK(xt::amax(u)() < 1.0f);
}

TEST_CASE("NoGradGuard stops recording, and restores on exit") {
  D x({1.0}, true);
  {
    NoGradGuard guard;
    CHECK_FALSE(is_grad_enabled());
    CHECK_FALSE((x * 2.0).requires_grad());
  }
  CHECK(is_grad_enabled());
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("backward with a seed, and errors for roots") {
  D x({1.0, 2.0, 3.0}, true);
  auto y = x * x;
  check_error([&] { y.backward(); }, {"backward", "[3]", "seed"});
  y.backward(D({1.0, 0.0, 2.0}), {.retain_graph = true});
  CHECK(x.grad().value() == xt::xarray<double>({2.0, 0.0, 12.0}));
  check_error([&] { y.backward(D({1.0, 2.0})); }, {"backward", "[2]", "[3]"});
  D c({1.0});
  check_error([&] { (c * 2.0).backward(); }, {"backward", "does not require grad"});
}

TEST_CASE("a second backward without retain_graph is an error naming the op") {
  D x({2.0}, true);
  auto y = exp(x);
  auto z = sum(y);
  z.backward();
  check_error([&] { z.backward(); }, {"sum", "already freed", "retain_graph"});
  D a({2.0}, true);
  auto b = sum(exp(a));
  b.backward({.retain_graph = true});
  b.backward();
  CHECK(a.grad().item() == doctest::Approx(2 * std::exp(2.0)));
}

TEST_CASE("tg::grad returns gradients without touching .grad()") {
  D x({1.0, 2.0}, true), w({3.0, 4.0}, true);
  auto loss = sum(x * w);
  auto g = grad({loss}, {x, w});
  CHECK(g[0].value() == w.value());
  CHECK(g[1].value() == x.value());
  CHECK_FALSE(x.has_grad());
  CHECK_FALSE(w.has_grad());
}

TEST_CASE("tg::grad of an intermediate result") {
  D x({2.0}, true);
  auto h = x * 3.0;
  auto y = sum(h * h);
  auto g = grad({y}, {h});
  CHECK(g[0].item() == doctest::Approx(12.0));
}

TEST_CASE("tg::grad errors: unused input, input without grad") {
  D x({1.0}, true), unused({1.0}, true), constant({1.0});
  auto y = sum(x * 2.0);
  check_error([&] { grad({y}, {x, unused}, {}, {.retain_graph = true}); }, {"grad", "input 1", "allow_unused"});
  auto g = grad({y}, {x, unused}, {}, {.retain_graph = true, .allow_unused = true});
  CHECK(g[0].item() == 2.0);
  CHECK_FALSE(g[1].defined());
  check_error([&] { grad({y}, {constant}); }, {"grad", "input 0", "does not require grad"});
}

TEST_CASE("second derivatives with create_graph") {
  D x({1.5}, true);
  auto y = sum(x * x * x);  // y' = 3x^2, y'' = 6x
  auto g = grad({y}, {x}, {}, {.create_graph = true});
  CHECK(g[0].item() == doctest::Approx(3 * 1.5 * 1.5));
  CHECK(g[0].requires_grad());
  auto gg = grad({sum(g[0])}, {x});
  CHECK(gg[0].item() == doctest::Approx(6 * 1.5));
}

TEST_CASE("a chain of a million ops backpropagates and is freed without recursion") {
  Var x({1.0f}, true);
  Var y = x;
  for (int i = 0; i < 1000000; ++i) y = y * 1.0f;
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(1.0f));
  y = Var();  // the chain of a million nodes is released here
  Var z = x;
  for (int i = 0; i < 1000000; ++i) z = z + 0.0f;
  z = Var();  // released without backward having freed anything first
  CHECK(x.requires_grad());
}

TEST_CASE("anomaly detection names the op") {
  D x({-1.0, 1.0}, true);
  {
    DetectAnomalyGuard anomaly;
    check_error([&] { log(x); }, {"anomaly", "log", "forward"});
    D z({0.0}, true);
    auto y = sum(sqrt(z));  // forward is fine (0), backward divides by 0
    check_error([&] { y.backward(); }, {"anomaly", "sqrt", "backward"});
  }
  CHECK_FALSE(is_anomaly_enabled());
  CHECK_NOTHROW(log(x));
}

TEST_CASE("a user-defined op: value, inputs, derivative as ops") {
  // cube(x) = x^3 with derivative 3 x^2, written with ops so it differentiates twice
  auto cube = [](const D& x) {
    xt::xarray<double> value = x.value() * x.value() * x.value();
    return make_op<double>("cube", std::move(value), {x}, [](const GradContext<double>& c) -> Grads<double> {
      return {c.grad * c.in[0] * c.in[0] * 3.0};
    });
  };
  D x({0.5, -1.0}, true);
  CHECK(gradcheck([&](auto& in) { return cube(in[0]); }, {x}));
  CHECK(gradgradcheck([&](auto& in) { return cube(in[0]); }, {x}));
}

TEST_CASE("gradcheck reports a wrong derivative") {
  auto wrong = [](const D& x) {
    return make_op<double>("wrong", xt::xarray<double>(x.value() * 2.0), {x},
                           [](const GradContext<double>& c) -> Grads<double> { return {c.grad * 3.0}; });
  };
  D x({1.0, 2.0}, true);
  auto r = gradcheck([&](auto& in) { return wrong(in[0]); }, {x}, {.raise_exception = false});
  CHECK_FALSE(r.ok);
  CHECK(r.input == 0);
  CHECK(r.numeric == doctest::Approx(2.0));
  CHECK(r.analytic == doctest::Approx(3.0));
  CHECK(r.message.find("input 0") != std::string::npos);
  check_error([&] { gradcheck([&](auto& in) { return wrong(in[0]); }, {x}); }, {"gradcheck", "numeric 2", "analytic 3"});
}

TEST_CASE("a graph built on two threads backpropagates in creation order") {
  // a is made on this thread after many other nodes; its consumers on another thread. The
  // tape order must still put a before both of them.
  D w({1.5}, true);
  for (int i = 0; i < 5000; ++i) (void)(w * 1.0);
  D a = w * 2.0;
  D c;
  std::thread([&] {
    D b = a * 3.0;
    c = sum(a + b);  // dc/da = 1 + 3, dc/dw = 8
  }).join();
  c.backward();
  CHECK(w.grad().item() == doctest::Approx(8.0));
}

TEST_CASE("factories refuse shapes whose sizes multiply past what can be indexed") {
  const std::size_t big = std::size_t(1) << 40;
  check_error([&] { zeros<float>({big, big}); }, {"zeros", "[1099511627776,1099511627776]", "multiply past"});
  check_error([&] { ones<double>({big, big, 2}); }, {"ones", "multiply past"});
  check_error([&] { full<float>({big, big}, 3.0); }, {"full", "multiply past"});
  check_error([&] { randn<float>({big, big}); }, {"randn", "multiply past"});
  check_error([&] { rand<double>({big, big}); }, {"rand", "multiply past"});
  CHECK(zeros<float>({0, big, 4}).numel() == 0);  // empty, and its strides fit
  CHECK(ones<double>({2, 3}).value() == xt::xarray<double>{{1, 1, 1}, {1, 1, 1}});
}
