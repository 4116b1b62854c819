// W5 (shared/BENCHMARKS.md) with libtorch's torch::nn::LSTM / GRU / RNN: 1 layer, input 64,
// hidden 128, sequence 50, batch 32; loss = mean of the outputs squared.
#include <torch/torch.h>

#include "workload.hpp"

namespace {

constexpr int64_t steps = 50, batch = 32, input = 64, hidden = 128;

template <class Layer>
bench::Step recurrent_step(Layer layer) {
  torch::manual_seed(5);
  torch::Tensor x = torch::randn({steps, batch, input});
  return [layer, x]() mutable {
    bench::Stopwatch watch;
    torch::Tensor out = std::get<0>(layer->forward(x));
    torch::Tensor loss = (out * out).mean();
    const double forward_ms = watch.lap_ms();
    loss.backward();
    const double backward_ms = watch.lap_ms();
    layer->zero_grad();
    return bench::Timing{forward_ms, backward_ms};
  };
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
