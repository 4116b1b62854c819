#pragma once
// The closed-formula tensors of tests/reference/conv_reference.py, rebuilt in C++, and the
// summary it prints (first values, checksums of the output and of every gradient).
#include <cmath>
#include <vector>

#include "../testing.hpp"

namespace tg::testing {

template <class F>
D pattern(const Shape& shape, F f, bool requires_grad = true) {
  xt::xarray<double> v = xt::empty<double>(shape);
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = f(static_cast<double>(i));
  return D(std::move(v), requires_grad);
}
inline D pattern_input(const Shape& s) { return pattern(s, [](double i) { return std::sin(0.7 * i + 0.3); }); }
inline D pattern_weight(const Shape& s) { return pattern(s, [](double i) { return 0.5 * std::cos(0.37 * i + 0.1); }); }
inline D pattern_bias(std::size_t n) { return pattern({n}, [](double i) { return 0.1 * i - 0.2; }); }

/// sum(t * c), c[i] = cos(0.91 i)
inline double checksum(const xt::xarray<double>& t) {
  double s = 0;
  for (std::size_t i = 0; i < t.size(); ++i) s += t.data()[i] * std::cos(0.91 * static_cast<double>(i));
  return s;
}

/// What the script prints for one case.
struct Reference {
  Shape shape;
  std::vector<double> first;  // out's first values
  std::vector<double> sums;   // checksums of out, then of each input's gradient
};

/// Backpropagates sum(out * h), h[i] = sin(1.3 i), and compares with the reference.
inline void check_against(const D& out, const std::vector<D>& inputs, const Reference& ref) {
  REQUIRE(out.shape() == ref.shape);
  for (std::size_t i = 0; i < ref.first.size(); ++i) CHECK(out.value().data()[i] == doctest::Approx(ref.first[i]).epsilon(1e-9));
  const D h = pattern(out.shape(), [](double i) { return std::sin(1.3 * i); }, false);
  sum(out * h).backward();
  REQUIRE(ref.sums.size() == inputs.size() + 1);
  CHECK(checksum(out.value()) == doctest::Approx(ref.sums[0]).epsilon(1e-9));
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    INFO("gradient of input " << k);
    CHECK(checksum(inputs[k].grad().value()) == doctest::Approx(ref.sums[k + 1]).epsilon(1e-9));
  }
}

}  // namespace tg::testing
