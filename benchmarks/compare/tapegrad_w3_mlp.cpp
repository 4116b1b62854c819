// W3 (benchmarks/README.md), tapegrad's side: MLP 784-512-512-10 with ReLU, cross-entropy on random
// labels, at batch 64 and 256. The input needs no gradient, as in training.
#include <cstdint>
#include <memory>
#include <string>

#include <tapegrad/tapegrad.hpp>

#include "workload.hpp"

namespace {

bench::Setup mlp(std::size_t batch) {
  return [batch] {
    tg::manual_seed(3);
    auto model = std::make_shared<tg::nn::MLP<float>>(std::vector<std::size_t>{784, 512, 512, 10});
    tg::Var x = tg::randn<float>({batch, 784});
    tg::IndexArray labels = tg::IndexArray::from_shape({batch});
    std::uint64_t state = 12345;  // a fixed LCG, the same labels on both sides
    for (auto& l : labels) state = state * 6364136223846793005ull + 1442695040888963407ull, l = (state >> 33) % 10;
    return bench::module_step(model, x, [labels](auto& m, const tg::Var& in) {
      return tg::nn::cross_entropy(m->forward(in), labels);
    });
  };
}

}  // namespace

TG_COMPARE_WORKLOAD("W3-64", "MLP 784-512-512-10, ReLU, cross-entropy, batch 64", mlp(64));
TG_COMPARE_WORKLOAD("W3-256", "MLP 784-512-512-10, ReLU, cross-entropy, batch 256", mlp(256));
