// W6 (benchmarks/README.md) with tapegrad's nn::MultiheadAttention: self-attention, batch 8,
// sequence 128, d_model 256, 8 heads, input and output projections, PyTorch's [L, B, E] layout;
// loss = mean of the output squared. W6-encoder: one nn::TransformerEncoderLayer (post-norm,
// ReLU, feed-forward 1024, dropout 0) on the same input.
#include <tapegrad/tapegrad.hpp>

#include "workload.hpp"

namespace {

constexpr std::size_t length = 128, batch = 8, d_model = 256, heads = 8, feedforward = 1024;

/// One timed iteration of a module whose forward(x) is the output.
template <class Layer>
bench::Step attention_step(std::shared_ptr<Layer> layer) {
  tg::manual_seed(5);
  return bench::mean_square_step(layer, tg::randn<float>({length, batch, d_model}),
                                 [](auto& m, const tg::Var& x) { return m->forward(x); });
}

}  // namespace

TG_COMPARE_WORKLOAD("W6", "multi-head self-attention [128,8,256], 8 heads, in/out projections, loss mean(output^2)", [] {
  tg::manual_seed(1);
  return attention_step(std::make_shared<tg::nn::MultiheadAttention<float>>(d_model, heads));
});

TG_COMPARE_WORKLOAD("W6-encoder", "TransformerEncoderLayer [128,8,256], 8 heads, feed-forward 1024, dropout 0, loss mean(output^2)", [] {
  tg::manual_seed(1);
  return attention_step(std::make_shared<tg::nn::TransformerEncoderLayer<float>>(
      d_model, heads, tg::nn::TransformerLayerOptions{.dim_feedforward = feedforward, .dropout = 0.0}));
});
