// Transformers: encoder and decoder layers against PyTorch (values and gradients), pre-norm and
// post-norm, masks, gradient checks in double (dropout with a fixed seed), the stacks' parameter
// names, positional encodings, and errors.
#include "testing.hpp"

#include <cmath>

#include <xtensor/xview.hpp>

#include "reference/attention_reference.hpp"

using namespace tg;
using tg::testing::check_error;
using tg::testing::random_input;
using D = Variable<double>;
using Fn = std::function<D(const std::vector<D>&)>;

namespace {
constexpr nn::TransformerLayerOptions small{.dim_feedforward = 16, .dropout = 0.0};
}

TEST_CASE("TransformerEncoderLayer matches PyTorch: post-norm, ReLU, batch_first, key padding") {
  using namespace attention_reference;
  nn::TransformerEncoderLayer<double> layer(8, 2, {.dim_feedforward = 16, .dropout = 0.0, .batch_first = true});
  load(layer);
  D x = signal(0.7, {2, 3, 8});
  D out = layer.forward(x, {.src_key_padding_mask = D(xt::xarray<double>{{0, 0, 1}, {0, 0, 0}})});
  CHECK(out.shape() == Shape{2, 3, 8});
  check_values(out.value(), encoder_post_out);
  loss_of(out).backward();
  check_values(x.grad().value(), encoder_post_grad_x);
  check_parameter_gradients(layer, encoder_post_param_checksums);
}

TEST_CASE("TransformerEncoderLayer matches PyTorch: pre-norm, GELU, sequence-first, causal mask") {
  using namespace attention_reference;
  nn::TransformerEncoderLayer<double> layer(
      8, 2, {.dim_feedforward = 16, .dropout = 0.0, .activation = nn::Activation::gelu, .norm_first = true});
  load(layer);
  D x = signal(0.8, {3, 2, 8});
  D out = layer.forward(x, {.src_mask = nn::generate_square_subsequent_mask<double>(3)});
  check_values(out.value(), encoder_pre_out);
  loss_of(out).backward();
  check_values(x.grad().value(), encoder_pre_grad_x);
  check_parameter_gradients(layer, encoder_pre_param_checksums);
  // is_causal is the same mask
  layer.zero_grad();
  check_values(layer.forward(x, {.is_causal = true}).value(), encoder_pre_out);
}

TEST_CASE("TransformerDecoderLayer matches PyTorch: post-norm, batch_first, causal target mask") {
  using namespace attention_reference;
  nn::TransformerDecoderLayer<double> layer(8, 2, {.dim_feedforward = 16, .dropout = 0.0, .batch_first = true});
  load(layer);
  D tgt = signal(0.9, {2, 3, 8}), memory = signal(1.0, {2, 4, 8});
  D out = layer.forward(tgt, memory, {.tgt_mask = nn::generate_square_subsequent_mask<double>(3)});
  check_values(out.value(), decoder_post_out);
  loss_of(out).backward();
  check_values(tgt.grad().value(), decoder_post_grad_tgt);
  check_values(memory.grad().value(), decoder_post_grad_memory);
  check_parameter_gradients(layer, decoder_post_param_checksums);
}

TEST_CASE("encoder and decoder layers: gradcheck in double, dropout with a fixed seed; gradgradcheck") {
  manual_seed(21);
  nn::TransformerEncoderLayer<double> encoder(4, 2, {.dim_feedforward = 6, .dropout = 0.2, .batch_first = true});
  D x = random_input({2, 3, 4});
  Fn f = [&](const std::vector<D>& in) {
    manual_seed(5);
    return encoder.forward(in[0], {.is_causal = true});
  };
  std::vector<D> inputs{x};
  for (auto& p : encoder.parameters()) inputs.push_back(p);
  CHECK(gradcheck(f, inputs));
  encoder.eval();
  CHECK(gradgradcheck([&](const std::vector<D>& in) { return encoder.forward(in[0]); }, {x}));

  nn::TransformerDecoderLayer<double> decoder(4, 2, {.dim_feedforward = 6, .dropout = 0.2, .activation = nn::Activation::gelu, .norm_first = true});
  D tgt = random_input({3, 2, 4}), memory = random_input({2, 2, 4});
  Fn g = [&](const std::vector<D>& in) {
    manual_seed(6);
    return decoder.forward(in[0], in[1], {.memory_key_padding_mask = D(xt::xarray<double>{{0, 1}, {0, 0}}), .tgt_is_causal = true});
  };
  std::vector<D> decoder_inputs{tgt, memory};
  for (auto& p : decoder.parameters()) decoder_inputs.push_back(p);
  CHECK(gradcheck(g, decoder_inputs));
}

TEST_CASE("TransformerEncoder / TransformerDecoder: stacked layers with PyTorch's names and a final norm") {
  nn::TransformerEncoder<float> encoder(8, 2, 2, {.dim_feedforward = 16}, true);
  auto names = [](const nn::Module<float>& m) {
    std::vector<std::string> out;
    for (const auto& [name, p] : m.named_parameters()) out.push_back(name);
    return out;
  };
  const auto encoder_names = names(encoder);
  CHECK(encoder_names.size() == 2 * 12 + 2);
  CHECK(encoder_names.front() == "layers.0.self_attn.in_proj_weight");
  CHECK(std::find(encoder_names.begin(), encoder_names.end(), "layers.1.linear2.bias") != encoder_names.end());
  CHECK(std::find(encoder_names.begin(), encoder_names.end(), "layers.0.norm2.weight") != encoder_names.end());
  CHECK(encoder_names.back() == "norm.bias");
  // the layers hold their own parameters
  CHECK(!encoder.layers[0]->linear1->weight.same_node(encoder.layers[1]->linear1->weight));
  CHECK(encoder.layers[0]->linear1->weight.value() != encoder.layers[1]->linear1->weight.value());
  nn::TransformerDecoder<float> decoder(8, 2, 1, {.dim_feedforward = 16});
  const auto decoder_names = names(decoder);
  CHECK(decoder_names.size() == 18);  // two attentions (4 each), two Linear (2 each), three norms (2 each)
  CHECK(std::find(decoder_names.begin(), decoder_names.end(), "layers.0.multihead_attn.out_proj.weight") != decoder_names.end());
  CHECK(std::find(decoder_names.begin(), decoder_names.end(), "layers.0.norm3.bias") != decoder_names.end());
  // the stack runs its layers in order, then the norm
  manual_seed(22);
  Var src = randn<float>({5, 2, 8});
  encoder.eval();
  Var expected = encoder.norm->forward(encoder.layers[1]->forward(encoder.layers[0]->forward(src)));
  CHECK(xt::allclose(encoder(src).value(), expected.value()));
  Var memory = encoder(src);
  CHECK(decoder.forward(randn<float>({3, 2, 8}), memory).shape() == Shape{3, 2, 8});
}

TEST_CASE("positional encodings: sinusoidal values, learned table, shapes and gradients") {
  nn::SinusoidalPositionalEncoding<double> sinusoidal(6, 10);
  CHECK(sinusoidal.named_buffers().front().first == "pe");
  CHECK(sinusoidal.named_parameters().empty());
  const auto& pe = sinusoidal.pe.value();
  CHECK(pe(0, 0) == 0.0);
  CHECK(pe(0, 1) == 1.0);
  CHECK(pe(3, 2) == doctest::Approx(std::sin(3.0 / std::pow(10000.0, 2.0 / 6))));
  CHECK(pe(3, 5) == doctest::Approx(std::cos(3.0 / std::pow(10000.0, 4.0 / 6))));
  D x = random_input({2, 4, 6});
  D y = sinusoidal(x);
  CHECK(y.value()(1, 3, 2) == doctest::Approx(x.value()(1, 3, 2) + pe(3, 2)));
  nn::SinusoidalPositionalEncoding<double> sequence_first(6, 10, {.batch_first = false});
  CHECK(sequence_first(x).value()(1, 3, 2) == doctest::Approx(x.value()(1, 3, 2) + pe(1, 2)));  // [L, B, D]: position 1

  manual_seed(23);
  nn::LearnedPositionalEncoding<double> learned(5, 6);
  CHECK(learned.named_parameters().front().first == "weight");
  CHECK(learned.weight.shape() == Shape{5, 6});
  CHECK(gradcheck([&](const std::vector<D>& in) { return learned(in[0]); }, {random_input({2, 3, 6}), learned.weight}));
  check_error([&] { learned(zeros<double>({2, 6, 6})); }, {"LearnedPositionalEncoding", "[2,6,6]", "max_len is 5"});
  check_error([&] { sinusoidal(zeros<double>({2, 3, 5})); }, {"SinusoidalPositionalEncoding", "[2,3,5]", "6]"});
}

TEST_CASE("transformer layers: bad settings name the layer") {
  check_error([] { nn::TransformerEncoderLayer<float>(8, 3); }, {"TransformerEncoderLayer", "d_model 8", "nhead 3"});
  check_error([] { nn::TransformerEncoderLayer<float>(8, 2, {.dropout = 1.0}); }, {"TransformerEncoderLayer", "dropout", "1"});
  check_error([] { nn::TransformerDecoderLayer<float>(8, 2, {.dim_feedforward = 0}); }, {"TransformerDecoderLayer", "dim_feedforward"});
  check_error([] { nn::TransformerEncoder<float>(8, 2, 0); }, {"TransformerEncoder", "num_layers"});
}
