// Initialisers: fans, gains, bounds and the variances they aim for.
#include "testing.hpp"

#include <cmath>

using namespace tg;
using tg::testing::check_error;
namespace init = tg::nn::init;

namespace {
double mean_of(const Var& w) { return xt::mean(w.value())(); }
double var_of(const Var& w) {
  const double m = mean_of(w);
  return xt::mean(xt::square(w.value() - static_cast<float>(m)))();
}
double max_abs(const Var& w) { return xt::amax(xt::abs(w.value()))(); }
}  // namespace

TEST_CASE("gains and fans") {
  CHECK(init::calculate_gain(init::Nonlinearity::linear) == 1);
  CHECK(init::calculate_gain(init::Nonlinearity::sigmoid) == 1);
  CHECK(init::calculate_gain(init::Nonlinearity::tanh) == doctest::Approx(5.0 / 3));
  CHECK(init::calculate_gain(init::Nonlinearity::relu) == doctest::Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain(init::Nonlinearity::leaky_relu, 0.2) == doctest::Approx(std::sqrt(2 / 1.04)));
  CHECK(init::calculate_gain(init::Nonlinearity::selu) == 0.75);
  auto f = init::compute_fans({256, 784});
  CHECK(f.fan_in == 784);
  CHECK(f.fan_out == 256);
  auto conv = init::compute_fans({32, 16, 3, 3});  // [out, in, kh, kw]
  CHECK(conv.fan_in == 16 * 9);
  CHECK(conv.fan_out == 32 * 9);
  check_error([] { init::compute_fans({10}); }, {"init", "2 dimensions", "[10]"});
  Var bias = zeros<float>({10});
  check_error([&] { init::xavier_uniform_(bias); }, {"init", "[10]"});
}

TEST_CASE("Xavier/Glorot uniform and normal") {
  manual_seed(1);
  Var w = zeros<float>({300, 500});
  const Var same = init::xavier_uniform_(w);
  CHECK(same.same_node(w));
  const double bound = std::sqrt(6.0 / 800);
  CHECK(max_abs(w) <= bound);
  CHECK(max_abs(w) > 0.99 * bound);
  CHECK(var_of(w) == doctest::Approx(2.0 / 800).epsilon(0.03));
  init::xavier_uniform_(w, 2.0);
  CHECK(max_abs(w) <= 2 * bound);
  CHECK(max_abs(w) > 1.98 * bound);
  init::xavier_normal_(w);
  CHECK(mean_of(w) == doctest::Approx(0).epsilon(0.001));
  CHECK(var_of(w) == doctest::Approx(2.0 / 800).epsilon(0.03));
}

TEST_CASE("Kaiming/He uniform and normal, by fan_in or fan_out, with the nonlinearity's gain") {
  manual_seed(2);
  Var w = zeros<float>({300, 500});
  init::kaiming_normal_(w, {.nonlinearity = init::Nonlinearity::relu});
  CHECK(var_of(w) == doctest::Approx(2.0 / 500).epsilon(0.03));
  init::kaiming_normal_(w, {.mode = init::FanMode::fan_out, .nonlinearity = init::Nonlinearity::relu});
  CHECK(var_of(w) == doctest::Approx(2.0 / 300).epsilon(0.03));
  init::kaiming_normal_(w, {.nonlinearity = init::Nonlinearity::tanh});
  CHECK(var_of(w) == doctest::Approx(25.0 / 9 / 500).epsilon(0.03));
  init::kaiming_uniform_(w);  // defaults: a = 0, fan_in, leaky_relu -> the ReLU gain
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 500);
  CHECK(max_abs(w) <= bound);
  CHECK(max_abs(w) > 0.99 * bound);
  CHECK(var_of(w) == doctest::Approx(2.0 / 500).epsilon(0.03));
  init::kaiming_uniform_(w, {.a = 1.0, .mode = init::FanMode::fan_out});  // gain sqrt(2 / 2) = 1
  CHECK(max_abs(w) <= std::sqrt(3.0 / 300));
  CHECK(var_of(w) == doctest::Approx(1.0 / 300).epsilon(0.03));
}

TEST_CASE("LeCun normal, zeros, ones, constant, uniform, normal") {
  manual_seed(3);
  Var w = zeros<float>({300, 500});
  init::lecun_normal_(w);
  CHECK(var_of(w) == doctest::Approx(1.0 / 500).epsilon(0.03));
  init::ones_(w);
  CHECK(xt::amin(w.value())() == 1);
  init::constant_(w, 0.5);
  CHECK(xt::amax(w.value())() == 0.5f);
  init::zeros_(w);
  CHECK(max_abs(w) == 0);
  init::uniform_(w, 2, 3);
  CHECK(xt::amin(w.value())() >= 2);
  CHECK(xt::amax(w.value())() <= 3);
  CHECK(mean_of(w) == doctest::Approx(2.5).epsilon(0.002));
  init::normal_(w, 1, 0.1);
  CHECK(mean_of(w) == doctest::Approx(1).epsilon(0.002));
  CHECK(var_of(w) == doctest::Approx(0.01).epsilon(0.03));
  check_error([&] { init::uniform_(w, 3, 2); }, {"uniform_", "greater"});
  check_error([&] { init::normal_(w, 0, -1); }, {"normal_", "negative"});
}

TEST_CASE("initialisers are reproducible with manual_seed and work in double") {
  Variable<double> a = zeros<double>({4, 6}), b = zeros<double>({4, 6});
  manual_seed(9);
  init::kaiming_uniform_(a);
  manual_seed(9);
  init::kaiming_uniform_(b);
  CHECK(a.value() == b.value());
  init::xavier_normal_(b);
  CHECK(a.value() != b.value());
}

TEST_CASE("initialisers edit parameters in place, leaving the module's nodes") {
  nn::Linear<float> fc(5, 4);
  const Var w = fc.weight;
  init::zeros_(fc.weight);
  init::constant_(fc.bias, 0.1);
  CHECK(fc.weight.same_node(w));
  CHECK(fc.named_parameters()[0].second.value()(3, 4) == 0);
  CHECK(fc.named_parameters()[1].second.value()(3) == 0.1f);
}
