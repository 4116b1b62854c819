// Layers: values against their formulas, gradient checks of input and parameter gradients in
// double, train/eval behaviour, and error messages.
#include "testing.hpp"

#include <cmath>

#include <xtensor/xview.hpp>

using namespace tg;
using tg::testing::check_error;
using tg::testing::random_input;
using D = Variable<double>;
using Fn = std::function<D(const std::vector<D>&)>;

// ---- Linear, Sequential, MLP -------------------------------------------------------------------

TEST_CASE("Linear computes x W^T + b") {
  nn::Linear<double> fc(3, 2);
  fc.weight.mutable_value() = xt::xarray<double>{{1, 2, 3}, {4, 5, 6}};
  fc.bias.mutable_value() = xt::xarray<double>{10, 20};
  D x(xt::xarray<double>{{1, 0, -1}, {2, 1, 0}});
  auto y = fc(x);
  CHECK(y.shape() == Shape{2, 2});
  CHECK(y.value()(0, 0) == doctest::Approx(1 - 3 + 10));
  CHECK(y.value()(0, 1) == doctest::Approx(4 - 6 + 20));
  CHECK(y.value()(1, 0) == doctest::Approx(2 + 2 + 10));
  CHECK(y.value()(1, 1) == doctest::Approx(8 + 5 + 20));
  // a vector and a batch of sequences
  CHECK(fc(D({1.0, 0.0, -1.0})).shape() == Shape{2});
  CHECK(fc(zeros<double>({5, 4, 3})).shape() == Shape{5, 4, 2});
  CHECK(fc(zeros<double>({5, 4, 3})).value()(4, 3, 1) == doctest::Approx(20));
}

TEST_CASE("Linear gradients of input, weight and bias; second order too") {
  manual_seed(3);
  nn::Linear<double> fc(4, 3);
  D x = random_input({5, 4});
  Fn f = [&](const std::vector<D>&) { return fc(x); };
  CHECK(gradcheck(f, {x, fc.weight, fc.bias}));
  Fn g = [&](const std::vector<D>&) { return tanh(fc(x)); };
  CHECK(gradgradcheck(g, {x, fc.weight, fc.bias}));
  nn::Linear<double> no_bias(4, 2, {.bias = false});
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.parameters().size() == 1);
  Fn h = [&](const std::vector<D>&) { return no_bias(x); };
  CHECK(gradcheck(h, {x, no_bias.weight}));
}

TEST_CASE("Linear's default init is U(-1/sqrt(in), 1/sqrt(in)) for weight and bias") {
  manual_seed(5);
  nn::Linear<float> fc(400, 300);
  const float bound = 1.0f / 20.0f;
  CHECK(xt::amax(xt::abs(fc.weight.value()))() <= bound);
  CHECK(xt::amax(xt::abs(fc.bias.value()))() <= bound);
  CHECK(xt::amax(fc.weight.value())() > 0.99f * bound);  // it fills the range
  // variance of U(-b, b) is b^2 / 3
  const double var = xt::mean(xt::square(fc.weight.value()))();
  CHECK(var == doctest::Approx(bound * bound / 3).epsilon(0.03));
}

TEST_CASE("Linear errors name the layer and the shapes") {
  nn::Linear<float> fc(784, 10);
  check_error([&] { fc(zeros<float>({64, 783})); }, {"Linear", "[64,783]", "784", "[10,784]"});
  check_error([] { nn::Linear<float>(0, 3); }, {"Linear", "positive"});
}

TEST_CASE("Sequential chains its modules and names them by position") {
  manual_seed(7);
  auto fc1 = std::make_shared<nn::Linear<double>>(3, 4);
  auto fc2 = std::make_shared<nn::Linear<double>>(4, 2);
  nn::Sequential<double> seq{fc1, std::make_shared<nn::Tanh<double>>(), fc2};
  CHECK(seq.size() == 3);
  D x = random_input({2, 3});
  CHECK(xt::allclose(seq(x).value(), (*fc2)(tanh((*fc1)(x))).value()));
  std::vector<std::string> names;
  for (const auto& [name, p] : seq.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  Fn f = [&](const std::vector<D>&) { return seq(x); };
  CHECK(gradcheck(f, {x, fc1->weight, fc1->bias, fc2->weight, fc2->bias}));
  check_error([&] { seq(zeros<double>({2, 5})); }, {"Sequential", "module (0) Linear", "[2,5]"});
  check_error([&] { seq[3]; }, {"Sequential", "index 3", "3 modules"});
}

TEST_CASE("MLP builds Linear, activation and dropout layers from sizes") {
  nn::MLP<float> mlp({8, 16, 16, 3}, {.activation = nn::Activation::gelu, .dropout = 0.25});
  // Linear, GELU, Dropout, Linear, GELU, Dropout, Linear
  REQUIRE(mlp.size() == 7);
  CHECK(mlp[1]->type_name() == "GELU");
  CHECK(mlp[2]->type_name() == "Dropout");
  CHECK(std::dynamic_pointer_cast<nn::Dropout<float>>(mlp[2])->p() == 0.25);
  CHECK(mlp[6]->type_name() == "Linear");
  CHECK(mlp.num_parameters() == 8 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3);
  CHECK(mlp(zeros<float>({5, 8})).shape() == Shape{5, 3});
  nn::MLP<float> plain({2, 3}, {.activation = nn::Activation::sigmoid, .bias = false, .activate_output = true});
  REQUIRE(plain.size() == 2);
  CHECK(plain[1]->type_name() == "Sigmoid");
  CHECK(plain.num_parameters() == 6);
  check_error([] { nn::MLP<float>({3}); }, {"MLP", "at least"});
  check_error([] { nn::MLP<float>({3, 2}, {.dropout = 1.0}); }, {"MLP", "dropout"});
}

TEST_CASE("MLP gradients through every layer") {
  manual_seed(11);
  nn::MLP<double> mlp({3, 5, 2}, {.activation = nn::Activation::tanh});
  D x = random_input({4, 3});
  std::vector<D> inputs{x};
  for (auto& p : mlp.parameters()) inputs.push_back(p);
  Fn f = [&](const std::vector<D>&) { return mlp(x); };
  CHECK(gradcheck(f, inputs));
}

// ---- activations -------------------------------------------------------------------------------

namespace {
/// Checks module(x) against f elementwise, then its first and second derivatives.
template <class M, class F>
void check_activation(M& module, F f, bool second_order = true) {
  manual_seed(13);
  D x = random_input({3, 4});
  // keep clear of the kink at 0 where finite differences straddle it
  for (auto& v : x.mutable_value())
    if (std::abs(v) < 0.05) v += 0.2;
  auto y = module(x);
  for (std::size_t i = 0; i < x.numel(); ++i) CHECK(y.value().data()[i] == doctest::Approx(f(x.value().data()[i])));
  Fn fn = [&](const std::vector<D>& in) { return module(in[0]); };
  CHECK(gradcheck(fn, {x}));
  if (second_order) CHECK(gradgradcheck(fn, {x}));
}
}  // namespace

TEST_CASE("activation modules: values, gradients, second derivatives") {
  nn::ReLU<double> relu_m;
  check_activation(relu_m, [](double v) { return v > 0 ? v : 0; });
  nn::LeakyReLU<double> leaky(0.2);
  check_activation(leaky, [](double v) { return v > 0 ? v : 0.2 * v; });
  CHECK(leaky.extra_repr() == "negative_slope=0.2");
  nn::Tanh<double> tanh_m;
  check_activation(tanh_m, [](double v) { return std::tanh(v); });
  nn::Sigmoid<double> sigmoid_m;
  check_activation(sigmoid_m, [](double v) { return 1 / (1 + std::exp(-v)); });
  nn::ELU<double> elu_m(0.5);
  check_activation(elu_m, [](double v) { return v > 0 ? v : 0.5 * (std::exp(v) - 1); });
  nn::SELU<double> selu_m;
  const double alpha = 1.6732632423543772, scale = 1.0507009873554805;
  check_activation(selu_m, [&](double v) { return scale * (v > 0 ? v : alpha * (std::exp(v) - 1)); });
  nn::GELU<double> gelu_m;
  check_activation(gelu_m, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
  nn::GELU<double> gelu_tanh_m(nn::GeluApproximation::tanh);
  check_activation(gelu_tanh_m, [](double v) {
    return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  });
  nn::Softplus<double> softplus_m(2.0);
  check_activation(softplus_m, [](double v) { return std::log1p(std::exp(2 * v)) / 2; });
  check_error([] { nn::Softplus<float>(0); }, {"Softplus", "beta"});
}

TEST_CASE("GELU's tanh approximation stays close to the exact x Phi(x)") {
  D x = arange<double>(-6, 6, 0.01);
  auto y = nn::gelu(x, nn::GeluApproximation::tanh);
  double worst = 0;
  for (std::size_t i = 0; i < x.numel(); ++i) {
    const double v = x.value()(i);
    worst = std::max(worst, std::abs(y.value()(i) - 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))));
  }
  CHECK(worst < 5e-4);
}

TEST_CASE("make_activation covers every name") {
  using A = nn::Activation;
  for (auto a : {A::relu, A::leaky_relu, A::tanh, A::sigmoid, A::elu, A::selu, A::gelu, A::softplus})
    CHECK(nn::make_activation<float>(a) != nullptr);
  CHECK(nn::make_activation<float>(A::identity) == nullptr);
}

// ---- Dropout -----------------------------------------------------------------------------------

TEST_CASE("Dropout zeroes a fraction p and scales the rest by 1/(1-p); eval is the identity") {
  manual_seed(17);
  nn::Dropout<float> drop(0.25);
  Var x = ones<float>({200, 100});
  auto y = drop(x);
  std::size_t zeros_seen = 0;
  for (auto v : y.value()) {
    if (v == 0) ++zeros_seen;
    else CHECK(v == doctest::Approx(1 / 0.75));
  }
  CHECK(static_cast<double>(zeros_seen) / 20000 == doctest::Approx(0.25).epsilon(0.05));
  CHECK(xt::mean(y.value())() == doctest::Approx(1).epsilon(0.02));  // expectation kept
  drop.eval();
  // eval and p = 0 are the identity, but a new node: naming the result leaves x's name alone
  const Var kept = drop(x);
  CHECK_FALSE(kept.same_node(x));
  CHECK(kept.value() == x.value());
  CHECK_FALSE(nn::Dropout<float>(0.0)(x).same_node(x));
  Var xg = ones<float>({3}, true);
  xg.set_name("x");
  Var yg = nn::dropout(xg, 0.0, true);
  yg.set_name("y");
  CHECK(xg.name() == "x");
  const auto g = tg::grad({sum(yg * Var({1.0f, 2.0f, 3.0f}))}, {xg, yg});
  CHECK(g[0].value() == xt::xarray<float>{1, 2, 3});
  CHECK(g[1].value() == xt::xarray<float>{1, 2, 3});
  CHECK(xt::amax(nn::Dropout<float>(1.0)(x).value())() == 0);
  check_error([] { nn::Dropout<float>(1.5); }, {"Dropout", "[0, 1]", "1.5"});
}

TEST_CASE("Dropout with a fixed seed is reproducible and gradient-checked") {
  nn::Dropout<double> drop(0.4);
  manual_seed(42);
  auto a = drop(ones<double>({10}));
  manual_seed(42);
  auto b = drop(ones<double>({10}));
  CHECK(a.value() == b.value());
  D x = random_input({4, 5});
  Fn f = [&](const std::vector<D>& in) {
    manual_seed(42);  // the same mask at every evaluation
    return drop(in[0]);
  };
  CHECK(gradcheck(f, {x}));
  CHECK(gradgradcheck(f, {x}));
  // the gradient is the mask
  manual_seed(42);
  auto y = drop(x);
  sum(y).backward();
  CHECK(xt::allclose(x.grad().value(), xt::xarray<double>(y.value() / x.value())));
}

// ---- LayerNorm ---------------------------------------------------------------------------------

TEST_CASE("LayerNorm normalises the trailing axes to mean 0 and variance 1") {
  manual_seed(19);
  nn::LayerNorm<double> ln(6);
  D x = random_input({4, 6}, -3, 5);
  auto y = ln(x).value();
  for (std::size_t r = 0; r < 4; ++r) {
    auto row = xt::view(y, r);
    CHECK(xt::mean(row)() == doctest::Approx(0).epsilon(1e-12));
    CHECK(xt::mean(xt::square(row))() == doctest::Approx(1).epsilon(1e-4));  // eps in the denominator
  }
  nn::LayerNorm<double> ln2(Shape{2, 3});
  CHECK(ln2(random_input({5, 2, 3})).shape() == Shape{5, 2, 3});
  CHECK(ln2.weight.shape() == Shape{2, 3});
  check_error([&] { ln2(random_input({5, 3, 2})); }, {"LayerNorm", "[5,3,2]", "[2,3]"});
  nn::LayerNorm<double> plain(6, {.elementwise_affine = false});
  CHECK(plain.parameters().empty());
}

TEST_CASE("LayerNorm gradients of input, weight and bias; second order too") {
  manual_seed(23);
  nn::LayerNorm<double> ln(Shape{2, 3});
  ln.weight.mutable_value() = random_input({2, 3}).value();
  ln.bias.mutable_value() = random_input({2, 3}).value();
  D x = random_input({3, 2, 3});
  Fn f = [&](const std::vector<D>&) { return ln(x); };
  CHECK(gradcheck(f, {x, ln.weight, ln.bias}));
  CHECK(gradgradcheck(f, {x, ln.weight, ln.bias}));
}

TEST_CASE("LayerNorm's fused op agrees with the formula written with ops (values and gradients, rows split over threads)") {
  manual_seed(29);
  using F = Variable<float>;
  nn::LayerNorm<float> ln(256);
  ln.weight.mutable_value() = xt::xarray<float>(random_input({256}, 0.5, 1.5).value());
  ln.bias.mutable_value() = xt::xarray<float>(random_input({256}).value());
  F x(xt::xarray<float>(random_input({4, 150, 256}, -2, 6).value()), true);  // 600 rows: above the threading threshold
  F g(xt::xarray<float>(random_input({4, 150, 256}).value()));
  F y = ln(x);
  y.backward(g);
  const xt::xarray<float> dx = x.grad().value(), dw = ln.weight.grad().value(), db = ln.bias.grad().value();
  x.zero_grad();
  ln.zero_grad();
  F mu = mean(x, {-1}, true);
  F centred = x - mu;
  F reference = centred / sqrt(mean(centred * centred, {-1}, true) + 1e-5f) * ln.weight + ln.bias;
  reference.backward(g);
  CHECK(xt::allclose(y.value(), reference.value(), 1e-4, 1e-4));
  CHECK(xt::allclose(dx, x.grad().value(), 1e-3, 1e-4));
  CHECK(xt::allclose(dw, ln.weight.grad().value(), 1e-3, 1e-3));
  CHECK(xt::allclose(db, ln.bias.grad().value(), 1e-3, 1e-3));
}

// ---- BatchNorm1d -------------------------------------------------------------------------------

TEST_CASE("BatchNorm1d normalises with batch statistics and updates running ones like PyTorch") {
  nn::BatchNorm1d<double> bn(2);
  D x(xt::xarray<double>{{1, 10}, {2, 20}, {3, 30}, {6, 60}});
  auto y = bn(x).value();
  // feature 0: mean 3, biased var (4 + 1 + 0 + 9) / 4 = 3.5, unbiased 14 / 3
  CHECK(y(0, 0) == doctest::Approx((1 - 3) / std::sqrt(3.5 + 1e-5)));
  CHECK(y(3, 1) == doctest::Approx((60 - 30) / std::sqrt(350 + 1e-5)));
  CHECK(bn.running_mean.value()(0) == doctest::Approx(0.9 * 0 + 0.1 * 3));
  CHECK(bn.running_var.value()(0) == doctest::Approx(0.9 * 1 + 0.1 * 14.0 / 3));
  CHECK(bn.running_mean.value()(1) == doctest::Approx(0.1 * 30));
  CHECK(bn.running_var.value()(1) == doctest::Approx(0.9 + 0.1 * 1400.0 / 3));
  // eval uses the running statistics and leaves them alone
  bn.eval();
  const double rm = bn.running_mean.value()(0), rv = bn.running_var.value()(0);
  auto z = bn(x).value();
  CHECK(z(0, 0) == doctest::Approx((1 - rm) / std::sqrt(rv + 1e-5)));
  CHECK(bn.running_mean.value()(0) == rm);
  // the running statistics are buffers, saved with the parameters
  auto dict = bn.state_dict();
  CHECK(dict.count("running_mean") == 1);
  CHECK(dict.count("running_var") == 1);
  CHECK(dict.count("weight") == 1);
}

TEST_CASE("BatchNorm1d over [N, C, L] takes statistics over N and L") {
  manual_seed(29);
  nn::BatchNorm1d<double> bn(3, {.momentum = 0.5});
  D x = random_input({4, 3, 5}, -1, 3);
  auto y = bn(x).value();
  for (std::size_t c = 0; c < 3; ++c) {
    auto channel = xt::view(y, xt::all(), c, xt::all());
    CHECK(xt::mean(channel)() == doctest::Approx(0).epsilon(1e-12));
    auto xc = xt::view(x.value(), xt::all(), c, xt::all());
    CHECK(bn.running_mean.value()(c) == doctest::Approx(0.5 * xt::mean(xc)()));
  }
  bn.eval();
  CHECK(bn(x).shape() == Shape{4, 3, 5});
}

TEST_CASE("BatchNorm1d gradients in training and in eval") {
  manual_seed(31);
  nn::BatchNorm1d<double> bn(3);
  bn.weight.mutable_value() = random_input({3}).value();
  bn.bias.mutable_value() = random_input({3}).value();
  D x = random_input({5, 3});
  Fn f = [&](const std::vector<D>&) { return bn(x); };
  CHECK(gradcheck(f, {x, bn.weight, bn.bias}));
  CHECK(gradgradcheck(f, {x, bn.weight, bn.bias}));
  D x3 = random_input({2, 3, 4});
  Fn f3 = [&](const std::vector<D>&) { return bn(x3); };
  CHECK(gradcheck(f3, {x3, bn.weight, bn.bias}));
  bn.eval();
  CHECK(gradcheck(f, {x, bn.weight, bn.bias}));
  CHECK(gradcheck(f3, {x3, bn.weight, bn.bias}));
}

TEST_CASE("BatchNorm1d errors and options") {
  nn::BatchNorm1d<float> bn(4);
  check_error([&] { bn(zeros<float>({8, 5})); }, {"BatchNorm1d", "[8,5]", "[N, 4]"});
  check_error([&] { bn(zeros<float>({1, 4})); }, {"BatchNorm1d", "more than one value", "[1,4]"});
  check_error([] { nn::BatchNorm1d<float>(4, {.momentum = 2}); }, {"BatchNorm1d", "momentum"});
  nn::BatchNorm1d<float> stateless(4, {.affine = false, .track_running_stats = false});
  CHECK(stateless.parameters().empty());
  CHECK(stateless.buffers().empty());
  stateless.eval();  // without running statistics, eval still uses the batch's
  auto y = stateless(Var(xt::xarray<float>{{1, 2, 3, 4}, {3, 4, 5, 6}}));
  CHECK(y.value()(0, 0) == doctest::Approx(-1).epsilon(1e-4));
}

// ---- Embedding ---------------------------------------------------------------------------------

TEST_CASE("Embedding looks up rows for indices of any shape") {
  nn::Embedding<double> emb(5, 3);
  emb.weight.mutable_value() = xt::xarray<double>{{0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {3, 3, 3}, {4, 4, 4}};
  IndexArray idx = {{4, 1}, {1, 0}};
  auto y = emb(idx);
  CHECK(y.shape() == Shape{2, 2, 3});
  CHECK(y.value()(0, 0, 2) == 4);
  CHECK(y.value()(1, 0, 1) == 1);
  // repeated indices accumulate their gradients
  sum(y).backward();
  CHECK(emb.weight.grad().value()(1, 0) == 2);
  CHECK(emb.weight.grad().value()(2, 0) == 0);
  // indices held in a Variable, so an Embedding can start a Sequential
  CHECK(emb(D({3.0, 2.0})).value()(0, 0) == 3);
  check_error([&] { emb(IndexArray{5}); }, {"Embedding", "index 5", "5 embeddings"});
  check_error([&] { emb(D({1.5})); }, {"Embedding", "whole number"});
  check_error([&] { emb(D({-1.0})); }, {"Embedding", "out of range"});
}

TEST_CASE("Embedding weight gradient and init") {
  manual_seed(37);
  nn::Embedding<double> emb(6, 4);
  IndexArray idx = {0, 3, 3, 5};
  Fn f = [&](const std::vector<D>&) { return emb(idx) * emb(idx); };
  CHECK(gradcheck(f, {emb.weight}));
  CHECK(gradgradcheck(f, {emb.weight}));
  nn::Embedding<float> big(300, 200);
  CHECK(xt::mean(big.weight.value())() == doctest::Approx(0).epsilon(0.02));
  CHECK(xt::mean(xt::square(big.weight.value()))() == doctest::Approx(1).epsilon(0.03));
}
