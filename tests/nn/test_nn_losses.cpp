// Losses: values against plain loops, reductions, first and second derivatives, errors.
#include "testing.hpp"

#include <cmath>

using namespace tg;
using tg::testing::check_error;
using tg::testing::random_input;
using D = Variable<double>;
using Fn = std::function<D(const std::vector<D>&)>;
using nn::Reduction;

namespace {
double at(const D& v, std::size_t i) { return v.value().data()[i]; }
}  // namespace

TEST_CASE("mse_loss and l1_loss with every reduction") {
  D x({1.0, 2.0, -3.0}), y({0.0, 4.0, -3.5});
  CHECK(nn::mse_loss(x, y).item() == doctest::Approx((1 + 4 + 0.25) / 3));
  CHECK(nn::mse_loss(x, y, {.reduction = Reduction::sum}).item() == doctest::Approx(5.25));
  auto none = nn::mse_loss(x, y, {.reduction = Reduction::none});
  CHECK(none.shape() == Shape{3});
  CHECK(at(none, 1) == doctest::Approx(4));
  CHECK(nn::l1_loss(x, y).item() == doctest::Approx((1 + 2 + 0.5) / 3));
  CHECK(nn::l1_loss(x, y, {.reduction = Reduction::sum}).item() == doctest::Approx(3.5));
  check_error([&] { nn::mse_loss(x, D({1.0})); }, {"mse_loss", "[3]", "[1]", "same shape"});
  check_error([&] { nn::l1_loss(x, D({{1.0, 2.0, 3.0}})); }, {"l1_loss", "[3]", "[1,3]"});
}

TEST_CASE("smooth_l1_loss and huber_loss: quadratic inside, linear outside") {
  D x({0.5, -2.0, 0.0, 3.0}), y({0.0, 0.0, 0.0, 0.0});
  auto s = nn::smooth_l1_loss(x, y, {.reduction = Reduction::none, .beta = 1.0});
  CHECK(at(s, 0) == doctest::Approx(0.5 * 0.25));
  CHECK(at(s, 1) == doctest::Approx(2 - 0.5));
  CHECK(at(s, 2) == 0);
  auto s2 = nn::smooth_l1_loss(x, y, {.reduction = Reduction::none, .beta = 4.0});
  CHECK(at(s2, 3) == doctest::Approx(0.5 * 9 / 4));
  auto l1 = nn::smooth_l1_loss(x, y, {.reduction = Reduction::none, .beta = 0.0});
  CHECK(at(l1, 1) == 2);
  auto h = nn::huber_loss(x, y, {.reduction = Reduction::none, .delta = 2.0});
  CHECK(at(h, 1) == doctest::Approx(0.5 * 4));          // |d| = delta: still quadratic
  CHECK(at(h, 3) == doctest::Approx(2 * (3 - 1)));      // delta (|d| - delta / 2)
  // huber = delta * smooth_l1 with beta = delta
  auto sl = nn::smooth_l1_loss(x, y, {.reduction = Reduction::sum, .beta = 2.0});
  CHECK(nn::huber_loss(x, y, {.reduction = Reduction::sum, .delta = 2.0}).item() == doctest::Approx(2 * sl.item()));
  check_error([&] { nn::smooth_l1_loss(x, y, {.beta = -1}); }, {"smooth_l1_loss", "beta"});
  check_error([&] { nn::huber_loss(x, y, {.delta = 0}); }, {"huber_loss", "delta"});
}

TEST_CASE("regression losses: gradients and second derivatives") {
  manual_seed(1);
  D x = random_input({3, 4}), y = random_input({3, 4});
  for (auto r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    Fn mse = [r](const std::vector<D>& in) { return nn::mse_loss(in[0], in[1], {.reduction = r}); };
    CHECK(gradcheck(mse, {x, y}));
    CHECK(gradgradcheck(mse, {x, y}));
    Fn l1 = [r](const std::vector<D>& in) { return nn::l1_loss(in[0], in[1], {.reduction = r}); };
    CHECK(gradcheck(l1, {x, y}));
    Fn smooth = [r](const std::vector<D>& in) { return nn::smooth_l1_loss(in[0], in[1], {.reduction = r, .beta = 0.7}); };
    CHECK(gradcheck(smooth, {x, y}));
    CHECK(gradgradcheck(smooth, {x, y}));
    Fn huber = [r](const std::vector<D>& in) { return nn::huber_loss(in[0], in[1], {.reduction = r, .delta = 0.7}); };
    CHECK(gradcheck(huber, {x, y}));
    CHECK(gradgradcheck(huber, {x, y}));
  }
}

TEST_CASE("binary_cross_entropy_with_logits is stable and matches the formula") {
  D x({0.3, -1.2, 40.0, -40.0}), y({1.0, 0.0, 0.0, 1.0});
  auto l = nn::binary_cross_entropy_with_logits(x, y, {.reduction = Reduction::none});
  auto bce = [](double z, double t) {
    const double p = 1 / (1 + std::exp(-z));
    return -(t * std::log(p) + (1 - t) * std::log(1 - p));
  };
  CHECK(at(l, 0) == doctest::Approx(bce(0.3, 1)));
  CHECK(at(l, 1) == doctest::Approx(bce(-1.2, 0)));
  CHECK(at(l, 2) == doctest::Approx(40));  // log(1 - sigmoid(40)) would be -inf in plain form
  CHECK(at(l, 3) == doctest::Approx(40));
  manual_seed(2);
  D logits = random_input({4, 3}, -4, 4);
  D targets = random_input({4, 3}, 0, 1);
  Fn f = [](const std::vector<D>& in) { return nn::binary_cross_entropy_with_logits(in[0], in[1]); };
  CHECK(gradcheck(f, {logits, targets}));
  CHECK(gradgradcheck(f, {logits, targets}));
  check_error([&] { nn::binary_cross_entropy_with_logits(logits, D({1.0})); },
              {"binary_cross_entropy_with_logits", "[4,3]", "[1]"});
}

TEST_CASE("cross_entropy: -log softmax at the target, with label smoothing and reductions") {
  D logits({{1.0, 2.0, 0.5}, {-1.0, 0.0, 3.0}});
  IndexArray targets = {1, 0};
  auto log_p = [&](std::size_t n, std::size_t c) {
    double s = 0;
    for (std::size_t k = 0; k < 3; ++k) s += std::exp(logits.value()(n, k));
    return logits.value()(n, c) - std::log(s);
  };
  const double l0 = -log_p(0, 1), l1 = -log_p(1, 0);
  auto none = nn::cross_entropy(logits, targets, {.reduction = Reduction::none});
  CHECK(none.shape() == Shape{2});
  CHECK(at(none, 0) == doctest::Approx(l0));
  CHECK(at(none, 1) == doctest::Approx(l1));
  CHECK(nn::cross_entropy(logits, targets).item() == doctest::Approx((l0 + l1) / 2));
  CHECK(nn::cross_entropy(logits, targets, {.reduction = Reduction::sum}).item() == doctest::Approx(l0 + l1));
  // smoothing s: the target distribution is (1 - s) one_hot + s / C
  const double s = 0.1;
  double expected = 0;
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 3; ++c) expected -= ((c == static_cast<std::size_t>(targets(n)) ? 1 - s : 0) + s / 3) * log_p(n, c);
  CHECK(nn::cross_entropy(logits, targets, {.label_smoothing = s}).item() == doctest::Approx(expected / 2));
  // nll_loss of log_softmax is cross_entropy
  CHECK(nn::nll_loss(log_softmax(logits, -1), targets).item() == doctest::Approx((l0 + l1) / 2));
  // large logits stay finite
  D big({{1000.0, -1000.0}});
  CHECK(nn::cross_entropy(big, IndexArray{1}).item() == doctest::Approx(2000));
}

TEST_CASE("cross_entropy and nll_loss: class axis last, any leading shape") {
  manual_seed(3);
  D logits = random_input({2, 3, 4});
  IndexArray targets = {{0, 3, 1}, {2, 2, 0}};
  auto none = nn::cross_entropy(logits, targets, {.reduction = Reduction::none});
  CHECK(none.shape() == Shape{2, 3});
  auto flat = nn::cross_entropy(reshape(logits, {6, 4}), IndexArray{0, 3, 1, 2, 2, 0}, {.reduction = Reduction::none});
  CHECK(xt::allclose(none.value(), xt::xarray<double>(xt::reshape_view(flat.value(), {2, 3}))));
  // one sample: logits [C], target a 0-d index
  D one({0.5, 1.5});
  IndexArray t = xt::xarray<Index>(1);
  CHECK(nn::cross_entropy(one, t).dim() == 0);
}

TEST_CASE("cross_entropy and nll_loss: gradients and second derivatives") {
  manual_seed(4);
  D logits = random_input({4, 5});
  IndexArray targets = {4, 0, 2, 2};
  for (double s : {0.0, 0.2}) {
    for (auto r : {Reduction::none, Reduction::mean, Reduction::sum}) {
      Fn f = [&](const std::vector<D>& in) { return nn::cross_entropy(in[0], targets, {.reduction = r, .label_smoothing = s}); };
      CHECK(gradcheck(f, {logits}));
      CHECK(gradgradcheck(f, {logits}));
    }
  }
  Fn nll = [&](const std::vector<D>& in) { return nn::nll_loss(in[0], targets, {.reduction = Reduction::sum}); };
  CHECK(gradcheck(nll, {logits}));
  // the gradient of the mean loss is (softmax - one_hot) / N
  D x = random_input({4, 5});
  nn::cross_entropy(x, targets).backward();
  const xt::xarray<double> expected = (softmax(x, -1).value() - one_hot<double>(targets, 5).value()) / 4.0;
  CHECK(xt::allclose(x.grad().value(), expected));
}

TEST_CASE("cross_entropy and nll_loss: class weights and ignore_index, as PyTorch's weighted mean") {
  D logits({{1.0, 2.0, 3.0}, {1.0, 0.0, -1.0}, {0.5, 0.5, 0.0}, {0.0, 1.0, 0.0}});
  IndexArray targets = {2, -100, 0, 1};
  const std::vector<double> w = {1.0, 2.0, 0.5};
  // -log softmax by hand, row by row
  auto nlp = [&](std::size_t r, std::size_t c) {
    double z = 0;
    for (std::size_t k = 0; k < 3; ++k) z += std::exp(logits.value()(r, k));
    return std::log(z) - logits.value()(r, c);
  };
  const double l0 = w[2] * nlp(0, 2), l2 = w[0] * nlp(2, 0), l3 = w[1] * nlp(3, 1);
  const double weight_sum = w[2] + w[0] + w[1];  // the ignored row counts for nothing
  nn::CrossEntropyOptions o{.weight = w};
  CHECK(nn::cross_entropy(logits, targets, o).item() == doctest::Approx((l0 + l2 + l3) / weight_sum));
  o.reduction = Reduction::sum;
  CHECK(nn::cross_entropy(logits, targets, o).item() == doctest::Approx(l0 + l2 + l3));
  o.reduction = Reduction::none;
  auto none = nn::cross_entropy(logits, targets, o);
  CHECK(at(none, 1) == 0.0);
  CHECK(at(none, 3) == doctest::Approx(l3));
  // ignore_index alone: a plain mean over the rows kept
  CHECK(nn::cross_entropy(logits, targets).item() == doctest::Approx((nlp(0, 2) + nlp(2, 0) + nlp(3, 1)) / 3));
  // nll_loss on log-probabilities gives the same
  D log_p = log_softmax(logits, -1);
  CHECK(nn::nll_loss(log_p, targets, {.weight = w}).item() == doctest::Approx((l0 + l2 + l3) / weight_sum));
  // label smoothing with weights: (1 - s) w[t] nll + (s / C) sum_c w[c] nll_c, over the weights of the targets
  const double s = 0.2;
  double smooth = 0;
  for (std::size_t r : {0u, 2u, 3u})
    for (std::size_t c = 0; c < 3; ++c) smooth += w[c] * nlp(r, c);
  CHECK(nn::cross_entropy(logits, targets, {.label_smoothing = s, .weight = w}).item() ==
        doctest::Approx(((1 - s) * (l0 + l2 + l3) + s / 3 * smooth) / weight_sum));
  // gradients, first and second order
  D x = random_input({4, 3});
  Fn f = [&](const std::vector<D>& in) {
    return nn::cross_entropy(in[0], targets, {.label_smoothing = 0.1, .weight = w});
  };
  CHECK(gradcheck(f, {x}));
  CHECK(gradgradcheck(f, {x}));
  auto g = grad({nn::cross_entropy(x, targets, {.weight = w})}, {x})[0];
  for (std::size_t c = 0; c < 3; ++c) CHECK(g.value()(1, c) == 0.0);  // the ignored row gets no gradient
  check_error([&] { nn::cross_entropy(logits, targets, {.weight = {1.0, 2.0}}); },
              {"cross_entropy", "weight has 2 entries for 3 classes", "[4,3]"});
  check_error([&] { nn::nll_loss(log_p, IndexArray{2, -1, 0, 1}); }, {"nll_loss", "target -1"});
}

TEST_CASE("class losses name bad targets and shapes") {
  D logits = zeros<double>({3, 4});
  check_error([&] { nn::cross_entropy(logits, IndexArray{0, 4, 1}); }, {"cross_entropy", "target 4", "4 classes", "[3,4]"});
  check_error([&] { nn::cross_entropy(logits, IndexArray{0, -1, 1}); }, {"cross_entropy", "target -1"});
  check_error([&] { nn::cross_entropy(logits, IndexArray{0, 1}); }, {"cross_entropy", "targets [2]", "[3,4]", "[3]"});
  check_error([&] { nn::cross_entropy(logits, IndexArray{0, 1, 2}, {.label_smoothing = 1.5}); },
              {"cross_entropy", "label_smoothing", "1.5"});
  check_error([&] { nn::nll_loss(logits, IndexArray{{0, 1, 2}}); }, {"nll_loss", "targets [1,3]"});
  check_error([&] { nn::cross_entropy(scalar<double>(1), IndexArray{0}); }, {"cross_entropy", "no class axis"});
}

TEST_CASE("losses train a model: a Linear classifier fits separable data") {
  manual_seed(5);
  nn::Linear<float> fc(2, 2);
  Var x(xt::xarray<float>{{2, 1}, {1, 2}, {-2, -1}, {-1, -2}});
  IndexArray y = {0, 0, 1, 1};
  const float first = nn::cross_entropy(fc(x), y).item();
  for (int step = 0; step < 50; ++step) {
    fc.zero_grad();
    auto loss = nn::cross_entropy(fc(x), y, {.label_smoothing = 0.05});
    loss.backward();
    NoGradGuard no_grad;
    for (auto& p : fc.parameters()) p.mutable_value() -= 0.5f * p.grad().value();
  }
  CHECK(nn::cross_entropy(fc(x), y).item() < 0.2f * first);
}
