// The backward engine's guarantees: in-place writes between forward and backward are refused
// by name, backward with create_graph gives the right values and frees everything, anomaly
// mode says where the bad op was created, an undefined input names the op that got it.
#include "testing.hpp"

#include <memory>

using namespace tg;
using tg::testing::check_error;
using D = Variable<double>;

// ---- version counters ------------------------------------------------------------------------------

TEST_CASE("mutable_value bumps the version") {
  D x({1.0, 2.0}, true);
  CHECK(x.version() == 0);
  x.mutable_value()(0) = 3;
  x.mutable_value()(1) = 4;
  CHECK(x.version() == 2);
  (void)x.value();
  CHECK(x.version() == 2);
}

TEST_CASE("an input written in place between forward and backward is refused, naming the op") {
  D x({1.0, 2.0}, true), w({3.0, 4.0}, true);
  w.set_name("w");
  auto y = sum(x * w);
  w.mutable_value() *= 2;  // the example: x.grad() would have come from the new w
  check_error([&] { y.backward(); }, {"mul", "input 1", "'w'", "shape [2]", "version 0", "1 now"});
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("a result written in place before its op's backward is refused") {
  D x({0.5, 1.0}, true);
  auto e = exp(x);  // exp's derivative reads its result
  auto y = sum(e * 2.0);
  e.mutable_value()(0) = 100;
  // Its consumer saw it first: mul_scalar's input 0 has changed.
  check_error([&] { y.backward(); }, {"mul_scalar", "input 0", "written in place"});
  // From e itself, exp's own check names its result.
  check_error([&] { grad({e}, {x}, {ones_like(e)}); }, {"exp", "its result", "written in place", "version 1"});
}

TEST_CASE("writes after backward, or to values no recorded op kept, are fine") {
  D x({1.0, 2.0}, true), w({3.0, 4.0}, true);
  auto y = sum(x * w);
  y.backward();
  w.mutable_value() *= 2;  // the graph is gone: nothing is checked
  CHECK(x.grad().value() == xt::xarray<double>{3.0, 4.0});
  D unused({5.0}, true);
  auto z = sum(x * x);
  unused.mutable_value() *= 2;
  CHECK_NOTHROW(z.backward());
}

TEST_CASE("an optimizer step between forward and backward is refused") {
  D w({1.0, 2.0}, true);
  w.set_grad(D({0.5, 0.5}));
  optim::SGD<double> sgd({w}, {.lr = 0.1});
  D x({3.0, 4.0});
  auto y = sum(x * w);
  sgd.step();
  check_error([&] { y.backward(); }, {"mul", "input 1", "version 0", "1 now"});
}

TEST_CASE("an initialiser between forward and backward is refused") {
  D w({1.0, 2.0}, true);
  auto y = sum(w * w);
  nn::init::uniform_(w, -1, 1);
  check_error([&] { y.backward(); }, {"mul", "written in place"});
}

TEST_CASE("load_state_dict between forward and backward is refused") {
  nn::Linear<double> fc(2, 1);
  auto state = fc.state_dict();
  D x({{1.0, 2.0}});
  auto y = sum(fc.forward(x));
  fc.load_state_dict(state);
  check_error([&] { y.backward(); }, {"written in place", "version"});
}

TEST_CASE("retain_graph: a second backward after an in-place write is refused too") {
  D x({2.0}, true), w({3.0}, true);
  auto y = sum(x * w);
  y.backward({.retain_graph = true});
  CHECK(x.grad().item() == 3.0);
  w.mutable_value()(0) = 5;
  check_error([&] { y.backward(); }, {"mul", "input 1", "1 now"});
}

// ---- create_graph ----------------------------------------------------------------------------------

TEST_CASE("backward with create_graph: values of the first and second derivative") {
  D x({3.0}, true);
  auto y = sum(x * x * x);
  y.backward({.create_graph = true});
  CHECK(x.grad().item() == doctest::Approx(27.0));  // 3 x^2
  CHECK(x.grad().requires_grad());
  D g = x.grad();
  x.zero_grad();
  g.backward();
  CHECK(x.grad().item() == doctest::Approx(18.0));  // 6 x
}

TEST_CASE("backward with create_graph twice accumulates a recorded sum") {
  D x({2.0}, true);
  sum(x * x).backward({.create_graph = true});
  sum(x * x * x).backward({.create_graph = true});
  CHECK(x.grad().item() == doctest::Approx(4.0 + 12.0));
  D g = x.grad();
  x.zero_grad();
  g.backward();
  CHECK(x.grad().item() == doctest::Approx(2.0 + 12.0));  // d/dx (2x + 3x^2)
}

namespace {
/// exp(x) through make_op, whose derivative reads the result (so the recorded gradient holds
/// the forward node) and whose derivative object owns `alive`: alive expires exactly when
/// the forward node is freed.
D watched_exp(const D& x, const std::shared_ptr<int>& alive) {
  xt::xarray<double> v = xt::exp(x.value());
  return make_op<double>("watched_exp", std::move(v), {x}, [alive](const GradContext<double>& c) -> Grads<double> {
    return {c.grad * c.out};
  });
}
}  // namespace

TEST_CASE("create_graph: the cycle leaf -> grad -> leaf is freed when the last handle goes") {
  std::weak_ptr<int> watch;
  {
    auto alive = std::make_shared<int>(1);
    watch = alive;
    D x({0.5, 1.0}, true);
    sum(watched_exp(x, alive)).backward({.create_graph = true});
    alive.reset();
    CHECK_FALSE(watch.expired());  // x.grad holds the graph, which holds the node
    CHECK(x.grad().value()(1) == doctest::Approx(std::exp(1.0)));
  }
  CHECK(watch.expired());
}

TEST_CASE("create_graph: a cycle through two leaves is freed once both handles are gone") {
  std::weak_ptr<int> watch;
  D keep;
  {
    auto alive = std::make_shared<int>(1);
    watch = alive;
    D x({0.5}, true), y({2.0}, true);
    sum(watched_exp(x, alive) * y).backward({.create_graph = true});  // x.grad holds y, y.grad holds x
    alive.reset();
    keep = y;
  }
  CHECK_FALSE(watch.expired());  // y is still held
  CHECK(keep.grad().item() == doctest::Approx(std::exp(0.5)));
  keep = D();
  CHECK(watch.expired());
}

TEST_CASE("create_graph: a gradient still held keeps its graph, and is freed after") {
  std::weak_ptr<int> watch;
  D g;
  {
    auto alive = std::make_shared<int>(1);
    watch = alive;
    D x({1.0}, true);
    sum(watched_exp(x, alive)).backward({.create_graph = true});
    g = x.grad();
  }
  CHECK_FALSE(watch.expired());
  g.backward();  // still usable: the graph is there
  g = D();
  CHECK(watch.expired());
}

TEST_CASE("create_graph: a forward result still held keeps the cycle, and it goes with it") {
  std::weak_ptr<int> watch;
  D out;
  {
    auto alive = std::make_shared<int>(1);
    watch = alive;
    D x({1.0}, true);
    out = watched_exp(x, alive);
    sum(out).backward({.create_graph = true});
  }
  CHECK_FALSE(watch.expired());
  out = D();
  CHECK(watch.expired());
}

TEST_CASE("create_graph: zero_grad breaks the cycle too") {
  std::weak_ptr<int> watch;
  D x({1.0}, true);
  {
    auto alive = std::make_shared<int>(1);
    watch = alive;
    sum(watched_exp(x, alive)).backward({.create_graph = true});
  }
  CHECK_FALSE(watch.expired());
  x.zero_grad();
  CHECK(watch.expired());
}

TEST_CASE("create_graph in a loop of model-sized steps leaves nothing behind") {
  std::weak_ptr<int> watch;
  {
    nn::Linear<double> fc(3, 2);
    auto alive = std::make_shared<int>(1);
    watch = alive;
    for (int step = 0; step < 3; ++step) {
      D x({{0.1, 0.2, 0.3}}, true);
      auto loss = sum(watched_exp(fc.forward(x), alive));
      loss.backward({.create_graph = true});
      auto penalty = sum(x.grad() * x.grad());  // a gradient penalty, differentiated again
      fc.zero_grad();
      penalty.backward();
      CHECK(fc.weight.has_grad());
      fc.zero_grad();
    }
    alive.reset();
  }
  CHECK(watch.expired());
}

// ---- anomaly mode and undefined inputs -------------------------------------------------------------

namespace {
// Not tail calls, so that their frames are on the stack when the op records it.
[[gnu::noinline]] D user_function_making_a_nan(const D& x) {
  D y = log(x);
  return y * 2.0;
}
[[gnu::noinline]] D user_function_making_a_sqrt(const D& z) {
  D y = sqrt(z);
  return y * 2.0;
}
}  // namespace

TEST_CASE("anomaly mode prints where the op was created, forward and backward") {
  DetectAnomalyGuard anomaly;
  D x({-1.0}, true);
  check_error([&] { user_function_making_a_nan(x); }, {"anomaly", "log", "forward", "created at", "user_function_making_a_nan"});
  D z({0.0}, true);
  auto y = sum(user_function_making_a_sqrt(z));
  check_error([&] { y.backward(); }, {"anomaly", "sqrt", "backward", "created at", "user_function_making_a_sqrt"});
}

TEST_CASE("an undefined input names the op that received it") {
  D x({1.0, 2.0}, true);
  D undefined;
  check_error([&] { add(x, undefined); }, {"add: an input is undefined"});
  check_error([&] { matmul(undefined, x); }, {"matmul: an input is undefined"});
  check_error([&] { undefined.value(); }, {"undefined"});
}
