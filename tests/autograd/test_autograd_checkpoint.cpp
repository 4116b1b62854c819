// tg::checkpoint: the same gradients as without it (exactly), dropout replayed, nesting,
// create_graph, intermediates not kept, clear errors.
#include <vector>

#include "testing.hpp"

using namespace tg;
using tg::testing::check_error;
using tg::testing::D;
using tg::testing::random_input;

namespace {

/// A small residual block with parameters captured from outside: tanh(h W1 + b) W2 + h.
struct Block {
  D w1 = random_input({3, 4}), b = random_input({4}), w2 = random_input({4, 3});
  D operator()(const D& h) const { return matmul(tanh(matmul(h, w1) + b), w2) + h; }
  std::vector<D> parameters() const { return {w1, b, w2}; }
};

void clear(const std::vector<D>& vars) {
  for (auto v : vars) v.zero_grad();
}

/// The gradients of loss() in vars, read off their .grad() after one backward.
template <class Loss>
std::vector<xt::xarray<double>> grads_of(Loss loss, const std::vector<D>& vars) {
  clear(vars);
  loss().backward();
  std::vector<xt::xarray<double>> g;
  for (const auto& v : vars) g.push_back(v.grad().value());
  return g;
}

}  // namespace

TEST_CASE("checkpoint: the value and every gradient are exactly those without it") {
  manual_seed(1);
  Block f, g;
  D x = random_input({2, 3});
  std::vector<D> vars{x};
  for (const auto* block : {&f, &g})
    for (const auto& p : block->parameters()) vars.push_back(p);

  auto plain = [&] { return sum(g(f(x)) * g(f(x))); };
  auto checkpointed = [&] {
    D h = checkpoint([&](const D& v) { return f(v); }, x);
    D y = checkpoint([&](const D& v) { return g(v); }, h);
    D h2 = checkpoint([&](const D& v) { return f(v); }, x);
    return sum(y * checkpoint([&](const D& v) { return g(v); }, h2));
  };
  CHECK(checkpointed().value() == plain().value());
  const auto expected = grads_of(plain, vars);
  const auto got = grads_of(checkpointed, vars);
  for (std::size_t i = 0; i < vars.size(); ++i) CHECK(got[i] == expected[i]);
}

TEST_CASE("checkpoint: an input computed from a parameter the segment also uses gets only its own share") {
  // h = x W1 depends on W1, and the segment uses W1 again: dL/dW1 has both paths, each once.
  manual_seed(2);
  D x = random_input({2, 3}), w1 = random_input({3, 3}), w2 = random_input({3, 3});
  auto segment = [&](const D& h) { return tanh(matmul(h, w1)) * matmul(h, w2); };
  auto plain = [&] { return sum(segment(matmul(x, w1))); };
  auto checkpointed = [&] { return sum(checkpoint(segment, matmul(x, w1))); };
  const std::vector<D> vars{x, w1, w2};
  const auto expected = grads_of(plain, vars);
  const auto got = grads_of(checkpointed, vars);
  for (std::size_t i = 0; i < vars.size(); ++i) CHECK(got[i] == expected[i]);

  // tg::grad through it too, several inputs at once
  const auto g_plain = grad({plain()}, vars);
  const auto g_check = grad({checkpointed()}, vars);
  for (std::size_t i = 0; i < vars.size(); ++i) CHECK(g_check[i].value() == g_plain[i].value());
}

TEST_CASE("checkpoint: dropout inside draws the same masks when recomputed, and the generator goes on unchanged") {
  D x = random_input({4, 6});
  D w = random_input({6, 6});
  auto segment = [&](const D& v) { return nn::dropout(tanh(matmul(v, w)), 0.5) * 2.0; };

  manual_seed(7);
  D plain = sum(segment(x) * segment(x));
  clear({x, w});
  plain.backward();
  const xt::xarray<double> gx = x.grad().value(), gw = w.grad().value();
  const double next_plain = randn<double>({1}).item();

  manual_seed(7);
  D checked = sum(checkpoint(segment, x) * checkpoint(segment, x));
  clear({x, w});
  checked.backward();
  CHECK(checked.item() == plain.item());
  CHECK(x.grad().value() == gx);
  CHECK(w.grad().value() == gw);
  // backward replayed the generator for each segment and put it back where the forward left it
  CHECK(randn<double>({1}).item() == next_plain);
}

TEST_CASE("checkpoint: nested segments") {
  manual_seed(3);
  Block f, g;
  D x = random_input({2, 3});
  std::vector<D> vars{x};
  for (const auto* block : {&f, &g})
    for (const auto& p : block->parameters()) vars.push_back(p);
  auto plain = [&] { return sum(tanh(g(f(x)))); };
  auto nested = [&] {
    return sum(checkpoint(
        [&](const D& v) {
          D inner = checkpoint([&](const D& u) { return f(u); }, v);
          return tanh(checkpoint([&](const D& u) { return g(u); }, inner));
        },
        x));
  };
  const auto expected = grads_of(plain, vars);
  const auto got = grads_of(nested, vars);
  for (std::size_t i = 0; i < vars.size(); ++i) CHECK(got[i] == expected[i]);
}

TEST_CASE("checkpoint: first and second derivatives by finite differences, also nested and with several inputs") {
  manual_seed(4);
  D w = random_input({3, 3});
  const DoubleFunction one = [&](const std::vector<D>& in) {
    return checkpoint([&](const D& v) { return sigmoid(matmul(v, w)) * v; }, in[0]);
  };
  CHECK(gradcheck(one, {random_input({2, 3}), }));
  CHECK(gradgradcheck(one, {random_input({2, 3})}));
  const DoubleFunction two = [&](const std::vector<D>& in) {
    return checkpoint(
        [&](const D& a, const D& b) {
          return checkpoint([](const D& u, const D& v) { return tanh(u * v); }, a, b) + exp(b) * w.value()(0, 0);
        },
        in[0], in[1]);
  };
  CHECK(gradcheck(two, {random_input({2, 3}), random_input({2, 3})}));
  CHECK(gradgradcheck(two, {random_input({2, 3}), random_input({2, 3})}));
}

TEST_CASE("checkpoint: create_graph gives the same gradient penalty as without it") {
  manual_seed(5);
  D x = random_input({2, 3}), w = random_input({3, 3});
  auto segment = [&](const D& v) { return tanh(matmul(v, w)); };
  // d/dw of |d sum(segment(x))/dx|^2: second order through the recomputed segment
  auto penalty = [&](bool checkpointed) {
    D y = checkpointed ? checkpoint(segment, x) : segment(x);
    D gx = grad({sum(y)}, {x}, {}, {.create_graph = true})[0];
    return grad({sum(gx * gx)}, {w})[0].value();
  };
  CHECK(penalty(true) == penalty(false));
}

TEST_CASE("checkpoint: the segment's intermediate results are not kept") {
  manual_seed(6);
  D x = random_input({2, 3}), w = random_input({3, 3});
  D kept_inside;
  auto segment = [&](const D& v) {
    kept_inside = tanh(matmul(v, w));
    return kept_inside * 2.0;
  };
  D plain = segment(x);
  CHECK(kept_inside.use_count() == 2);  // without checkpointing the graph holds it too
  D checked = checkpoint(segment, x);
  CHECK(kept_inside.use_count() == 1);  // only the handle above: the graph let it go
  CHECK(checked.op_name() == std::string("checkpoint"));
  CHECK(checked.value() == plain.value());
}

TEST_CASE("checkpoint: a result is its own node; without grad mode nothing is recorded") {
  D x = random_input({2, 2});
  D same = checkpoint([](const D& v) { return v; }, x);
  CHECK_FALSE(same.same_node(x));
  CHECK(same.value() == x.value());
  sum(same * same).backward();
  CHECK(x.grad().value() == 2.0 * x.value());
  {
    NoGradGuard no_grad;
    D y = checkpoint([](const D& v) { return v * 3.0; }, x);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.value() == 3.0 * x.value());
  }
}

TEST_CASE("checkpoint: errors name the op") {
  D x = random_input({2, 2});
  check_error([&] { checkpoint(CheckpointFunction<double>(), {x}); }, {"checkpoint", "empty"});
  check_error([&] { checkpoint([](const D& v) { return v; }, D()); }, {"checkpoint", "input 0 is undefined"});
  check_error([&] { checkpoint([](const D&) { return D(); }, x); }, {"checkpoint", "undefined variable"});
  // a segment that computes something else when run again
  int runs = 0;
  D y = checkpoint([&](const D& v) { return ++runs == 1 ? v * 2.0 : sum(v); }, x);
  check_error([&] { sum(y).backward(); }, {"checkpoint", "shape [2,2]", "shape []", "the same from the same inputs"});
  // the graph is freed after a backward, as any other
  D z = checkpoint([](const D& v) { return v * v; }, x);
  sum(z).backward();
  check_error([&] { sum(z).backward(); }, {"checkpoint", "already freed"});
}
