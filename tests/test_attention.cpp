// Attention: the head primitives and the masked softmax (values, first and second derivatives),
// scaled_dot_product_attention (masks, causal, dropout, fully masked rows), MultiheadAttention
// against PyTorch, its parameter names, init and errors.
#include "testing.hpp"

#include <cmath>
#include <limits>

#include <xtensor/xview.hpp>

#include "reference/attention_reference.hpp"

using namespace tg;
using tg::testing::check_error;
using tg::testing::random_input;
using D = Variable<double>;
using Fn = std::function<D(const std::vector<D>&)>;
using attention_reference::check_parameter_gradients;
using attention_reference::check_values;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();

void check_close(const xt::xarray<double>& a, const xt::xarray<double>& b, double tol = 1e-12) {
  REQUIRE(Shape(a.shape().begin(), a.shape().end()) == Shape(b.shape().begin(), b.shape().end()));
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << ": " << a.data()[i] << " vs " << b.data()[i]);
    if (a.data()[i] == b.data()[i]) continue;  // equal infinities too
    CHECK(std::abs(a.data()[i] - b.data()[i]) <= tol * (1 + std::abs(b.data()[i])));
  }
}

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

// ---- scaled_dot_product_attention -----------------------------------------------------------------

TEST_CASE("scaled_dot_product_attention: softmax(q k^T / sqrt(E) + mask) v") {
  manual_seed(4);
  D q = random_input({2, 3, 4}), k = random_input({2, 5, 4}), v = random_input({2, 5, 6});
  D expected = matmul(softmax(matmul(q, k, {.transpose_b = true}) / 2.0, -1), v);  // sqrt(4) = 2
  D out = nn::scaled_dot_product_attention(q, k, v);
  CHECK(out.shape() == Shape{2, 3, 6});
  check_close(out.value(), expected.value());
  // an explicit scale
  check_close(nn::scaled_dot_product_attention(q, k, v, {.scale = 0.1}).value(),
              matmul(softmax(matmul(q, k, {.transpose_b = true}) * 0.1, -1), v).value());
  // an additive mask is added to the scaled scores
  D additive = random_input({3, 5});
  check_close(nn::scaled_dot_product_attention(q, k, v, {.attn_mask = additive}).value(),
              matmul(softmax(matmul(q, k, {.transpose_b = true}) / 2.0 + additive, -1), v).value());
}

TEST_CASE("scaled_dot_product_attention: boolean keep / drop masks and is_causal agree with -inf masks") {
  manual_seed(5);
  D q = random_input({1, 2, 4, 3}), k = random_input({1, 2, 4, 3}), v = random_input({1, 2, 4, 2});
  D keep(xt::xarray<double>{{1, 0, 1, 1}, {1, 1, 0, 1}, {0, 1, 1, 1}, {1, 1, 1, 0}});
  D drop(xt::xarray<double>(1.0 - keep.value()));
  D additive(xt::xarray<double>{{0, -inf, 0, 0}, {0, 0, -inf, 0}, {-inf, 0, 0, 0}, {0, 0, 0, -inf}});
  const auto reference = nn::scaled_dot_product_attention(q, k, v, {.attn_mask = additive}).value();
  check_close(nn::scaled_dot_product_attention(q, k, v, {.attn_mask = keep, .mask_type = nn::MaskType::keep}).value(), reference);
  check_close(nn::scaled_dot_product_attention(q, k, v, {.attn_mask = drop, .mask_type = nn::MaskType::drop}).value(), reference);
  // causal: query i sees keys 0..i, so the first query's output is the first value row
  D causal = nn::scaled_dot_product_attention(q, k, v, {.is_causal = true});
  check_close(causal.value(), nn::scaled_dot_product_attention(q, k, v, {.attn_mask = nn::causal_mask<double>(4, 4)}).value());
  check_close(xt::xarray<double>(xt::view(causal.value(), 0, 1, 0)), xt::xarray<double>(xt::view(v.value(), 0, 1, 0)));
  check_close(nn::generate_square_subsequent_mask<double>(3).value(), xt::xarray<double>{{0, -inf, -inf}, {0, 0, -inf}, {0, 0, 0}});
}

TEST_CASE("scaled_dot_product_attention: a fully masked query gives a zero output and zero gradients") {
  manual_seed(6);
  D q = random_input({3, 2}), k = random_input({4, 2}), v = random_input({4, 2});
  D keep(xt::xarray<double>{{1, 1, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 1}});
  D out = nn::scaled_dot_product_attention(q, k, v, {.attn_mask = keep, .mask_type = nn::MaskType::keep});
  CHECK(out.value()(1, 0) == 0.0);
  CHECK(out.value()(1, 1) == 0.0);
  check_close(xt::xarray<double>(xt::view(out.value(), 2)), xt::xarray<double>(xt::view(v.value(), 3)));
  sum(out).backward();
  CHECK(q.grad().value()(1, 0) == 0.0);
  CHECK(q.grad().value()(1, 1) == 0.0);
  // value 2 is masked for every query: no gradient reaches it, nor key 2
  CHECK(v.grad().value()(2, 0) == 0.0);
  CHECK(k.grad().value()(2, 1) == 0.0);
  for (double g : k.grad().value()) CHECK(std::isfinite(g));
}

TEST_CASE("scaled_dot_product_attention: gradcheck and gradgradcheck with masks, causal and dropout") {
  manual_seed(7);
  D q = random_input({2, 3, 2}), k = random_input({2, 4, 2}), v = random_input({2, 4, 3});
  D keep(xt::xarray<double>{{1, 0, 1, 1}, {0, 0, 0, 0}, {1, 1, 0, 1}});
  Fn masked = [&](const std::vector<D>& in) {
    return nn::scaled_dot_product_attention(in[0], in[1], in[2], {.attn_mask = keep, .mask_type = nn::MaskType::keep});
  };
  CHECK(gradcheck(masked, {q, k, v}));
  CHECK(gradgradcheck(masked, {q, k, v}));
  Fn causal = [](const std::vector<D>& in) { return nn::scaled_dot_product_attention(in[0], in[1], in[2], {.is_causal = true}); };
  CHECK(gradcheck(causal, {q, k, v}));
  CHECK(gradgradcheck(causal, {q, k, v}));
  // dropout on the weights: the same mask at every evaluation (seeded inside f)
  Fn dropped = [](const std::vector<D>& in) {
    manual_seed(99);
    return nn::scaled_dot_product_attention(in[0], in[1], in[2], {.dropout_p = 0.3});
  };
  CHECK(gradcheck(dropped, {q, k, v}));
  manual_seed(99);
  D with_dropout = nn::scaled_dot_product_attention(q, k, v, {.dropout_p = 0.3});
  CHECK(with_dropout.value() != nn::scaled_dot_product_attention(q, k, v).value());
}

TEST_CASE("scaled_dot_product_attention: bad input names the function and the shapes") {
  check_error([] { nn::scaled_dot_product_attention(zeros<double>({2, 3}), zeros<double>({4, 2}), zeros<double>({4, 5})); },
              {"scaled_dot_product_attention", "query [2,3]", "key [4,2]", "features differ"});
  check_error([] { nn::scaled_dot_product_attention(zeros<double>({2, 3}), zeros<double>({4, 3}), zeros<double>({5, 3})); },
              {"scaled_dot_product_attention", "value [5,3]", "lengths differ"});
  check_error([] { nn::scaled_dot_product_attention(zeros<double>({2, 3}), zeros<double>({4, 3}), zeros<double>({4, 3}), {.attn_mask = zeros<double>({3, 4})}); },
              {"scaled_dot_product_attention", "attn_mask [3,4]", "[2,4]"});
  check_error([] { nn::scaled_dot_product_attention(zeros<double>({2, 3}), zeros<double>({4, 3}), zeros<double>({4, 3}), {.dropout_p = 1.0}); },
              {"scaled_dot_product_attention", "dropout", "1"});
  check_error([] { nn::scaled_dot_product_attention(zeros<double>({2, 3}), zeros<double>({2, 3}), zeros<double>({2, 3}),
                                                    {.attn_mask = zeros<double>({2, 2}), .is_causal = true}); },
              {"scaled_dot_product_attention", "is_causal and attn_mask"});
}

// ---- MultiheadAttention -----------------------------------------------------------------------------

TEST_CASE("MultiheadAttention: parameter names, shapes and PyTorch's init") {
  manual_seed(8);
  nn::MultiheadAttention<float> mha(16, 4);
  std::vector<std::string> names;
  for (const auto& [name, p] : mha.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  CHECK(mha.in_proj_weight.shape() == Shape{48, 16});
  CHECK(mha.in_proj_bias.shape() == Shape{48});
  for (float b : mha.in_proj_bias.value()) CHECK(b == 0.0f);
  for (float b : mha.out_proj->bias.value()) CHECK(b == 0.0f);
  // xavier_uniform over [3E, E]: bound sqrt(6 / (16 + 48))
  const float bound = std::sqrt(6.0f / 64.0f);
  float largest = 0;
  for (float w : mha.in_proj_weight.value()) largest = std::max(largest, std::abs(w));
  CHECK(largest <= bound);
  CHECK(largest > 0.9f * bound);
  nn::MultiheadAttention<float> separate(8, 2, {.bias = false, .kdim = 5, .vdim = 6});
  names.clear();
  for (const auto& [name, p] : separate.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"});
  CHECK(separate.k_proj_weight.shape() == Shape{8, 5});
  CHECK(separate.v_proj_weight.shape() == Shape{8, 6});
  CHECK(separate.state_dict().size() == 4);
}

TEST_CASE("MultiheadAttention matches PyTorch: sequence-first cross-attention with boolean masks") {
  using namespace attention_reference;
  nn::MultiheadAttention<double> mha(8, 2);
  load(mha);
  D q = signal(0.1, {3, 2, 8}), k = signal(0.2, {4, 2, 8}), v = signal(0.3, {4, 2, 8});
  D padding(xt::xarray<double>{{0, 0, 0, 1}, {0, 1, 0, 0}});
  D attn_mask(xt::xarray<double>{{0, 0, 1, 1}, {0, 0, 0, 1}, {0, 0, 0, 0}});
  auto result = mha.forward(q, k, v, {.key_padding_mask = padding, .attn_mask = attn_mask, .attn_mask_type = nn::MaskType::drop});
  CHECK(result.output.shape() == Shape{3, 2, 8});
  CHECK(result.weights.shape() == Shape{2, 3, 4});
  check_values(result.output.value(), mha_cross_out);
  check_values(result.weights.value(), mha_cross_weights);
  loss_of(result.output).backward();
  check_values(q.grad().value(), mha_cross_grad_q);
  check_values(k.grad().value(), mha_cross_grad_k);
  check_values(v.grad().value(), mha_cross_grad_v);
  check_parameter_gradients(mha, mha_cross_param_checksums);
}

TEST_CASE("MultiheadAttention matches PyTorch: batch_first, kdim/vdim, per-head weights, a float mask") {
  using namespace attention_reference;
  nn::MultiheadAttention<double> mha(8, 2, {.kdim = 5, .vdim = 6, .batch_first = true});
  load(mha);
  D q = signal(0.4, {2, 3, 8}), k = signal(0.5, {2, 4, 5}), v = signal(0.6, {2, 4, 6});
  D float_mask(xt::xarray<double>{{0.0, -1.0, 0.5, 0.0}, {0.2, 0.0, -0.3, 0.0}, {0.0, 0.0, 0.0, -2.0}});
  auto result = mha.forward(q, k, v, {.attn_mask = float_mask, .average_attn_weights = false});
  CHECK(result.output.shape() == Shape{2, 3, 8});
  CHECK(result.weights.shape() == Shape{2, 2, 3, 4});
  check_values(result.output.value(), mha_kdim_out);
  check_values(result.weights.value(), mha_kdim_weights);
  loss_of(result.output).backward();
  check_values(q.grad().value(), mha_kdim_grad_q);
  check_values(k.grad().value(), mha_kdim_grad_k);
  check_values(v.grad().value(), mha_kdim_grad_v);
  check_parameter_gradients(mha, mha_kdim_param_checksums);
}

TEST_CASE("MultiheadAttention: unbatched input, self-attention forward, is_causal, need_weights off") {
  manual_seed(9);
  nn::MultiheadAttention<double> mha(4, 2, {.batch_first = true});
  D x = random_input({2, 3, 4});
  auto batched = mha.forward(x, x, x, {.is_causal = true});
  auto single = mha.forward(D(xt::xarray<double>(xt::view(x.value(), 1))), D(xt::xarray<double>(xt::view(x.value(), 1))),
                            D(xt::xarray<double>(xt::view(x.value(), 1))), {.is_causal = true});
  CHECK(single.output.shape() == Shape{3, 4});
  CHECK(single.weights.shape() == Shape{3, 3});
  check_close(single.output.value(), xt::xarray<double>(xt::view(batched.output.value(), 1)));
  // causal: the first query attends only to itself
  CHECK(batched.weights.value()(0, 0, 0) == doctest::Approx(1.0));
  CHECK(batched.weights.value()(0, 0, 1) == 0.0);
  CHECK(!mha.forward(x, x, x, {.need_weights = false}).weights.defined());
  check_close(mha(x).value(), mha.forward(x, x, x).output.value());
}

TEST_CASE("MultiheadAttention: gradcheck in double through masks and dropout (fixed seed)") {
  manual_seed(10);
  nn::MultiheadAttention<double> mha(4, 2, {.dropout = 0.25});
  D q = random_input({3, 2, 4}), kv = random_input({2, 2, 4});
  D padding(xt::xarray<double>{{0, 1}, {0, 0}});
  Fn f = [&](const std::vector<D>& in) {
    manual_seed(123);
    auto r = mha.forward(in[0], in[1], in[1], {.key_padding_mask = padding});
    return r.output + sum(r.weights);
  };
  std::vector<D> inputs{q, kv};
  for (auto& p : mha.parameters()) inputs.push_back(p);
  CHECK(gradcheck(f, inputs));
  mha.eval();
  Fn g = [&](const std::vector<D>& in) { return mha.forward(in[0], in[1], in[1], {.is_causal = true}).output; };
  CHECK(gradgradcheck(g, {q, kv}));
}

TEST_CASE("MultiheadAttention: bad settings and inputs name the layer and the shapes") {
  check_error([] { nn::MultiheadAttention<float>(10, 3); }, {"MultiheadAttention", "embed_dim 10", "num_heads 3"});
  check_error([] { nn::MultiheadAttention<float>(8, 2, {.dropout = 1.5}); }, {"MultiheadAttention", "dropout", "1.5"});
  nn::MultiheadAttention<double> mha(8, 2);
  check_error([&] { mha.forward(zeros<double>({3, 2, 8}), zeros<double>({4, 2, 7}), zeros<double>({4, 2, 8})); },
              {"MultiheadAttention", "key [4,2,7]", "kdim 8"});
  check_error([&] { mha.forward(zeros<double>({3, 2, 8}), zeros<double>({4, 2, 8}), zeros<double>({5, 2, 8})); },
              {"MultiheadAttention", "value [5,2,8]", "differ"});
  check_error([&] { mha.forward(zeros<double>({3, 2, 8}), zeros<double>({4, 2, 8}), zeros<double>({4, 2, 8}), {.key_padding_mask = zeros<double>({2, 3})}); },
              {"MultiheadAttention", "key_padding_mask [2,3]", "[2,4]"});
  check_error([&] { mha.forward(zeros<double>({3, 2, 8}), zeros<double>({4, 2, 8}), zeros<double>({4, 2, 8}), {.attn_mask = zeros<double>({4, 3})}); },
              {"MultiheadAttention", "attn_mask [4,3]", "[3,4]"});
  check_error([&] { mha.forward(zeros<double>({3, 8}), zeros<double>({4, 2, 8}), zeros<double>({4, 2, 8})); },
              {"MultiheadAttention", "query [3,8]", "unbatched"});
}
