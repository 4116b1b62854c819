// Gradient clipping by norm and by value, and the max-norm weight constraint.
#include <cmath>
#include <limits>

#include "testing.hpp"

using namespace tg;
using namespace tg::optim;
using tg::testing::check_error;
using D = Variable<double>;

TEST_CASE("clip_grad_norm scales all gradients together when their norm exceeds max_norm") {
  D a({1.0, 2.0}, true), b({3.0}, true), c({5.0}, true);
  a.set_grad(D({3.0, 0.0}));
  b.set_grad(D({4.0}));  // total 2-norm 5; c has no gradient and is skipped
  const double total = clip_grad_norm(std::vector<D>{a, b, c}, 1.0);
  CHECK(total == doctest::Approx(5.0));
  const double coef = 1.0 / (5.0 + 1e-6);
  CHECK(a.grad().value()(0) == doctest::Approx(3 * coef).epsilon(1e-14));
  CHECK(a.grad().value()(1) == 0.0);
  CHECK(b.grad().item() == doctest::Approx(4 * coef).epsilon(1e-14));
  CHECK_FALSE(c.has_grad());
}

TEST_CASE("clip_grad_norm leaves small gradients alone and supports other norms") {
  D a({1.0, 2.0}, true);
  a.set_grad(D({3.0, -4.0}));
  CHECK(clip_grad_norm(std::vector<D>{a}, 10.0) == doctest::Approx(5.0));
  CHECK(a.grad().value()(1) == -4.0);

  CHECK(clip_grad_norm(std::vector<D>{a}, 100.0, 1.0) == doctest::Approx(7.0));
  CHECK(clip_grad_norm(std::vector<D>{a}, 100.0, 3.0) == doctest::Approx(std::cbrt(27.0 + 64.0)));
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(clip_grad_norm(std::vector<D>{a}, 2.0, inf) == doctest::Approx(4.0));
  CHECK(a.grad().value()(0) == doctest::Approx(3 * 2 / (4 + 1e-6)));
  CHECK(a.grad().value()(1) == doctest::Approx(-4 * 2 / (4 + 1e-6)));
}

TEST_CASE("clip_grad_norm on float gradients, and non-finite norms") {
  Var a({6.0f, 8.0f}, true);
  a.set_grad(Var({6.0f, 8.0f}));
  CHECK(clip_grad_norm(std::vector<Var>{a}, 5.0) == doctest::Approx(10.0));
  CHECK(a.grad().value()(1) == doctest::Approx(4.0f));

  D b({1.0}, true);
  b.set_grad(D({std::nan("")}));
  check_error([&] { clip_grad_norm(std::vector<D>{b}, 1.0, 2.0, true); }, {"clip_grad_norm", "is nan"});
  check_error([&] { clip_grad_norm(std::vector<D>{b}, -1.0); }, {"clip_grad_norm", "invalid max_norm -1"});
  check_error([&] { clip_grad_norm(std::vector<D>{b}, 1.0, 0.0); }, {"clip_grad_norm", "invalid norm_type 0"});
}

TEST_CASE("clipping never edits a gradient shared with another variable") {
  D a({1.0, 2.0}, true);
  D shared({3.0, 4.0});
  a.set_grad(shared);
  clip_grad_norm(std::vector<D>{a}, 1.0);
  CHECK(shared.value()(0) == 3.0);  // a got a clipped copy
  CHECK(a.grad().value()(0) == doctest::Approx(0.6).epsilon(1e-6));
  a.set_grad(shared);
  clip_grad_value(std::vector<D>{a}, 3.5);
  CHECK(shared.value()(1) == 4.0);
  CHECK(a.grad().value()(1) == 3.5);
}

TEST_CASE("clip_grad_value clamps every entry") {
  D a({0.0, 0.0, 0.0}, true), b({0.0}, true);
  a.set_grad(D({-3.0, 0.5, 2.0}));
  b.set_grad(D({-0.2}));
  const double* storage = a.grad().value().data();
  clip_grad_value(std::vector<D>{a, b}, 1.0);
  CHECK(a.grad().value() == xt::xarray<double>{-1.0, 0.5, 1.0});
  CHECK(a.grad().value().data() == storage);  // in place
  CHECK(b.grad().item() == -0.2);
  check_error([&] { clip_grad_value(std::vector<D>{a}, -1.0); }, {"clip_grad_value", "invalid clip_value -1"});
}

TEST_CASE("max_norm_constraint renormalises the slices whose norm exceeds max_norm") {
  D w({{3.0, 4.0}, {0.3, 0.4}, {0.0, 2.0}}, true);  // row norms 5, 0.5, 2
  const double* storage = w.value().data();
  max_norm_constraint(std::vector<D>{w}, 1.0);  // axis 0: rows
  const double c5 = 1.0 / (5 + 1e-7), c2 = 1.0 / (2 + 1e-7);
  CHECK(w.value()(0, 0) == doctest::Approx(3 * c5).epsilon(1e-14));
  CHECK(w.value()(0, 1) == doctest::Approx(4 * c5).epsilon(1e-14));
  CHECK(w.value()(1, 0) == 0.3);  // under the bound: untouched
  CHECK(w.value()(1, 1) == 0.4);
  CHECK(w.value()(2, 1) == doctest::Approx(2 * c2).epsilon(1e-14));
  CHECK(w.value().data() == storage);
  CHECK(w.is_leaf());

  D v({{3.0, 0.0}, {4.0, 0.5}}, true);  // column norms 5 and 0.5
  max_norm_constraint(std::vector<D>{v}, 1.0, -1);  // axis -1: columns... of the last axis
  // axis 1 indexes the slices v[:, j]: column 0 has norm 5, column 1 norm 0.5.
  CHECK(v.value()(0, 0) == doctest::Approx(3 * c5).epsilon(1e-14));
  CHECK(v.value()(1, 0) == doctest::Approx(4 * c5).epsilon(1e-14));
  CHECK(v.value()(1, 1) == 0.5);

  D t = testing::random_input({2, 3, 4});
  max_norm_constraint(std::vector<D>{t}, 0.5, 1);
  for (std::size_t j = 0; j < 3; ++j) {
    double sq = 0;
    for (std::size_t o = 0; o < 2; ++o)
      for (std::size_t i = 0; i < 4; ++i) sq += t.value()(o, j, i) * t.value()(o, j, i);
    CHECK(std::sqrt(sq) <= 0.5 + 1e-9);
  }

  check_error([&] { max_norm_constraint(std::vector<D>{w}, 1.0, 2); },
              {"max_norm_constraint", "axis 2", "parameter 0 of shape [3,2]"});
  check_error([&] { max_norm_constraint(std::vector<D>{w}, -1.0); }, {"max_norm_constraint", "invalid max_norm -1"});
}
