#pragma once
// Shared by the test suites: doctest, the umbrella header, and short helpers.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace tg::testing {

using D = Variable<double>;

/// Asserts that f() throws tg::Error and that its message contains every fragment.
template <class F>
void check_error(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    FAIL("expected tg::Error");
  } catch (const tg::Error& e) {
    const std::string message = e.what();
    for (const auto& fragment : fragments) {
      INFO("message: " << message);
      CHECK(message.find(fragment) != std::string::npos);
    }
  }
}

/// A double variable with values drawn from tg's generator, away from kinks at 0.
inline D random_input(const Shape& shape, double lo = -2, double hi = 2) {
  auto u = rand<double>(shape);
  xt::xarray<double> v = u.value() * (hi - lo) + lo;
  return D(std::move(v), true);
}

/// How close check_close wants each element: |actual - expected| <= abs + rel |expected|.
struct Tolerance {
  double abs = 0, rel = 0;
  /// tol (1 + |expected|): absolute near 0, relative for large values. Implicit, so that a
  /// caller writes check_close(a, b, 1e-9).
  Tolerance(double tol) : abs(tol), rel(tol) {}
  /// |actual - expected| <= tol, whatever the size of expected.
  static Tolerance absolute(double tol) {
    Tolerance t(tol);
    t.rel = 0;
    return t;
  }
};

namespace detail {
/// Element by element, `size` of them; equal values pass (equal infinities too).
template <class T>
void check_close_elements(const T* actual, const double* expected, std::size_t size, Tolerance tol) {
  for (std::size_t i = 0; i < size; ++i) {
    const double a = static_cast<double>(actual[i]), e = expected[i];
    if (a == e) continue;
    INFO("element " << i << ": " << a << " vs " << e);
    CHECK(std::abs(a - e) <= tol.abs + tol.rel * std::abs(e));
  }
}
}  // namespace detail

/// Every element of actual within tol of expected (see Tolerance), the shapes equal; `label`
/// names the array in a failure's message.
template <class T>
void check_close(const xt::xarray<T>& actual, const xt::xarray<double>& expected, Tolerance tol = 1e-12,
                 std::string_view label = {}) {
  INFO(label);
  REQUIRE(Shape(actual.shape().begin(), actual.shape().end()) == Shape(expected.shape().begin(), expected.shape().end()));
  detail::check_close_elements(actual.data(), expected.data(), expected.size(), tol);
}

/// The same against numbers in row-major order (a reference printed by a script): the counts equal.
template <class T>
void check_close(const xt::xarray<T>& actual, const std::vector<double>& expected, Tolerance tol = 1e-12,
                 std::string_view label = {}) {
  INFO(label);
  REQUIRE(actual.size() == expected.size());
  detail::check_close_elements(actual.data(), expected.data(), expected.size(), tol);
}

/// The same for two variables' values.
template <class T>
void check_close(const Variable<T>& actual, const Variable<T>& expected, Tolerance tol = 1e-12,
                 std::string_view label = {}) {
  check_close(actual.value(), xt::xarray<double>(xt::cast<double>(expected.value())), tol, label);
}

struct CheckGradsOptions {
  bool second_order = true;  // gradgradcheck as well as gradcheck
};

/// gradcheck of f at inputs (double) and, unless told otherwise, gradgradcheck: each a CHECK
/// that reports what failed (the input, element and both derivatives).
inline void check_grads(const DoubleFunction& f, const std::vector<D>& inputs, CheckGradsOptions options = {}) {
  const auto first = gradcheck(f, inputs, {.raise_exception = false});
  INFO(first.message);
  CHECK(first.ok);
  if (options.second_order) {
    const auto second = gradgradcheck(f, inputs, {.raise_exception = false});
    INFO(second.message);
    CHECK(second.ok);
  }
}

}  // namespace tg::testing
