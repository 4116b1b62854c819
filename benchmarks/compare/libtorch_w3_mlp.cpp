// W3 (benchmarks/README.md), libtorch's side: MLP 784-512-512-10 with ReLU, cross-entropy on random
// labels, at batch 64 and 256. The input needs no gradient, as in training.
#include <cstdint>

#include <torch/torch.h>

#include "workload.hpp"

namespace {

struct MLPImpl : torch::nn::Module {
  torch::nn::Linear fc1{784, 512}, fc2{512, 512}, fc3{512, 10};
  MLPImpl() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
    register_module("fc3", fc3);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return fc3(torch::relu(fc2(torch::relu(fc1(x)))));
  }
};
TORCH_MODULE(MLP);

bench::Setup mlp(int64_t batch) {
  return [batch] {
    torch::manual_seed(3);
    MLP model;
    torch::Tensor x = torch::randn({batch, 784});
    torch::Tensor labels = torch::empty({batch}, torch::kLong);
    std::uint64_t state = 12345;  // a fixed LCG, the same labels on both sides
    for (int64_t i = 0; i < batch; ++i)
      state = state * 6364136223846793005ull + 1442695040888963407ull, labels[i] = int64_t((state >> 33) % 10);
    return bench::Step([model, x, labels]() mutable {
      return bench::timed_step(
          [&] { return torch::nn::functional::cross_entropy(model->forward(x), labels); },
          [&] {
            for (auto& p : model->parameters()) p.mutable_grad().reset();  // as tapegrad's zero_grad
          });
    });
  };
}

}  // namespace

TG_COMPARE_WORKLOAD("W3-64", "MLP 784-512-512-10, ReLU, cross-entropy, batch 64", mlp(64));
TG_COMPARE_WORKLOAD("W3-256", "MLP 784-512-512-10, ReLU, cross-entropy, batch 256", mlp(256));
