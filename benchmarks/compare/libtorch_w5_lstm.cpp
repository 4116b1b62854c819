// W5 (benchmarks/README.md) with libtorch's torch::nn::LSTM / GRU / RNN: 1 layer, input 64,
// hidden 128, sequence 50, batch 32; loss = mean of the outputs squared.
#include <torch/torch.h>

#include "workload.hpp"

namespace {

constexpr int64_t steps = 50, batch = 32, input = 64, hidden = 128;

/// One timed iteration of a layer whose forward(input) returns (output sequence, state).
template <class Layer>
bench::Step recurrent_step(Layer layer) {
  torch::manual_seed(5);
  return bench::mean_square_step(layer, torch::randn({steps, batch, input}),
                                 [](Layer& m, const torch::Tensor& x) { return std::get<0>(m->forward(x)); });
}

}  // namespace

TG_COMPARE_WORKLOAD("W5", "LSTM 1 layer, input 64, hidden 128, sequence 50, batch 32, loss mean(output^2)", [] {
  torch::manual_seed(1);
  return recurrent_step(torch::nn::LSTM(torch::nn::LSTMOptions(input, hidden)));
});

TG_COMPARE_WORKLOAD("W5-gru", "GRU 1 layer, input 64, hidden 128, sequence 50, batch 32, loss mean(output^2)", [] {
  torch::manual_seed(1);
  return recurrent_step(torch::nn::GRU(torch::nn::GRUOptions(input, hidden)));
});

TG_COMPARE_WORKLOAD("W5-rnn", "tanh RNN 1 layer, input 64, hidden 128, sequence 50, batch 32, loss mean(output^2)", [] {
  torch::manual_seed(1);
  return recurrent_step(torch::nn::RNN(torch::nn::RNNOptions(input, hidden)));
});
