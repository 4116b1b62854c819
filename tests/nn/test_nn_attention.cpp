// scaled_dot_product_attention (masks, causal, dropout, fully masked rows) and MultiheadAttention
// against PyTorch, its parameter names, init and errors. (The head ops and the masked softmax
// they build on: ops/test_ops_attention.cpp.)
#include "testing.hpp"

#include <cmath>
#include <limits>

#include <xtensor/xview.hpp>

#include "reference/attention_reference.hpp"

using namespace tg;
using tg::testing::check_close;
using tg::testing::check_error;
using tg::testing::random_input;
using D = Variable<double>;
using Fn = std::function<D(const std::vector<D>&)>;
using attention_reference::check_parameter_gradients;
using attention_reference::check_values;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
}  // namespace

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
