// W1 (benchmarks/README.md), libtorch's side: the tape's own cost, 2,000 one-element ops.
#include <torch/torch.h>

#include "workload.hpp"

TG_COMPARE_WORKLOAD("W1", "scalar chain: x one element, 1,000 times y = y * 1.0001 + 0.0001 (2,000 ops)", [] {
  torch::Tensor x = torch::full({1}, 0.5, torch::requires_grad());
  return [=]() mutable {
    return bench::timed_step(
        [&] {
          torch::Tensor y = x;
          for (int i = 0; i < 1000; ++i) y = y * 1.0001 + 0.0001;
          return y;
        },
        // as tapegrad's zero_grad: the next backward stores a fresh gradient
        [&] { x.mutable_grad().reset(); });
  };
});
