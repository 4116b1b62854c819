// W2 (benchmarks/README.md), tapegrad's side: small tensors, 900 ops of [16].
#include <tapegrad/tapegrad.hpp>

#include "workload.hpp"

TG_COMPARE_WORKLOAD("W2", "small tensors: x, w, b of [16], 300 times y = tanh(y * w + b), then sum(y)", [] {
  tg::manual_seed(2);
  tg::Var x = tg::randn<float>({16}, true), w = tg::randn<float>({16}, true), b = tg::randn<float>({16}, true);
  return [=]() mutable {
    bench::Stopwatch watch;
    tg::Var y = x;
    for (int i = 0; i < 300; ++i) y = tg::tanh(y * w + b);
    tg::Var loss = tg::sum(y);
    const double forward_ms = watch.lap_ms();
    loss.backward();
    const double backward_ms = watch.lap_ms();
    y = loss = tg::Var();
    for (auto* v : {&x, &w, &b}) v->zero_grad();
    return bench::Timing{forward_ms, backward_ms};
  };
});
