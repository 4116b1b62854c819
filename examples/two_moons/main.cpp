// Two interleaving half-moons: a 2-layer network written directly with Variables.
// Weights are leaves; the loss is built by ordinary C++; backward() gives the gradients;
// a plain SGD loop updates the weights. No nn:: or optim:: here, on purpose.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include <tapegrad/tapegrad.hpp>

namespace {

struct Moons {
  tg::Var x;         // [n, 2]
  tg::Var y;         // [n, 1], 0 or 1
};

/// n points on two half circles, shifted to interleave, with Gaussian noise.
Moons make_moons(std::size_t n, float noise, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> angle(0.0f, 3.14159265f);
  std::normal_distribution<float> jitter(0.0f, noise);
  xt::xarray<float> x = xt::empty<float>(tg::Shape{n, 2});
  xt::xarray<float> y = xt::empty<float>(tg::Shape{n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    const bool upper = i % 2 == 0;
    const float t = angle(rng);
    x(i, 0) = (upper ? std::cos(t) : 1.0f - std::cos(t)) + jitter(rng);
    x(i, 1) = (upper ? std::sin(t) : 0.5f - std::sin(t)) + jitter(rng);
    y(i, 0) = upper ? 0.0f : 1.0f;
  }
  return {tg::Var(std::move(x)), tg::Var(std::move(y))};
}

float accuracy(const tg::Var& logits, const tg::Var& y) {
  const auto& z = logits.value();
  const auto& t = y.value();
  std::size_t correct = 0;
  for (std::size_t i = 0; i < z.size(); ++i) correct += (z.data()[i] > 0) == (t.data()[i] > 0.5f);
  return static_cast<float>(correct) / static_cast<float>(z.size());
}

}  // namespace

int main(int argc, char** argv) {
  int epochs = 2000;
  float lr = 0.5f;
  std::size_t hidden = 16;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::puts("two_moons: a 2-16-1 tanh network on two interleaving half-moons, trained with plain SGD.\n"
                "  --epochs N   full-batch gradient steps (default 2000)\n"
                "  --lr X       learning rate (default 0.5)\n"
                "  --hidden N   hidden units (default 16)");
      return 0;
    }
    if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value (see --help)\n", a.c_str()); return 2; }
    if (a == "--epochs") epochs = std::atoi(argv[++i]);
    else if (a == "--lr") lr = std::strtof(argv[++i], nullptr);
    else if (a == "--hidden") hidden = static_cast<std::size_t>(std::atol(argv[++i]));
    else { std::fprintf(stderr, "unknown flag %s (see --help)\n", a.c_str()); return 2; }
  }

  tg::manual_seed(0);
  const Moons train = make_moons(400, 0.1f, 1);
  const Moons test = make_moons(400, 0.1f, 2);

  // Parameters are leaves that require grad; scaled so tanh starts in its linear range.
  tg::Var w1(xt::xarray<float>(tg::randn({2, hidden}).value() * 0.8f), true);
  tg::Var b1 = tg::zeros({hidden}, true);
  tg::Var w2(xt::xarray<float>(tg::randn({hidden, 1}).value() / std::sqrt(float(hidden))), true);
  tg::Var b2 = tg::zeros({1}, true);
  auto forward = [&](const tg::Var& x) { return tg::matmul(tg::tanh(tg::matmul(x, w1) + b1), w2) + b2; };

  std::printf("two_moons: 2-%zu-1 tanh network, %zu training points, SGD lr %.2f\n", hidden, train.x.shape()[0], lr);
  for (int epoch = 0; epoch <= epochs; ++epoch) {
    tg::Var logits = forward(train.x);
    // binary cross-entropy on logits z: softplus(z) - y z  (stable for large |z|)
    tg::Var loss = tg::mean(tg::softplus(logits) - train.y * logits);
    loss.backward();
    {
      tg::NoGradGuard no_grad;  // the update itself is not part of any graph
      for (tg::Var* p : {&w1, &b1, &w2, &b2}) {
        p->mutable_value() -= lr * p->grad().value();
        p->zero_grad();
      }
    }
    if (epoch % (epochs / 10 > 0 ? epochs / 10 : 1) == 0)
      std::printf("epoch %5d  loss %.4f  train accuracy %.3f\n", epoch, loss.item(), accuracy(logits, train.y));
  }
  tg::NoGradGuard no_grad;
  const float test_accuracy = accuracy(forward(test.x), test.y);
  std::printf("test accuracy %.3f on %zu fresh points\n", test_accuracy, test.x.shape()[0]);
  return test_accuracy > 0.9f ? 0 : 1;
}
