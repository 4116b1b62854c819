// W6 (benchmarks/README.md) with libtorch's torch::nn::MultiheadAttention: self-attention,
// batch 8, sequence 128, d_model 256, 8 heads, input and output projections, [L, B, E]; loss =
// mean of the output squared (need_weights off, as tapegrad's side). W6-encoder: one
// torch::nn::TransformerEncoderLayer (post-norm, ReLU, feed-forward 1024, dropout 0).
#include <torch/torch.h>

#include "workload.hpp"

namespace {

constexpr int64_t length = 128, batch = 8, d_model = 256, heads = 8, feedforward = 1024;

/// One timed iteration of a module whose output is forward(module, x).
template <class Forward, class Module>
bench::Step attention_step(Module module, Forward forward) {
  torch::manual_seed(5);
  return bench::mean_square_step(std::move(module), torch::randn({length, batch, d_model}), std::move(forward));
}

}  // namespace

TG_COMPARE_WORKLOAD("W6", "multi-head self-attention [128,8,256], 8 heads, in/out projections, loss mean(output^2)", [] {
  torch::manual_seed(1);
  return attention_step(torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(d_model, heads)),
                        [](torch::nn::MultiheadAttention& m, const torch::Tensor& x) {
                          return std::get<0>(m->forward(x, x, x, /*key_padding_mask=*/{}, /*need_weights=*/false));
                        });
});

TG_COMPARE_WORKLOAD("W6-encoder", "TransformerEncoderLayer [128,8,256], 8 heads, feed-forward 1024, dropout 0, loss mean(output^2)", [] {
  torch::manual_seed(1);
  return attention_step(
      torch::nn::TransformerEncoderLayer(torch::nn::TransformerEncoderLayerOptions(d_model, heads).dim_feedforward(feedforward).dropout(0.0)),
      [](torch::nn::TransformerEncoderLayer& m, const torch::Tensor& x) { return m->forward(x); });
});
