// W1 (benchmarks/README.md), tapegrad's side: the tape's own cost, 2,000 one-element ops.
#include <tapegrad/tapegrad.hpp>

#include "workload.hpp"

TG_COMPARE_WORKLOAD("W1", "scalar chain: x one element, 1,000 times y = y * 1.0001 + 0.0001 (2,000 ops)", [] {
  tg::Var x = tg::full<float>({1}, 0.5, true);
  return [=]() mutable {
    return bench::timed_step(
        [&] {
          tg::Var y = x;
          for (int i = 0; i < 1000; ++i) y = y * 1.0001f + 0.0001f;
          return y;
        },
        [&] { x.zero_grad(); });
  };
});
