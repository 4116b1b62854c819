// The sparse-coding energy of examples/ebm_latent and its inference: the soft threshold, the
// energy's value and gradient, and ISTA / FISTA reaching the known minimum, exact zeros included.
#include "testing.hpp"

#include "../../examples/ebm_latent/sparse_coding.hpp"

using namespace tg;
using tg::testing::D;
using tg::testing::check_error;
using tg::testing::random_input;

namespace {

/// Columns 0..k-1 of the Householder reflection I − 2 u uᵀ / ‖u‖²: an orthonormal W [n, k].
D orthonormal_columns(const xt::xarray<double>& u, std::size_t k) {
  const std::size_t n = u.size();
  const double uu = xt::sum(u * u)();
  xt::xarray<double> w = xt::zeros<double>({n, k});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) w(i, j) = (i == j ? 1.0 : 0.0) - 2 * u(i) * u(j) / uu;
  return D(std::move(w));
}

}  // namespace

TEST_CASE("soft_threshold: sign(x) max(|x| - t, 0), exactly 0 inside [-t, t]") {
  D x({-3.0, -0.5, 0.0, 0.5, 1.0, 2.5});
  const auto s = sparse_coding::soft_threshold(x, 1.0).value();
  const xt::xarray<double> expected{-2.0, 0.0, 0.0, 0.0, 0.0, 1.5};
  CHECK(s == expected);  // exact: the zeros are zeros, not 1e-17
  check_error([&] { sparse_coding::soft_threshold(x, -1.0); }, {"soft_threshold", "-1"});
}

TEST_CASE("the energy is ‖y − W z‖² + λ‖z‖₁ per sample, with its gradient in W checked in double") {
  D w({{1.0, 0.0}, {0.0, 2.0}, {1.0, 1.0}});  // n = 3, k = 2
  D y({{1.0, 2.0, 3.0}, {0.0, 0.0, 1.0}});
  D z({{1.0, -1.0}, {0.0, 0.5}});
  // sample 0: W z = [1, -2, 0], residual [0, 4, 3] -> 25, + 0.5 * 2 = 26
  // sample 1: W z = [0, 1, 0.5], residual [0, -1, 0.5] -> 1.25, + 0.5 * 0.5 = 1.5
  const auto e = sparse_coding::energy(w, y, z, 0.5).value();
  CHECK(e == xt::xarray<double>{26.0, 1.5});

  manual_seed(1);
  D wv = random_input({5, 3}), yv = random_input({4, 5}), zv = random_input({4, 3}, 0.2, 1.0);
  CHECK(gradcheck([&](const std::vector<D>& in) { return sparse_coding::energy(in[0], yv, zv, 0.3); }, {wv}));

  check_error([&] { sparse_coding::energy(w, D({{1.0, 2.0}}), D({{1.0, 1.0}}), 0.5); },
              {"reconstruction_energy", "W [3,2]", "Y [1,2]", "values"});
  check_error([&] { sparse_coding::energy(w, y, D({{1.0, 1.0, 1.0}}), 0.5); }, {"Z must be [batch, k] = [2,2]"});
  check_error([&] { sparse_coding::ista(w, y, -1.0); }, {"ista", "lambda -1"});
}

TEST_CASE("ISTA and FISTA reach the closed-form minimum soft_threshold(Wᵀy, λ/2) for an orthonormal W") {
  // With WᵀW = I: ‖y − W z‖² = ‖y‖² − ‖Wᵀy‖² + ‖Wᵀy − z‖², so each coordinate minimises
  // (c − z)² + λ|z| with c = Wᵀy: z = soft_threshold(c, λ/2) (the factor 1/2 from our ‖·‖², not ½‖·‖²).
  const D w = orthonormal_columns({0.3, -1.2, 0.5, 2.0, 0.7, -0.4}, 4);  // [6, 4]
  CHECK(sparse_coding::lipschitz_constant(w) == doctest::Approx(2.0).epsilon(1e-12));
  manual_seed(2);
  const D y = random_input({5, 6});
  const double lambda = 0.8;
  const xt::xarray<double> c = matmul(y, w).value();  // rows: Wᵀ y_i
  const xt::xarray<double> expected = sparse_coding::soft_threshold(D(c), lambda / 2).value();
  std::size_t zeros_expected = 0;
  for (double v : expected) zeros_expected += v == 0;
  REQUIRE(zeros_expected >= 3);  // the case is worth testing: some codes are cut to 0 ...
  REQUIRE(zeros_expected < expected.size());  // ... and some are not

  for (bool accelerated : {false, true})
    for (double step : {0.0, 0.1}) {  // 1/L, and a smaller step that needs many iterations
      CAPTURE(accelerated);
      CAPTURE(step);
      const auto code = sparse_coding::ista(w, y, lambda,
                                            {.max_steps = 2000, .step_size = step, .tolerance = 1e-15, .accelerated = accelerated});
      CHECK(code.steps < 2000);  // it converged
      for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        if (expected.data()[i] == 0) CHECK(code.z.value().data()[i] == 0.0);  // exactly
        else CHECK(code.z.value().data()[i] == doctest::Approx(expected.data()[i]).epsilon(1e-12));
      }
      // the energy at the minimum, from the closed form
      const auto e_min = sparse_coding::energy(w, y, D(expected), lambda).value();
      for (std::size_t b = 0; b < 5; ++b) CHECK(code.energy.value()(b) == doctest::Approx(e_min(b)).epsilon(1e-12));
    }
}

TEST_CASE("for any W, ISTA's result satisfies the optimality conditions of the L1 problem") {
  // z minimises ‖y − W z‖² + λ‖z‖₁ iff g = 2 Wᵀ(y − W z) has g_j = λ sign(z_j) where z_j ≠ 0
  // and |g_j| ≤ λ where z_j = 0.
  manual_seed(7);
  const D w = random_input({8, 12});  // overcomplete: k > n, so the minimum needs the L1 term to be unique
  const D y = random_input({3, 8});
  const double lambda = 1.5;
  const auto code = sparse_coding::ista(w, y, lambda, {.max_steps = 20000, .tolerance = 1e-13});
  const xt::xarray<double> residual = y.value() - matmul(code.z, w, {.transpose_b = true}).value();
  const xt::xarray<double> g = 2.0 * matmul(D(residual), w).value();
  std::size_t zeros = 0;
  for (std::size_t b = 0; b < 3; ++b)
    for (std::size_t j = 0; j < 12; ++j) {
      CAPTURE(b);
      CAPTURE(j);
      const double zj = code.z.value()(b, j);
      if (zj == 0) {
        ++zeros;
        CHECK(std::abs(g(b, j)) <= lambda + 1e-8);
      } else {
        CHECK(g(b, j) == doctest::Approx(lambda * (zj > 0 ? 1 : -1)).epsilon(1e-8));
      }
    }
  CHECK(zeros > 0);
  const auto s = sparse_coding::sparsity(code.z);
  CHECK(s.zero_fraction == doctest::Approx(static_cast<double>(zeros) / 36));
  CHECK(s.mean_l0 == doctest::Approx(static_cast<double>(36 - zeros) / 3));
}

TEST_CASE("normalize_columns gives every atom unit norm") {
  D w({{3.0, 0.0}, {4.0, 2.0}});
  sparse_coding::normalize_columns(w);
  CHECK(w.value() == xt::xarray<double>{{0.6, 0.0}, {0.8, 1.0}});
}
