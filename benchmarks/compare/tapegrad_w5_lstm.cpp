// W5 (benchmarks/README.md) with tapegrad's recurrent layers: 1 layer, input 64, hidden 128,
// sequence 50, batch 32; loss = mean of the outputs squared. W5-gru and W5-rnn: the same with
// GRU and tanh RNN.
#include <tapegrad/tapegrad.hpp>

#include "workload.hpp"

namespace {

constexpr std::size_t steps = 50, batch = 32, input = 64, hidden = 128;

/// One timed iteration of a layer whose forward(input) returns the output sequence.
template <class Layer>
bench::Step recurrent_step(std::shared_ptr<Layer> layer) {
  tg::manual_seed(5);
  return bench::mean_square_step(layer, tg::randn<float>({steps, batch, input}),
                                 [](auto& m, const tg::Var& x) { return m->forward(x); });
}

}  // namespace

TG_COMPARE_WORKLOAD("W5", "LSTM 1 layer, input 64, hidden 128, sequence 50, batch 32, loss mean(output^2)", [] {
  tg::manual_seed(1);
  return recurrent_step(std::make_shared<tg::nn::LSTM<float>>(input, hidden));
});

TG_COMPARE_WORKLOAD("W5-gru", "GRU 1 layer, input 64, hidden 128, sequence 50, batch 32, loss mean(output^2)", [] {
  tg::manual_seed(1);
  return recurrent_step(std::make_shared<tg::nn::GRU<float>>(input, hidden));
});

TG_COMPARE_WORKLOAD("W5-rnn", "tanh RNN 1 layer, input 64, hidden 128, sequence 50, batch 32, loss mean(output^2)", [] {
  tg::manual_seed(1);
  return recurrent_step(std::make_shared<tg::nn::RNN<float>>(input, hidden));
});
