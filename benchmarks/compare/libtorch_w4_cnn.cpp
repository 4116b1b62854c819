// W4 with libtorch's modules (oneDNN convolutions): the same network as tapegrad_w4_cnn.cpp.
#include <torch/torch.h>

#include "workload.hpp"

// (no semicolons in the description: compare_tapegrad_smoke reads --list as a CMake list)
TG_COMPARE_WORKLOAD("W4", "CNN on [64,1,28,28]: conv 1->32 k3 p1, ReLU, maxpool 2, conv 32->64 k3 p1, ReLU, maxpool 2, "
                          "flatten, linear 3136->128, ReLU, linear 128->10, cross-entropy", [] {
  namespace nn = torch::nn;
  torch::manual_seed(0);
  auto model = nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                              nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                              nn::Linear(3136, 128), nn::ReLU(), nn::Linear(128, 10));
  const auto x = torch::randn({64, 1, 28, 28});
  const auto labels = torch::arange(64, torch::kLong).mul(7).remainder(10);
  return bench::module_step(model, x, [labels](nn::Sequential& m, const torch::Tensor& in) {
    return torch::nn::functional::cross_entropy(m->forward(in), labels);
  });
});
