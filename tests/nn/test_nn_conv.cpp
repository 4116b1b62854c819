// The convolution, pooling and shape layers: PyTorch's shapes, parameter names, defaults and
// initialisation, the printed summary, state dicts, BatchNorm2d's running statistics and modes,
// Dropout2d's channel masks, and gradient checks of each layer in double.
#include "testing.hpp"

#include <cmath>
#include <sstream>

using namespace tg;
using tg::testing::check_error;
using tg::testing::D;
using tg::testing::random_input;

TEST_CASE("Conv2d: PyTorch's parameter shapes, names and init bounds") {
  manual_seed(1);
  nn::Conv2d conv(4, 8, {3, 2}, {.padding = 1, .groups = 2});
  static_assert(std::is_same_v<decltype(conv), nn::Conv2d<float>>);
  const auto named = conv.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(conv.weight.shape() == Shape{8, 2, 3, 2});
  CHECK(conv.bias.shape() == Shape{8});
  // kaiming_uniform_(a = sqrt(5)) and the bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 2 * 3 * 2
  const float bound = 1.0f / std::sqrt(12.0f);
  CHECK(xt::amax(xt::abs(conv.weight.value()))() <= bound);
  CHECK(xt::amax(xt::abs(conv.weight.value()))() > 0.8f * bound);
  CHECK(xt::amax(xt::abs(conv.bias.value()))() <= bound);
  CHECK(conv.num_parameters() == 8 * 2 * 3 * 2 + 8);
  CHECK(conv(randn<float>({2, 4, 5, 6})).shape() == Shape{2, 8, 5, 7});
  nn::Conv2d no_bias(3, 6, 3, {.bias = false});
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.named_parameters().size() == 1);
}

TEST_CASE("Conv1d and ConvTranspose2d: shapes and PyTorch's weight layout") {
  nn::Conv1d conv(3, 6, 5, {.stride = 2, .padding = 2});
  CHECK(conv.weight.shape() == Shape{6, 3, 5});
  CHECK(conv(randn<float>({4, 3, 11})).shape() == Shape{4, 6, 6});
  nn::Conv1d same(3, 6, 4, {.padding = "same"});
  CHECK(same(randn<float>({4, 3, 11})).shape() == Shape{4, 6, 11});
  nn::ConvTranspose2d up(8, 4, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2});
  CHECK(up.weight.shape() == Shape{8, 2, 3, 3});  // [in, out / groups, kH, kW]
  CHECK(up.bias.shape() == Shape{4});
  // fan_in = out / groups * kH kW = 18
  CHECK(xt::amax(xt::abs(up.weight.value()))() <= 1.0f / std::sqrt(18.0f));
  CHECK(up(randn<float>({2, 8, 7, 7})).shape() == Shape{2, 4, 14, 14});
}

TEST_CASE("conv and pooling layers in the printed summary, with parameter counts") {
  nn::Sequential<float> net;
  net.push_back(std::make_shared<nn::Conv2d<float>>(1, 32, 3, nn::ConvLayerOptions<2>{.padding = 1}));
  net.push_back(std::make_shared<nn::BatchNorm2d<float>>(32));
  net.push_back(std::make_shared<nn::MaxPool2d<float>>(2));
  net.push_back(std::make_shared<nn::AvgPool2d<float>>(AvgPool2dOptions{.kernel_size = 3, .stride = 1, .padding = 1}));
  net.push_back(std::make_shared<nn::AdaptiveAvgPool2d<float>>(Size2{3, 3}));
  net.push_back(std::make_shared<nn::AdaptiveMaxPool2d<float>>(Size2{2, 2}));
  net.push_back(std::make_shared<nn::Dropout2d<float>>(0.25));
  net.push_back(std::make_shared<nn::Flatten<float>>());
  net.push_back(std::make_shared<nn::ConvTranspose2d<float>>(2, 4, 2, nn::ConvTransposeLayerOptions<2>{.stride = 2, .bias = false}));
  const std::string s = net.repr();
  INFO(s);
  CHECK(s.find("(0): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))  # weight [32,1,3,3], bias [32]: 320 parameters") !=
        std::string::npos);
  CHECK(s.find("(1): BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)  # weight [32], bias [32]: 64 "
               "parameters; buffers running_mean [32], running_var [32]") != std::string::npos);
  CHECK(s.find("(2): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=false)") != std::string::npos);
  CHECK(s.find("(3): AvgPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), ceil_mode=false, count_include_pad=true)") !=
        std::string::npos);
  CHECK(s.find("(4): AdaptiveAvgPool2d(output_size=(3, 3))") != std::string::npos);
  CHECK(s.find("(5): AdaptiveMaxPool2d(output_size=(2, 2))") != std::string::npos);
  CHECK(s.find("(6): Dropout2d(p=0.25)") != std::string::npos);
  CHECK(s.find("(7): Flatten(start_dim=1, end_dim=-1)") != std::string::npos);
  CHECK(s.find("(8): ConvTranspose2d(2, 4, kernel_size=(2, 2), stride=(2, 2), bias=false)  # weight [2,4,2,2]: 32 parameters") !=
        std::string::npos);
  CHECK(s.find("Total: 416 parameters") != std::string::npos);
  // and the whole stack runs: [2,1,8,8] -> conv [2,32,8,8] -> pool [2,32,4,4] -> ... -> [2,32,2,2] -> flatten [2,128]
  auto y = std::make_shared<nn::Sequential<float>>();
  for (std::size_t i = 0; i < 8; ++i) y->push_back(net[i]);
  CHECK((*y)(randn<float>({2, 1, 8, 8})).shape() == Shape{2, 128});
}

TEST_CASE("a conv net's state dict maps one to one to PyTorch's names and round-trips") {
  manual_seed(2);
  nn::Sequential<float> a;
  a.push_back(std::make_shared<nn::Conv2d<float>>(1, 4, 3));
  a.push_back(std::make_shared<nn::BatchNorm2d<float>>(4));
  const auto dict = a.state_dict();
  for (const char* name : {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"}) CHECK(dict.count(name) == 1);
  nn::Sequential<float> b;
  b.push_back(std::make_shared<nn::Conv2d<float>>(1, 4, 3));
  b.push_back(std::make_shared<nn::BatchNorm2d<float>>(4));
  b.load_state_dict(dict);
  const Var x = randn<float>({2, 1, 5, 5});
  a.eval();
  b.eval();
  CHECK(a(x).value() == b(x).value());
}

TEST_CASE("BatchNorm2d: statistics over N, H and W; PyTorch's running update; eval uses the running ones") {
  nn::BatchNorm2d<double> bn(2, {.momentum = 0.2});
  // channel 0 holds 1..8, channel 1 holds 10 x that, over N = 2 and 2 x 2 planes
  xt::xarray<double> v = xt::empty<double>(Shape{2, 2, 2, 2});
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t i = 0; i < 4; ++i) v.data()[(n * 2 + c) * 4 + i] = (c ? 10.0 : 1.0) * static_cast<double>(n * 4 + i + 1);
  D x(v, true);
  const auto y = bn(x).value();
  // channel 0: mean 4.5, biased variance 5.25, unbiased 6
  CHECK(y(0, 0, 0, 0) == doctest::Approx((1 - 4.5) / std::sqrt(5.25 + 1e-5)));
  CHECK(y(1, 1, 1, 1) == doctest::Approx((80 - 45) / std::sqrt(525 + 1e-5)));
  CHECK(bn.running_mean.value()(0) == doctest::Approx(0.2 * 4.5));
  CHECK(bn.running_var.value()(0) == doctest::Approx(0.8 + 0.2 * 6));
  CHECK(bn.running_var.value()(1) == doctest::Approx(0.8 + 0.2 * 600));
  bn.eval();
  const double rm = bn.running_mean.value()(1), rv = bn.running_var.value()(1);
  CHECK(bn(x).value()(0, 1, 0, 1) == doctest::Approx((20 - rm) / std::sqrt(rv + 1e-5)));
  CHECK(bn.running_mean.value()(1) == rm);
  check_error([&] { bn(random_input({2, 3, 2, 2})); }, {"BatchNorm2d", "[2,3,2,2]", "must be [N, 2, H, W]"});
  check_error([&] { nn::BatchNorm2d<float>(4, {.momentum = 2}); }, {"BatchNorm2d", "momentum must be in [0, 1], got 2"});
}

TEST_CASE("Dropout2d zeroes whole channels and scales the rest; eval is the identity") {
  manual_seed(7);
  nn::Dropout2d<double> drop(0.5);
  D x = ones<double>({8, 16, 3, 3});
  const auto y = drop(x).value();
  std::size_t dropped = 0;
  for (std::size_t n = 0; n < 8; ++n)
    for (std::size_t c = 0; c < 16; ++c) {
      const double first = y(n, c, 0, 0);
      CHECK((first == 0.0 || first == 2.0));
      for (std::size_t i = 0; i < 9; ++i) CHECK(y.data()[(n * 16 + c) * 9 + i] == first);
      dropped += first == 0.0;
    }
  CHECK(dropped > 30);
  CHECK(dropped < 98);
  drop.eval();
  CHECK(drop(x).value() == x.value());
  check_error([] { nn::Dropout2d<float>(1.5); }, {"Dropout2d", "p must be in [0, 1], got 1.5"});
  check_error([&] { drop.train(); drop(ones<double>({3, 4})); }, {"Dropout2d", "[3,4]"});
}

TEST_CASE("conv layers and BatchNorm2d: gradcheck and gradgradcheck through the modules") {
  manual_seed(9);
  auto conv = std::make_shared<nn::Conv2d<double>>(2, 3, 2, nn::ConvLayerOptions<2>{.stride = 1, .padding = 1});
  auto bn = std::make_shared<nn::BatchNorm2d<double>>(3);
  auto up = std::make_shared<nn::ConvTranspose2d<double>>(3, 2, 2, nn::ConvTransposeLayerOptions<2>{.stride = 2});
  D x = random_input({2, 2, 3, 3});
  const auto f = [&](const std::vector<D>& v) {
    // the parameters as inputs: the module's own leaves, perturbed in place by gradcheck
    return (*up)((*bn)((*conv)(v[0])));
  };
  CHECK(gradcheck(f, {x, conv->weight, conv->bias, bn->weight, bn->bias, up->weight, up->bias}));
  CHECK(gradgradcheck(f, {x, conv->weight, bn->weight}));
  // without affine parameters, and in eval mode
  nn::BatchNorm2d<double> plain(2, {.affine = false});
  D z = random_input({3, 2, 2, 3});
  const auto g = [&](const std::vector<D>& v) { return plain(v[0]); };
  CHECK(gradcheck(g, {z}));
  CHECK(gradgradcheck(g, {z}));
  bn->eval();
  CHECK(gradcheck(f, {x, conv->weight, bn->weight, bn->bias}));
}

TEST_CASE("conv layers refuse bad settings, naming the layer") {
  check_error([] { nn::Conv2d<float>(3, 4, 3, {.groups = 2}); }, {"Conv2d", "in_channels 3 and out_channels 4 must be divisible by groups 2"});
  check_error([] { nn::Conv1d<float>(3, 4, 0); }, {"Conv1d", "kernel_size must be positive"});
  check_error([] { nn::ConvTranspose2d<float>(0, 4, 3); }, {"ConvTranspose2d", "must be positive"});
  nn::Conv2d<float> conv(3, 4, 3);
  check_error([&] { conv(randn<float>({1, 2, 5, 5})); }, {"conv2d", "[1,2,5,5]", "[4,3,3,3]"});
}
