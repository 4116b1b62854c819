#pragma once
// Shared by the test suites: doctest, the umbrella header, and short helpers.
#include <doctest/doctest.h>

#include <string>

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

}  // namespace tg::testing
