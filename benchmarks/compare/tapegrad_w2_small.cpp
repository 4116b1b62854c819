// W2 (benchmarks/README.md), tapegrad's side: small tensors, 900 ops of [16].
#include <tapegrad/tapegrad.hpp>

#include "workload.hpp"

TG_COMPARE_WORKLOAD("W2", "small tensors: x, w, b of [16], 300 times y = tanh(y * w + b), then sum(y)", [] {
  tg::manual_seed(2);
  tg::Var x = tg::randn<float>({16}, true), w = tg::randn<float>({16}, true), b = tg::randn<float>({16}, true);
  return [=]() mutable {
    return bench::timed_step(
        [&] {
          tg::Var y = x;
          for (int i = 0; i < 300; ++i) y = tg::tanh(y * w + b);
          return tg::sum(y);
        },
        [&] {
          for (auto* v : {&x, &w, &b}) v->zero_grad();
        });
  };
});
