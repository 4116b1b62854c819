// Post-accumulate-grad hooks on leaves: called once per backward pass after the pass's whole
// gradient is summed into .grad(), in registration order, also with retain_graph, create_graph
// and concurrent passes through a shared leaf (run under ThreadSanitizer by scripts/test --tsan).
#include "testing.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace tg;
using tg::testing::check_error;
using D = Variable<double>;

TEST_CASE("a hook sees the leaf's whole gradient of the pass, once") {
  D x({1.0, 2.0, 3.0}, true);
  std::vector<xt::xarray<double>> seen;
  x.register_post_accumulate_grad_hook([&](const D& leaf) { seen.push_back(leaf.grad().value()); });
  // x reaches the loss along three paths: the hook runs after all three are summed
  auto y = sum(x * x + x * 3.0);  // d/dx = 2x + 3
  y.backward();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == xt::xarray<double>{5.0, 7.0, 9.0});
  // a second pass accumulates into .grad(): the hook sees the running sum
  sum(x * 2.0).backward();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1] == xt::xarray<double>{7.0, 9.0, 11.0});
}

TEST_CASE("hooks of one leaf run in registration order; leaves in reverse order of creation") {
  D w1({1.0, 2.0}, true), w2({3.0, 4.0}, true);
  std::vector<std::string> calls;
  w1.register_post_accumulate_grad_hook([&](const D&) { calls.push_back("w1 first"); });
  w1.register_post_accumulate_grad_hook([&](const D&) { calls.push_back("w1 second"); });
  w2.register_post_accumulate_grad_hook([&](const D&) { calls.push_back("w2"); });
  // The engine runs nodes in reverse tape order, so the later leaf (a network's last layer,
  // created last) is final first: what a gradient bucket in reverse parameter order relies on.
  D x({0.5, -1.0});
  sum(tanh(x * w1) * w2).backward();
  CHECK(calls == std::vector<std::string>{"w2", "w1 first", "w1 second"});
}

TEST_CASE("retain_graph: every pass through the kept graph calls the hook") {
  D x({2.0}, true);
  int calls = 0;
  double last = 0;
  x.register_post_accumulate_grad_hook([&](const D& leaf) {
    ++calls;
    last = leaf.grad().item();
  });
  auto y = sum(x * x * x);  // 3 x^2 = 12
  y.backward({.retain_graph = true});
  CHECK(calls == 1);
  CHECK(last == 12.0);
  y.backward();
  CHECK(calls == 2);
  CHECK(last == 24.0);
}

TEST_CASE("create_graph: the hook sees a recorded gradient that can be differentiated again") {
  D x({3.0}, true);
  bool recorded = false;
  x.register_post_accumulate_grad_hook([&](const D& leaf) { recorded = leaf.grad().requires_grad(); });
  sum(x * x * x).backward({.create_graph = true});
  CHECK(recorded);
  auto second = grad({sum(x.grad())}, {x})[0];  // d(3x^2)/dx = 6x
  CHECK(second.item() == doctest::Approx(18.0));
  x.zero_grad();
}

TEST_CASE("tg::grad fills no .grad() and calls no hook") {
  D x({1.0, 2.0}, true);
  int calls = 0;
  x.register_post_accumulate_grad_hook([&](const D&) { ++calls; });
  auto g = grad({sum(x * x)}, {x})[0];
  CHECK(g.value() == xt::xarray<double>{2.0, 4.0});
  CHECK(calls == 0);
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("a removed hook is not called; removing twice or an unknown id returns false") {
  D x({1.0}, true), other({1.0}, true);
  int a = 0, b = 0;
  const HookId first = x.register_post_accumulate_grad_hook([&](const D&) { ++a; });
  x.register_post_accumulate_grad_hook([&](const D&) { ++b; });
  CHECK(first != 0);
  CHECK_FALSE(other.remove_post_accumulate_grad_hook(first));  // registered on x, not on other
  CHECK(x.remove_post_accumulate_grad_hook(first));
  CHECK_FALSE(x.remove_post_accumulate_grad_hook(first));
  sum(x * 2.0).backward();
  CHECK(a == 0);
  CHECK(b == 1);
}

TEST_CASE("a hook may edit the gradient and the leaf: an SGD step taken inside backward") {
  // PyTorch's "optimizer step in backward": each parameter is updated as soon as its gradient
  // is final, and its gradient freed, so no two full gradients are alive at once.
  D w({1.0, -2.0}, true);
  const double lr = 0.1;
  w.register_post_accumulate_grad_hook([lr](const D& leaf) {
    D param = leaf;  // a handle for the duration of the call, not kept by the hook
    param.mutable_value() -= lr * param.grad().value();
    param.zero_grad();
  });
  D x({3.0, 4.0});
  sum(x * w * w).backward();  // d/dw = 2 x w = {6, -16}
  CHECK(xt::allclose(w.value(), xt::xarray<double>{1.0 - 0.6, -2.0 + 1.6}));
  CHECK_FALSE(w.has_grad());
}

TEST_CASE("a hook may register another hook; the new one runs from the next pass on") {
  D x({1.0}, true);
  int outer = 0, inner = 0;
  x.register_post_accumulate_grad_hook([&](const D& leaf) {
    if (outer++ == 0) D(leaf).register_post_accumulate_grad_hook([&](const D&) { ++inner; });
  });
  sum(x * 1.0).backward();
  CHECK(inner == 0);
  sum(x * 1.0).backward();
  CHECK(outer == 2);
  CHECK(inner == 1);
}

TEST_CASE("an exception from a hook leaves backward, after the gradient was accumulated") {
  D x({1.0, 2.0}, true);
  x.register_post_accumulate_grad_hook([](const D&) { throw std::runtime_error("hook refused"); });
  try {
    sum(x * 2.0).backward();
    FAIL("expected the hook's exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "hook refused");
  }
  CHECK(x.grad().value() == xt::xarray<double>{2.0, 2.0});
}

TEST_CASE("hooks only on leaves that require grad, and not empty") {
  D x({1.0, 2.0}, true), constant({1.0, 2.0});
  auto y = x * 2.0;
  check_error([&] { y.register_post_accumulate_grad_hook([](const D&) {}); },
              {"register_post_accumulate_grad_hook", "only leaves", "shape [2]", "'mul_scalar'"});
  check_error([&] { constant.register_post_accumulate_grad_hook([](const D&) {}); },
              {"register_post_accumulate_grad_hook", "does not require grad", "shape [2]"});
  check_error([&] { x.register_post_accumulate_grad_hook(nullptr); },
              {"register_post_accumulate_grad_hook", "empty"});
}

TEST_CASE("concurrent backward passes through a shared leaf: one call per pass, hooks changed meanwhile") {
  constexpr int threads = 4, rounds = 100;
  Var w(xt::xarray<float>(xt::ones<float>(Shape{3})), true);
  std::atomic<int> calls{0};
  std::atomic<int> extra_calls{0};
  w.register_post_accumulate_grad_hook([&](const Var& leaf) {
    CHECK(leaf.grad().shape() == Shape{3});  // a whole gradient, never a torn one
    calls.fetch_add(1, std::memory_order_relaxed);
  });
  std::atomic<bool> stop{false};
  // Another thread adds and removes a hook all along: the list a pass calls is never edited.
  std::thread churn([&] {
    while (!stop.load()) {
      const HookId id = w.register_post_accumulate_grad_hook([&](const Var&) { extra_calls.fetch_add(1); });
      w.remove_post_accumulate_grad_hook(id);
    }
  });
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) sum(Var(xt::xarray<float>{1.f, float(t), float(r)}) * w).backward();
    });
  for (auto& th : pool) th.join();
  stop = true;
  churn.join();
  CHECK(calls.load() == threads * rounds);
  CHECK(extra_calls.load() <= threads * rounds);
  // Sum over passes of x: the first element counts the passes, exactly
  CHECK(w.grad().value()(0) == float(threads * rounds));
}
