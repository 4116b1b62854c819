// W4 with tapegrad's layers: Conv2d, ReLU, MaxPool2d, Flatten, Linear, cross-entropy.
#include <memory>

#include <tapegrad/tapegrad.hpp>

#include "workload.hpp"

// (no semicolons in the description: compare_tapegrad_smoke reads --list as a CMake list)
TG_COMPARE_WORKLOAD("W4", "CNN on [64,1,28,28]: conv 1->32 k3 p1, ReLU, maxpool 2, conv 32->64 k3 p1, ReLU, maxpool 2, "
                          "flatten, linear 3136->128, ReLU, linear 128->10, cross-entropy", [] {
  namespace nn = tg::nn;
  tg::manual_seed(0);
  auto model = std::make_shared<nn::Sequential<float>>(std::initializer_list<std::shared_ptr<nn::Module<float>>>{
      std::make_shared<nn::Conv2d<float>>(1, 32, 3, nn::ConvLayerOptions<2>{.padding = 1}),
      std::make_shared<nn::ReLU<float>>(),
      std::make_shared<nn::MaxPool2d<float>>(2),
      std::make_shared<nn::Conv2d<float>>(32, 64, 3, nn::ConvLayerOptions<2>{.padding = 1}),
      std::make_shared<nn::ReLU<float>>(),
      std::make_shared<nn::MaxPool2d<float>>(2),
      std::make_shared<nn::Flatten<float>>(),
      std::make_shared<nn::Linear<float>>(3136, 128),
      std::make_shared<nn::ReLU<float>>(),
      std::make_shared<nn::Linear<float>>(128, 10),
  });
  const tg::Var x = tg::randn<float>({64, 1, 28, 28});
  tg::IndexArray labels = xt::empty<tg::Index>(tg::Shape{64});
  for (std::size_t i = 0; i < 64; ++i) labels(i) = static_cast<tg::Index>((i * 7) % 10);
  return bench::module_step(model, x, [labels](auto& m, const tg::Var& in) {
    return nn::cross_entropy((*m)(in), labels);
  });
});
