// W2 (benchmarks/README.md), libtorch's side: small tensors, 900 ops of [16].
#include <torch/torch.h>

#include "workload.hpp"

TG_COMPARE_WORKLOAD("W2", "small tensors: x, w, b of [16], 300 times y = tanh(y * w + b), then sum(y)", [] {
  torch::manual_seed(2);
  torch::Tensor x = torch::randn({16}, torch::requires_grad()), w = torch::randn({16}, torch::requires_grad()),
                b = torch::randn({16}, torch::requires_grad());
  return [=]() mutable {
    return bench::timed_step(
        [&] {
          torch::Tensor y = x;
          for (int i = 0; i < 300; ++i) y = torch::tanh(y * w + b);
          return y.sum();
        },
        [&] {
          for (auto* v : {&x, &w, &b}) v->mutable_grad().reset();
        });
  };
});
