// The attention ops: the head primitives (head_scores, head_mix, head_attention_weights) and the
// masked softmax: values, first and second derivatives, masks, fully masked rows, errors.
// (scaled_dot_product_attention and MultiheadAttention: nn/test_nn_attention.cpp.)
#include "testing.hpp"

#include <cmath>
#include <limits>

#include <xtensor/xview.hpp>

using namespace tg;
using tg::testing::check_close;
using tg::testing::check_error;
using tg::testing::random_input;
using D = Variable<double>;
using Fn = std::function<D(const std::vector<D>&)>;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();

/// Head h of [B, L, D] as [B, L, D/heads] (the reference the head ops are checked against).
D head(const D& x, std::size_t heads, std::size_t h) {
  const auto e = static_cast<std::int64_t>(x.shape()[2] / heads);
  return narrow(x, 2, static_cast<std::int64_t>(h) * e, e);
}
}  // namespace

// ---- head_scores, head_mix ----------------------------------------------------------------------

TEST_CASE("head_scores and head_mix equal per-head matmuls") {
  manual_seed(1);
  const std::size_t heads = 3;
  D x = random_input({2, 4, 6}), y = random_input({2, 5, 6}), v = random_input({2, 5, 6});
  D s = head_scores(x, y, heads, 0.5);
  CHECK(s.shape() == Shape{2, 3, 4, 5});
  D a = random_input({2, 3, 4, 5});
  D mixed = head_mix(a, v, heads);
  CHECK(mixed.shape() == Shape{2, 4, 6});
  D back = head_mix(a, x, heads, true, 2.0);  // a^T: [5, 4] per head, times x's [4, 2] blocks
  CHECK(back.shape() == Shape{2, 5, 6});
  for (std::size_t h = 0; h < heads; ++h) {
    INFO("head " << h);
    xt::xarray<double> expected = matmul(head(x, heads, h), head(y, heads, h), {.transpose_b = true}).value() * 0.5;
    check_close(xt::xarray<double>(xt::view(s.value(), xt::all(), h)), expected);
    D ah(xt::xarray<double>(xt::view(a.value(), xt::all(), h)));
    check_close(head(mixed, heads, h).value(), matmul(ah, head(v, heads, h)).value());
    check_close(head(back, heads, h).value(), matmul(ah, head(x, heads, h), {.transpose_a = true}).value() * 2.0);
  }
}

TEST_CASE("head_scores and head_mix: gradcheck and gradgradcheck, with and without the transpose") {
  manual_seed(2);
  D x = random_input({2, 3, 4}), y = random_input({2, 2, 4}), a = random_input({2, 2, 3, 2}), at = random_input({2, 2, 2, 3});
  Fn scores = [](const std::vector<D>& in) { return head_scores(in[0], in[1], 2, 0.7); };
  CHECK(gradcheck(scores, {x, y}));
  CHECK(gradgradcheck(scores, {x, y}));
  Fn mix = [](const std::vector<D>& in) { return head_mix(in[0], in[1], 2, false, 1.3); };
  CHECK(gradcheck(mix, {a, y}));
  CHECK(gradgradcheck(mix, {a, y}));
  Fn mix_t = [](const std::vector<D>& in) { return head_mix(in[0], in[1], 2, true); };
  CHECK(gradcheck(mix_t, {at, y}));
  CHECK(gradgradcheck(mix_t, {at, y}));
}

TEST_CASE("head ops on [L, B, D] (seq_first) equal them on [B, L, D]; gradcheck and gradgradcheck") {
  manual_seed(3);
  const std::size_t heads = 2;
  D x = random_input({3, 2, 4}), y = random_input({5, 2, 4}), a = random_input({2, 2, 3, 5}), at = random_input({2, 2, 5, 3});
  const auto batch_first = [](const D& t) { return transpose(t, 0, 1); };
  check_close(head_scores(x, y, heads, 0.7, true).value(), head_scores(batch_first(x), batch_first(y), heads, 0.7).value());
  D mixed = head_mix(a, y, heads, false, 1.3, true);
  CHECK(mixed.shape() == Shape{3, 2, 4});
  check_close(batch_first(mixed).value(), head_mix(a, batch_first(y), heads, false, 1.3).value());
  check_close(batch_first(head_mix(at, y, heads, true, 1.0, true)).value(), head_mix(at, batch_first(y), heads, true).value());
  Fn scores = [](const std::vector<D>& in) { return head_scores(in[0], in[1], 2, 0.7, true); };
  CHECK(gradcheck(scores, {x, y}));
  CHECK(gradgradcheck(scores, {x, y}));
  Fn mix = [](const std::vector<D>& in) { return head_mix(in[0], in[1], 2, false, 1.3, true); };
  CHECK(gradcheck(mix, {a, y}));
  CHECK(gradgradcheck(mix, {a, y}));
  Fn mix_t = [](const std::vector<D>& in) { return head_mix(in[0], in[1], 2, true, 1.0, true); };
  CHECK(gradcheck(mix_t, {at, y}));
  CHECK(gradgradcheck(mix_t, {at, y}));
}

TEST_CASE("head ops: bad shapes name the op and the shapes") {
  check_error([] { head_scores(zeros<double>({2, 3, 6}), zeros<double>({2, 3, 6}), 4); },
              {"head_scores", "[2,3,6]", "do not split into 4 heads"});
  check_error([] { head_scores(zeros<double>({2, 3, 6}), zeros<double>({1, 3, 6}), 2); },
              {"head_scores", "[2,3,6]", "[1,3,6]", "differ"});
  check_error([] { head_scores(zeros<double>({3, 6}), zeros<double>({3, 6}), 2); }, {"head_scores", "[3,6]", "[batch, length, features]"});
  check_error([] { head_mix(zeros<double>({2, 2, 3, 4}), zeros<double>({2, 5, 6}), 2); },
              {"head_mix", "[2,2,3,4]", "4 keys", "[2,5,6]"});
  check_error([] { head_mix(zeros<double>({2, 3, 3, 5}), zeros<double>({2, 5, 6}), 2); }, {"head_mix", "heads 2"});
}

// ---- attention_softmax, softmax_backward ---------------------------------------------------------

TEST_CASE("attention_softmax: softmax of scores + mask; masked keys get exactly 0 weight and 0 gradient") {
  D scores(xt::xarray<double>{{1.0, 2.0, 3.0}, {0.5, 0.5, -1.0}}, true);
  D mask(xt::xarray<double>{{0.0, -inf, 0.0}, {0.0, 0.0, 0.0}});
  D w = attention_softmax(scores, mask);
  const double e1 = std::exp(1.0), e3 = std::exp(3.0);
  const xt::xarray<double> second = softmax(D(xt::xarray<double>{0.5, 0.5, -1.0})).value();
  check_close(w.value(), xt::xarray<double>{{e1 / (e1 + e3), 0.0, e3 / (e1 + e3)}, {second(0), second(1), second(2)}});
  CHECK(w.value()(0, 1) == 0.0);
  sum(w * D(xt::xarray<double>{{1.0, 5.0, -2.0}, {0.3, 0.1, 2.0}})).backward();
  CHECK(scores.grad().value()(0, 1) == 0.0);
  CHECK(scores.grad().value()(0, 0) != 0.0);
  // no mask: the plain softmax
  check_close(attention_softmax(scores).value(), softmax(scores).value());
}

TEST_CASE("attention_softmax: a row with every key masked is all 0, with gradient 0, not NaN") {
  D scores(xt::xarray<double>{{1.0, 2.0}, {3.0, 4.0}}, true);
  D mask(xt::xarray<double>{{-inf, -inf}, {0.0, -inf}});
  D w = attention_softmax(scores, mask);
  check_close(w.value(), xt::xarray<double>{{0.0, 0.0}, {1.0, 0.0}});
  sum(w * scores).backward();
  for (double g : scores.grad().value()) CHECK(std::isfinite(g));
  CHECK(scores.grad().value()(0, 0) == 0.0);
  CHECK(scores.grad().value()(0, 1) == 0.0);
  CHECK(scores.grad().value()(1, 1) == 0.0);
}

TEST_CASE("attention_softmax and softmax_backward: gradcheck and gradgradcheck, masks broadcast") {
  manual_seed(3);
  D scores = random_input({2, 3, 4});
  D mask = random_input({3, 4});  // a differentiable additive mask, broadcast over the batch
  Fn f = [](const std::vector<D>& in) { return attention_softmax(in[0], in[1]); };
  CHECK(gradcheck(f, {scores, mask}));
  CHECK(gradgradcheck(f, {scores, mask}));
  // with -inf entries and a fully masked row (a constant mask)
  D blocked(xt::xarray<double>{{0.0, -inf, 0.0, 0.0}, {-inf, -inf, -inf, -inf}, {0.0, 0.0, 0.0, -inf}});
  Fn g = [&](const std::vector<D>& in) { return attention_softmax(in[0], blocked); };
  CHECK(gradcheck(g, {scores}));
  CHECK(gradgradcheck(g, {scores}));
  D out = softmax(random_input({3, 5}), -1).detach().set_requires_grad(true);
  Fn h = [](const std::vector<D>& in) { return softmax_backward(in[0], in[1]); };
  CHECK(gradcheck(h, {random_input({3, 5}), out}));
  CHECK(gradgradcheck(h, {random_input({3, 5}), out}));
  check_error([] { attention_softmax(zeros<double>({2, 3}), zeros<double>({3, 3})); }, {"attention_softmax", "[3,3]", "[2,3]"});
  check_error([] { softmax_backward(zeros<double>({2, 3}), zeros<double>({3, 2})); }, {"softmax_backward", "[2,3]", "[3,2]"});
}

// ---- head_attention_weights ------------------------------------------------------------------------

TEST_CASE("head_attention_weights equals attention_softmax(head_scores + mask), masks of every broadcast shape") {
  manual_seed(4);
  const std::size_t heads = 2;
  D x = random_input({2, 3, 4}), y = random_input({2, 5, 4});
  check_close(head_attention_weights(x, y, heads, 0.6).value(), attention_softmax(head_scores(x, y, heads, 0.6)).value());
  // [L, S] with a fully masked row, [B, 1, 1, S] key padding, a full [B, H, L, S] float mask
  xt::xarray<double> rows = xt::zeros<double>({3, 5});
  xt::view(rows, 1, xt::all()) = -inf;
  rows(2, 0) = -inf;
  xt::xarray<double> padding = xt::zeros<double>({2, 1, 1, 5});
  padding(1, 0, 0, 4) = -inf;
  for (const D& mask : {D(rows), D(padding), random_input({2, 2, 3, 5})}) {
    INFO("mask " << shape_str(mask.shape()));
    D fused = head_attention_weights(x, y, heads, 0.6, mask);
    check_close(fused.value(), attention_softmax(head_scores(x, y, heads, 0.6), mask).value());
  }
  D fused = head_attention_weights(x, y, heads, 0.6, D(rows));
  CHECK(fused.value()(0, 1, 1, 2) == 0.0);  // every key masked: all 0, not NaN
  CHECK(fused.value()(1, 0, 2, 0) == 0.0);  // a masked key: exactly 0
  // seq_first reads [L, B, D] in place
  const auto batch_first = [](const D& t) { return transpose(t, 0, 1); };
  check_close(head_attention_weights(batch_first(x), batch_first(y), heads, 0.6, D(padding), true).value(),
              head_attention_weights(x, y, heads, 0.6, D(padding)).value());
}

TEST_CASE("head_attention_weights: gradcheck and gradgradcheck, with a differentiable mask and with -inf entries") {
  manual_seed(5);
  D x = random_input({2, 3, 4}), y = random_input({2, 5, 4}), mask = random_input({3, 5});
  Fn f = [](const std::vector<D>& in) { return head_attention_weights(in[0], in[1], 2, 0.8, in[2]); };
  CHECK(gradcheck(f, {x, y, mask}));
  CHECK(gradgradcheck(f, {x, y, mask}));
  xt::xarray<double> blocked = xt::zeros<double>({3, 5});
  xt::view(blocked, 0, xt::all()) = -inf;
  blocked(2, 3) = -inf;
  D constant(blocked);
  Fn g = [&](const std::vector<D>& in) { return head_attention_weights(in[0], in[1], 2, 0.8, constant, true); };
  D xs = random_input({3, 2, 4}), ys = random_input({5, 2, 4});
  CHECK(gradcheck(g, {xs, ys}));
  CHECK(gradgradcheck(g, {xs, ys}));
  check_error([] { head_attention_weights(zeros<double>({2, 3, 4}), zeros<double>({2, 5, 4}), 2, 1.0, zeros<double>({4, 5})); },
              {"head_attention_weights", "[4,5]", "[2,2,3,5]"});
}
