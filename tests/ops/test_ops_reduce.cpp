// Reductions and the softmax family: values, first and second derivatives, stability, errors.
#include "testing.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <string>

using namespace tg;
using tg::testing::check_close;
using tg::testing::check_error;
using tg::testing::D;
using tg::testing::random_input;

namespace {

using Arr = xt::xarray<double>;

/// `a` under another shape (nested braces of single elements are ambiguous to xtensor).
template <class A>
A shaped(A a, const Shape& shape) {
  a.reshape(shape);
  return a;
}

/// [[1,5,3],[4,2,6]]: small enough to reduce by hand.
D matrix(bool requires_grad = false) { return D({{1.0, 5.0, 3.0}, {4.0, 2.0, 6.0}}, requires_grad); }

/// arange(24) as [2,3,4]: x[i,j,k] = 12 i + 4 j + k.
D cube() { return D(xt::xarray<double>(reshape(arange<double>(0, 24), {2, 3, 4}).value())); }

using Reduction = std::function<D(const D&, const Axes&, bool)>;
struct Named {
  const char* name;
  Reduction f;
};
std::vector<Named> differentiable_reductions() {
  return {{"sum", [](const D& x, const Axes& a, bool k) { return sum(x, a, k); }},
          {"mean", [](const D& x, const Axes& a, bool k) { return mean(x, a, k); }},
          {"max", [](const D& x, const Axes& a, bool k) { return max(x, a, k); }},
          {"min", [](const D& x, const Axes& a, bool k) { return min(x, a, k); }},
          {"logsumexp", [](const D& x, const Axes& a, bool k) { return logsumexp(x, a, k); }},
          {"norm", [](const D& x, const Axes& a, bool k) { return norm(x, a, k); }}};
}
const std::vector<Axes> axis_sets = {{}, {0}, {1}, {-1}, {0, 2}};

std::string axes_name(const Axes& axes) {
  std::string s = "{";
  for (auto a : axes) s += std::to_string(a) + ",";
  return s + "}";
}

}  // namespace

// ---- values ---------------------------------------------------------------------------------

TEST_CASE("sum and mean: values over every axis set") {
  const D x = matrix();
  CHECK(sum(x).item() == 21.0);
  check_close(sum(x, {0}).value(), Arr{5.0, 7.0, 9.0});
  check_close(sum(x, {1}).value(), Arr{9.0, 12.0});
  check_close(sum(x, {-1}, true).value(), shaped(Arr{9.0, 12.0}, {2, 1}));
  CHECK(sum(x, {}, true).shape() == Shape{1, 1});
  CHECK(mean(x).item() == 3.5);
  check_close(mean(x, {0}).value(), Arr{2.5, 3.5, 4.5});
  check_close(mean(x, {1}, true).value(), shaped(Arr{3.0, 4.0}, {2, 1}));
  // x[i,j,k] = 12i + 4j + k: sum over i,k = 48 + 32j + 12
  check_close(sum(cube(), {0, 2}).value(), Arr{60.0, 92.0, 124.0});
  check_close(mean(cube(), {0, 2}).value(), Arr{7.5, 11.5, 15.5});
  CHECK(sum(cube(), {0, 2}, true).shape() == Shape{1, 3, 1});
}

TEST_CASE("sum: the vectorised row kernel agrees with the formula (long rows, odd lengths, float)") {
  // rows of 100 and 37 elements: the 4-accumulator blocks plus a scalar tail
  for (std::size_t n : {1u, 31u, 32u, 37u, 100u, 1000u}) {
    INFO("row length " << n);
    auto x = reshape(arange<float>(0, 3.0 * n), {3, static_cast<std::int64_t>(n)});
    const double nn = static_cast<double>(n);
    // row r holds n r + k, k < n: sum = n^2 r + n(n-1)/2, exact in float for these sizes
    auto s = sum(x, {1});
    for (int r = 0; r < 3; ++r) CHECK(s.value()(r) == doctest::Approx(nn * nn * r + nn * (nn - 1) / 2).epsilon(1e-6));
  }
  // innermost and an outer axis reduced together: the row sums accumulate into one entry
  auto y = reshape(arange<float>(0, 2 * 3 * 40), {2, 3, 40});
  auto s = sum(y, {0, 2});
  for (int j = 0; j < 3; ++j) {
    double expected = 0;
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 40; ++k) expected += 120.0 * i + 40.0 * j + k;
    CHECK(s.value()(j) == doctest::Approx(expected));
  }
}

TEST_CASE("max and min: values, keepdims, float") {
  const D x = matrix();
  CHECK(max(x).item() == 6.0);
  CHECK(min(x).item() == 1.0);
  check_close(max(x, {0}).value(), Arr{4.0, 5.0, 6.0});
  check_close(max(x, {1}).value(), Arr{5.0, 6.0});
  check_close(min(x, {0}).value(), Arr{1.0, 2.0, 3.0});
  check_close(min(x, {-1}, true).value(), shaped(Arr{1.0, 2.0}, {2, 1}));
  check_close(max(cube(), {0, 2}).value(), Arr{15.0, 19.0, 23.0});
  check_close(min(cube(), {0, 2}, true).value(), shaped(Arr{0.0, 4.0, 8.0}, {1, 3, 1}));
  Var f({{-3.0f, -1.0f}, {-2.0f, -7.0f}});
  check_close(max(f, {1}).value(), Arr{-1.0, -2.0});
  check_close(min(f, {0}).value(), Arr{-3.0, -7.0});
}

TEST_CASE("max and min: the gradient is split evenly between ties") {
  D x({1.0, 3.0, 3.0}, true);
  max(x).backward();
  check_close(x.grad().value(), Arr{0.0, 0.5, 0.5});
  D y({{2.0, 2.0}, {2.0, 1.0}}, true);
  (max(y) * 6.0).backward();
  check_close(y.grad().value(), Arr{{2.0, 2.0}, {2.0, 0.0}});
  D z({{1.0, 1.0, 4.0}, {0.0, 5.0, 0.0}}, true);
  min(z, {1}).backward(D({10.0, 20.0}));
  check_close(z.grad().value(), Arr{{5.0, 5.0, 0.0}, {10.0, 0.0, 10.0}});
}

TEST_CASE("logsumexp: values") {
  const D x = matrix();
  // row 0: log(e^1 + e^5 + e^3) = 5 + log(1 + e^-2 + e^-4); row 1: 6 + log(1 + e^-2 + e^-4)
  const double r = std::log(1 + std::exp(-2.0) + std::exp(-4.0));
  check_close(logsumexp(x, {1}).value(), Arr{5 + r, 6 + r});
  // column 0: log(e^1 + e^4) = 4 + log(1 + e^-3)
  check_close(logsumexp(x, {0}, true).value(),
              Arr{{4 + std::log(1 + std::exp(-3.0)), 5 + std::log(1 + std::exp(-3.0)), 6 + std::log(1 + std::exp(-3.0))}});
  // all six: 6 + log(e^-5 + e^-1 + e^-3 + e^-2 + e^-4 + 1)
  double all = 0;
  for (double v : {1.0, 5.0, 3.0, 4.0, 2.0, 6.0}) all += std::exp(v - 6.0);
  CHECK(logsumexp(x).item() == doctest::Approx(6 + std::log(all)).epsilon(1e-14));
  // n equal values: v + log n
  check_close(logsumexp(D({{2.0, 2.0, 2.0, 2.0}}), {1}).value(), Arr{2 + std::log(4.0)});
}

TEST_CASE("norm: values and the gradient at zero") {
  const D x = matrix();
  CHECK(norm(x).item() == doctest::Approx(std::sqrt(91.0)));
  check_close(norm(x, {0}).value(), Arr{std::sqrt(17.0), std::sqrt(29.0), std::sqrt(45.0)});
  check_close(norm(x, {1}, true).value(), shaped(Arr{std::sqrt(35.0), std::sqrt(56.0)}, {2, 1}));
  check_close(norm(D({3.0, -4.0})).value(), Arr(5.0));
  // gradient x / |x|
  D v({3.0, -4.0}, true);
  norm(v).backward();
  check_close(v.grad().value(), Arr{0.6, -0.8});
  // a zero row: gradient 0, and no NaN at second order either
  D z({{0.0, 0.0}, {3.0, 4.0}}, true);
  auto g = tg::grad({sum(norm(z, {1}))}, {z}, {}, {.create_graph = true})[0];
  check_close(g.value(), Arr{{0.0, 0.0}, {0.6, 0.8}});
  auto h = tg::grad({sum(g * g)}, {z})[0];
  for (double e : h.value()) CHECK(std::isfinite(e));
  check_close(norm(zeros<double>({2, 3}), {1}).value(), Arr{0.0, 0.0});
}

TEST_CASE("argmax and argmin: values, first index at ties, keepdims") {
  const D x = matrix();
  CHECK(argmax(x, 0) == IndexArray{1, 0, 1});
  CHECK(argmax(x, 1) == IndexArray{1, 2});
  CHECK(argmax(x, -1, true) == shaped(IndexArray{1, 2}, {2, 1}));
  CHECK(argmin(x, 0) == IndexArray{0, 1, 0});
  CHECK(argmin(x, 1) == IndexArray{0, 1});
  CHECK(argmin(x, 0, true) == IndexArray{{0, 1, 0}});
  CHECK(argmax(D({2.0, 7.0, 7.0, 1.0}), 0)() == 1);
  CHECK(argmin(D({2.0, 1.0, 7.0, 1.0}), 0)() == 1);
  // middle axis of a 3-D input: x[i,j,k] = 12i + 4j + k grows along j
  auto c = cube();
  const IndexArray am = argmax(c, 1);
  CHECK(am.shape() == Shape{2, 4});
  for (auto v : am) CHECK(v == 2);
  for (auto v : argmin(c, 1, true)) CHECK(v == 0);
  CHECK(argmin(c, 1, true).shape() == Shape{2, 1, 4});
  CHECK(argmax(Var({0.5f, -1.0f, 3.0f}), 0)() == 2);
}

TEST_CASE("softmax and log_softmax: values") {
  // [0, log 3] -> [1/4, 3/4]; [log 2, log 2] -> [1/2, 1/2]
  const D x({{0.0, std::log(3.0)}, {std::log(2.0), std::log(2.0)}});
  check_close(softmax(x).value(), Arr{{0.25, 0.75}, {0.5, 0.5}});
  check_close(log_softmax(x, 1).value(), Arr{{std::log(0.25), std::log(0.75)}, {std::log(0.5), std::log(0.5)}});
  // along axis 0: column 0 is [0, log 2] -> [1/3, 2/3]; column 1 [log 3, log 2] -> [3/5, 2/5]
  check_close(softmax(x, 0).value(), Arr{{1.0 / 3, 0.6}, {2.0 / 3, 0.4}});
  check_close(log_softmax(x, 0).value(), Arr{{std::log(1.0 / 3), std::log(0.6)}, {std::log(2.0 / 3), std::log(0.4)}});
  // every slice of a 3-D softmax sums to 1
  auto s = softmax(cube(), 1);
  check_close(sum(s, {1}).value(), Arr(xt::ones<double>({2, 4})));
  check_close(exp(log_softmax(cube(), 1)).value(), s.value(), 1e-12);
  Var f({{1.0f, 1.0f}});
  check_close(softmax(f).value(), Arr{{0.5, 0.5}}, 1e-7);
}

// ---- first and second derivatives ---------------------------------------------------------

TEST_CASE("reductions: gradcheck and gradgradcheck over axis sets and keepdims") {
  manual_seed(11);
  for (const auto& r : differentiable_reductions())
    for (const auto& axes : axis_sets)
      for (bool keepdims : {false, true}) {
        INFO(r.name << " axes " << axes_name(axes) << " keepdims " << keepdims);
        auto x = random_input({2, 3, 4});
        auto f = [&](const std::vector<D>& in) { return r.f(in[0], axes, keepdims); };
        CHECK(gradcheck(f, {x}));
        CHECK(gradgradcheck(f, {x}));
      }
}

TEST_CASE("reductions: gradients on 2-D, 1-D and 0-D inputs") {
  manual_seed(12);
  for (const auto& r : differentiable_reductions()) {
    INFO(r.name);
    for (const Shape& shape : {Shape{5, 2}, Shape{4}, Shape{}}) {
      auto x = random_input(shape);
      CHECK(gradcheck([&](const std::vector<D>& in) { return r.f(in[0], {}, false); }, {x}));
      CHECK(gradgradcheck([&](const std::vector<D>& in) { return r.f(in[0], {}, true); }, {x}));
    }
  }
}

TEST_CASE("softmax and log_softmax: gradcheck and gradgradcheck along every axis") {
  manual_seed(13);
  for (std::int64_t axis : {0, 1, 2, -1}) {
    INFO("axis " << axis);
    auto x = random_input({2, 3, 4});
    auto sm = [axis](const std::vector<D>& in) { return softmax(in[0], axis); };
    auto lsm = [axis](const std::vector<D>& in) { return log_softmax(in[0], axis); };
    CHECK(gradcheck(sm, {x}));
    CHECK(gradgradcheck(sm, {x}));
    CHECK(gradcheck(lsm, {x}));
    CHECK(gradgradcheck(lsm, {x}));
  }
  // in a composite, as a cross-entropy would use them
  auto x = random_input({3, 5});
  auto w = random_input({3, 5});
  auto ce = [](const std::vector<D>& in) { return sum(in[1] * log_softmax(in[0], 1)) + sum(softmax(in[0], 0) * in[1]); };
  CHECK(gradcheck(ce, {x, w}));
  CHECK(gradgradcheck(ce, {x, w}));
}

TEST_CASE("max with keepdims composes with a broadcast subtraction (gradients)") {
  manual_seed(14);
  auto x = random_input({3, 4});
  auto f = [](const std::vector<D>& in) { return exp(in[0] - max(in[0], {1}, true)); };
  CHECK(gradcheck(f, {x}));
  CHECK(gradgradcheck(f, {x}));
}

// ---- stability ------------------------------------------------------------------------------

TEST_CASE("logsumexp, softmax, log_softmax: finite and right at +-1000") {
  const double ln2 = std::log(2.0);
  check_close(logsumexp(D({1000.0, 1000.0})).value(), Arr(1000 + ln2));
  check_close(logsumexp(D({-1000.0, -1000.0})).value(), Arr(-1000 + ln2));
  check_close(logsumexp(D({1000.0, -1000.0})).value(), Arr(1000.0));
  check_close(softmax(D({1000.0, 0.0, -1000.0})).value(), Arr{1.0, 0.0, 0.0});
  check_close(softmax(D({1000.0, 1000.0})).value(), Arr{0.5, 0.5});
  check_close(softmax(D({-1000.0, -1000.0})).value(), Arr{0.5, 0.5});
  check_close(log_softmax(D({1000.0, 0.0})).value(), Arr{0.0, -1000.0});
  check_close(log_softmax(D({-1000.0, -1000.0})).value(), Arr{-ln2, -ln2});
  // float, where exp(89) already overflows
  check_close(logsumexp(Var({1000.0f, 1000.0f})).value(), Arr(1000 + ln2), 1e-6);
  check_close(softmax(Var({1000.0f, -1000.0f})).value(), Arr{1.0, 0.0}, 1e-6);
  check_close(log_softmax(Var({-1000.0f, -1000.0f})).value(), Arr{-ln2, -ln2}, 1e-6);
  // gradients stay finite and right
  D x({1000.0, 1000.0, -1000.0}, true);
  logsumexp(x).backward();
  check_close(x.grad().value(), Arr{0.5, 0.5, 0.0});
  D y({1000.0, 1000.0, -1000.0}, true);
  sum(log_softmax(y) * D({1.0, 0.0, 0.0})).backward();
  check_close(y.grad().value(), Arr{0.5, -0.5, 0.0});
  D z({1000.0, 1000.0}, true);
  sum(softmax(z) * D({1.0, 0.0})).backward();
  check_close(z.grad().value(), Arr{0.25, -0.25});
}

TEST_CASE("logsumexp and softmax: infinite entries") {
  const double inf = std::numeric_limits<double>::infinity();
  check_close(logsumexp(D({-inf, 0.0})).value(), Arr(0.0));
  check_close(logsumexp(D({-inf, -inf})).value(), Arr(-inf));
  check_close(logsumexp(D({inf, 0.0})).value(), Arr(inf));
  check_close(softmax(D({-inf, 0.0})).value(), Arr{0.0, 1.0});
  check_close(log_softmax(D({0.0, -inf})).value(), Arr{0.0, -inf});
  // masked attention-style rows: -inf entries get probability 0
  check_close(softmax(D({{1.0, -inf, 1.0}, {-inf, 2.0, -inf}}), 1).value(), Arr{{0.5, 0.0, 0.5}, {0.0, 1.0, 0.0}});
}

// ---- empty inputs and bad arguments -------------------------------------------------------

TEST_CASE("reductions over empty axes") {
  auto e = zeros<double>({0, 3});
  check_close(sum(e, {0}).value(), Arr{0.0, 0.0, 0.0});
  check_close(norm(e, {0}).value(), Arr{0.0, 0.0, 0.0});
  check_close(logsumexp(e, {0}).value(), Arr{-std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                                             -std::numeric_limits<double>::infinity()});
  CHECK(max(e, {1}).shape() == Shape{0});  // nothing empty is reduced: an empty result
  CHECK(argmax(e, 1).shape() == Shape{0});
  CHECK(softmax(e, 0).shape() == Shape{0, 3});
  check_error([&] { max(e, {0}); }, {"max", "[0,3]", "empty"});
  check_error([&] { min(e); }, {"min", "[0,3]", "empty"});
  check_error([&] { argmax(e, 0); }, {"argmax", "[0,3]", "empty"});
  check_error([&] { argmin(e, -2); }, {"argmin", "[0,3]", "empty"});
  check_error([&] { mean(e, {0}); }, {"mean", "[0,3]"});
}

TEST_CASE("reductions: bad axes name the op and the shape") {
  const D x = cube();
  for (const auto& r : differentiable_reductions()) {
    INFO(r.name);
    check_error([&] { r.f(x, {3}, false); }, {r.name, "axis 3", "out of range", "[2,3,4]"});
    check_error([&] { r.f(x, {0, -4}, true); }, {r.name, "axis -4", "[2,3,4]"});
    check_error([&] { r.f(x, {0, -3}, false); }, {r.name, "same axis twice", "[2,3,4]"});
    check_error([&] { r.f(x, {1, 1}, false); }, {r.name, "same axis twice", "[2,3,4]"});
  }
  check_error([&] { argmax(x, 3); }, {"argmax", "axis 3", "[2,3,4]"});
  check_error([&] { argmin(x, -4); }, {"argmin", "axis -4", "[2,3,4]"});
  check_error([&] { softmax(x, 3); }, {"softmax", "axis 3", "[2,3,4]"});
  check_error([&] { log_softmax(x, -4); }, {"log_softmax", "axis -4", "[2,3,4]"});
  check_error([&] { argmax(scalar<double>(1.0), 0); }, {"argmax", "axis 0", "[]"});
  check_error([&] { softmax(scalar<double>(1.0), -1); }, {"softmax", "[]"});
}

TEST_CASE("argmax, argmin record nothing and stop no gradient elsewhere") {
  D x({3.0, 1.0, 2.0}, true);
  const IndexArray i = argmax(x, 0);
  CHECK(i() == 0);
  auto y = gather(x, 0, IndexArray{i()});  // pick the max through an index: gradient flows to it
  sum(y).backward();
  check_close(x.grad().value(), Arr{1.0, 0.0, 0.0});
}

TEST_CASE("max, min, argmax: a NaN wins (as torch), also in long rows") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(max(D({1.0, nan, 3.0})).item()));
  CHECK(std::isnan(min(D({1.0, nan, 3.0})).item()));
  CHECK(argmax(D({1.0, nan, 3.0}), 0)() == 1);
  CHECK(argmin(D({1.0, nan, 3.0}), 0)() == 1);
  xt::xarray<float> row = xt::zeros<float>({2, 100});
  for (int i = 0; i < 100; ++i) row(0, i) = row(1, i) = static_cast<float>(i % 13);
  row(1, 40) = std::numeric_limits<float>::quiet_NaN();
  auto m = max(Var(row), {1});
  CHECK(m.value()(0) == 12.0f);
  CHECK(std::isnan(m.value()(1)));
  CHECK(min(Var(row), {1}).value()(0) == 0.0f);
  CHECK(std::isnan(min(Var(row), {1}).value()(1)));
}

TEST_CASE("softmax and log_softmax along the last axis (the row kernel) agree with the general path") {
  manual_seed(93);
  const D x = random_input({3, 4, 37}, -20, 20);
  // the same numbers with the axis moved to the front go through the general (strided) path
  const D moved = permute(x, {2, 0, 1});
  check_close(softmax(x, -1).value(), xt::xarray<double>(xt::transpose(softmax(moved, 0).value(), {1, 2, 0})), 1e-14);
  check_close(log_softmax(x, 2).value(), xt::xarray<double>(xt::transpose(log_softmax(moved, 0).value(), {1, 2, 0})), 1e-14);
  // a row of -inf gives NaN (0/0, as PyTorch); a row with one -inf gives it weight 0
  const double inf = std::numeric_limits<double>::infinity();
  const D masked({{-inf, -inf}, {0.0, -inf}});
  CHECK(std::isnan(softmax(masked).value()(0, 0)));
  CHECK(softmax(masked).value()(1, 0) == 1.0);
  CHECK(softmax(masked).value()(1, 1) == 0.0);
  CHECK(log_softmax(masked).value()(1, 1) == -inf);
  // float rows with large values stay finite
  Var big({{1000.0f, 999.0f, -1000.0f}});
  CHECK(softmax(big).value()(0, 0) == doctest::Approx(1 / (1 + std::exp(-1.0))));
  CHECK(gradgradcheck([](const std::vector<D>& in) { return softmax(in[0], -1); }, {random_input({2, 5})}));
}

TEST_CASE("softmax, log_softmax and softmax_backward split into rows over threads agree with the general path") {
  manual_seed(94);
  const D x = random_input({4, 300, 128}, -10, 10);  // 153,600 values: past the threading threshold
  const D moved = permute(x, {2, 0, 1});
  const xt::xarray<double> general = xt::transpose(softmax(moved, 0).value(), {1, 2, 0});
  check_close(softmax(x, -1).value(), general, 1e-14);
  check_close(log_softmax(x, -1).value(), xt::xarray<double>(xt::transpose(log_softmax(moved, 0).value(), {1, 2, 0})), 1e-14);
  const D g = random_input({4, 300, 128});
  const D out = softmax(x, -1);
  check_close(softmax_backward(g, out).value(), (out * (g - sum(g * out, {-1}, true))).value(), 1e-14);
}
