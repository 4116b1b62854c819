// Options structs with designated initializers, as users write them. This file alone is
// compiled with -Wextra -Werror=missing-field-initializers (tests/CMakeLists.txt), so a member
// added without a default initializer breaks the build here, not in a user's -Werror build.
#include "testing.hpp"

using namespace tg;

TEST_CASE("designated initializers leave every other option at its default") {
  const BackwardOptions backward{.create_graph = true};
  CHECK(backward.create_graph);
  CHECK_FALSE(backward.retain_graph.has_value());

  const GradOptions grad_options{.create_graph = true};
  CHECK(grad_options.create_graph);
  CHECK_FALSE(grad_options.retain_graph.has_value());
  CHECK_FALSE(grad_options.allow_unused);

  const nn::CrossEntropyOptions ce{.label_smoothing = 0.1};
  CHECK(ce.weight.empty());
  CHECK(ce.ignore_index == -100);
  const nn::NLLLossOptions nll{.ignore_index = 3};
  CHECK(nll.weight.empty());

  const optim::ParamGroup<float, optim::SGDOptions> group{.params = {}};
  CHECK_FALSE(group.options.has_value());
}

TEST_CASE("x^3 differentiated twice through {.create_graph = true}") {
  Variable<double> x(xt::xarray<double>{2.0}, true);
  auto y = sum(x * x * x);
  auto dy = grad({y}, {x}, {}, {.create_graph = true});
  CHECK(dy[0].value()(0) == doctest::Approx(12.0));  // 3 x^2
  dy[0].backward({.retain_graph = false});
  CHECK(x.grad().value()(0) == doctest::Approx(12.0));  // 6 x
}
