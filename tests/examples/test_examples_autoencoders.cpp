// examples/autoencoders: the contractive penalty computed by differentiating the encoder equals
// the lecture's closed form for a sigmoid encoder, Σ_j h_j²(1−h_j)² Σ_i W_ji², and so does its
// gradient in the parameters (the second-order graph), in double.
#include "testing.hpp"

#include <cmath>
#include <vector>

#include "../../examples/autoencoders/autoencoder.hpp"

using autoencoders::AutoEncoder;
using tg::testing::check_close;
using tg::testing::D;

namespace {

/// A small auto-encoder (7 pixels, 5 hidden units) with weights large enough that h is not
/// near ½ everywhere, and a batch of 4 inputs in [0, 1] that require grad.
struct Small {
  Small() : model(7, 5) {
    tg::manual_seed(3);
    model.encoder->weight.mutable_value() = tg::testing::random_input({5, 7}, -1.5, 1.5).value();
    model.encoder->bias.mutable_value() = tg::testing::random_input({5}, -1, 1).value();
    x = tg::testing::random_input({4, 7}, 0, 1);
  }
  AutoEncoder<double> model;
  D x;
  D& weight() { return model.encoder->weight; }
  D& bias() { return model.encoder->bias; }
};

/// dy/d(wrt), keeping the graph: the tests differentiate two penalties that share the code h.
std::vector<D> grads(const D& y, const std::vector<D>& wrt) {
  return tg::grad(std::vector<D>{y}, wrt, {}, {.retain_graph = true});
}

}  // namespace

TEST_CASE("auto-encoder: shapes, reconstruction in (0, 1)") {
  Small s;
  const D h = s.model.encode(s.x), x_hat = s.model(s.x);
  CHECK(h.shape() == tg::Shape{4, 5});
  CHECK(x_hat.shape() == tg::Shape{4, 7});
  CHECK(xt::all(x_hat.value() > 0.0 && x_hat.value() < 1.0));
  CHECK(s.model.num_parameters() == 5 * 7 + 5 + 7 * 5 + 7);
}

TEST_CASE("contractive penalty: autodiff over the basis equals the closed form, value and gradient") {
  Small s;
  const D h = s.model.encode(s.x);
  const D exact = autoencoders::contractive_penalty_exact(h, s.x);
  const D closed = autoencoders::contractive_penalty_closed_form(h, s.weight());
  CHECK(exact.item() > 0.01);  // not a trivially small number
  CHECK(exact.item() == doctest::Approx(closed.item()).epsilon(1e-12));

  // the second-order graph's gradient in W and b against the closed form's (first-order) one
  const auto g_exact = grads(exact, {s.weight(), s.bias()});
  const auto g_closed = grads(closed, {s.weight(), s.bias()});
  check_close(g_exact[0], g_closed[0], 1e-12);
  check_close(g_exact[1], g_closed[1], 1e-12);
}

TEST_CASE("contractive penalty: its gradient in W and b matches central differences") {
  // Central differences written out over W and b (the module's parameters, not a list of inputs).
  Small s;
  auto penalty = [&] { return autoencoders::contractive_penalty_exact(s.model.encode(s.x), s.x); };
  for (D* p : {&s.weight(), &s.bias()}) {
    const D analytic = grads(penalty(), {*p})[0];
    for (std::size_t k = 0; k < p->value().size(); ++k) {
      const double saved = p->value().flat(k), eps = 1e-6;
      p->mutable_value().flat(k) = saved + eps;
      const double up = penalty().item();
      p->mutable_value().flat(k) = saved - eps;
      const double down = penalty().item();
      p->mutable_value().flat(k) = saved;
      const double numeric = (up - down) / (2 * eps);
      INFO("entry " << k << " of a parameter " << tg::shape_str(p->shape()));
      CHECK(analytic.value().flat(k) == doctest::Approx(numeric).epsilon(1e-6).scale(1e-3));
    }
  }
}

TEST_CASE("closed form per sample: the squared Frobenius norm of the Jacobian written out") {
  Small s;
  const D h = s.model.encode(s.x);
  const D per_sample = autoencoders::jacobian_norm_sq_closed_form(h, s.weight());
  REQUIRE(per_sample.shape() == tg::Shape{4});
  for (std::size_t b = 0; b < 4; ++b) {
    double expected = 0;
    for (std::size_t j = 0; j < 5; ++j)
      for (std::size_t i = 0; i < 7; ++i) {
        const double d = h.value()(b, j) * (1 - h.value()(b, j)) * s.weight().value()(j, i);  // ∂h_j/∂x_i
        expected += d * d;
      }
    CHECK(per_sample.value()(b) == doctest::Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("Hutchinson probe: one tg::grad gives ||Jᵀr||² per sample, and its expectation is exact") {
  Small s;
  const D h = s.model.encode(s.x);

  SUBCASE("a given probe: Jᵀ r = Wᵀ (r ⊙ h (1 − h)) per sample") {
    const D r = tg::randn<double>({4, 5});
    double expected = 0;
    for (std::size_t b = 0; b < 4; ++b)
      for (std::size_t i = 0; i < 7; ++i) {
        double jt_r = 0;
        for (std::size_t j = 0; j < 5; ++j)
          jt_r += s.weight().value()(j, i) * r.value()(b, j) * h.value()(b, j) * (1 - h.value()(b, j));
        expected += jt_r * jt_r;
      }
    CHECK(autoencoders::jacobian_probe(h, s.x, r).item() == doctest::Approx(expected).epsilon(1e-12));
  }

  SUBCASE("the mean over all 2^5 Rademacher probes is the closed form, value and gradient") {
    // E over r in {±1}^H of ||Jᵀr||² is tr(J Jᵀ) exactly: enumerate the distribution training samples from
    D mean;
    for (unsigned bits = 0; bits < 32; ++bits) {
      auto r = xt::xarray<double>::from_shape({4, 5});
      for (std::size_t b = 0; b < 4; ++b)
        for (std::size_t j = 0; j < 5; ++j) r(b, j) = (bits >> j) & 1u ? 1.0 : -1.0;
      const D term = autoencoders::jacobian_probe(h, s.x, D(std::move(r))) * (1.0 / 32);
      mean = bits == 0 ? term : mean + term;
    }
    const D closed = autoencoders::contractive_penalty_closed_form(h, s.weight());
    CHECK(mean.item() == doctest::Approx(closed.item()).epsilon(1e-12));
    check_close(grads(mean, {s.weight()})[0], grads(closed, {s.weight()})[0], 1e-12);
  }

  SUBCASE("summed over a random orthonormal basis it is the closed form") {
    // Gram-Schmidt on a random 5x5 matrix: rows q_k; probe k puts q_k on every sample
    xt::xarray<double> q = tg::randn<double>({5, 5}).value();
    for (std::size_t k = 0; k < 5; ++k) {
      for (std::size_t l = 0; l < k; ++l) {
        double dot = 0;
        for (std::size_t i = 0; i < 5; ++i) dot += q(k, i) * q(l, i);
        for (std::size_t i = 0; i < 5; ++i) q(k, i) -= dot * q(l, i);
      }
      double norm = 0;
      for (std::size_t i = 0; i < 5; ++i) norm += q(k, i) * q(k, i);
      for (std::size_t i = 0; i < 5; ++i) q(k, i) /= std::sqrt(norm);
    }
    double total = 0;
    for (std::size_t k = 0; k < 5; ++k) {
      auto r = xt::xarray<double>::from_shape({4, 5});
      for (std::size_t b = 0; b < 4; ++b)
        for (std::size_t j = 0; j < 5; ++j) r(b, j) = q(k, j);
      total += autoencoders::jacobian_probe(h, s.x, D(std::move(r))).item();
    }
    CHECK(total == doctest::Approx(autoencoders::contractive_penalty_closed_form(h, s.weight()).item()).epsilon(1e-12));
  }

  SUBCASE("the random estimate averages to the closed form") {
    tg::manual_seed(11);
    double sum = 0;
    const int draws = 4000;
    for (int k = 0; k < draws; ++k) sum += autoencoders::contractive_penalty_estimate(h, s.x).item();
    // deterministic under the seed; 4000 draws put the mean within about 1% here
    const double closed = autoencoders::contractive_penalty_closed_form(h, s.weight()).item();
    CHECK(sum / draws == doctest::Approx(closed).epsilon(0.03));
  }
}

TEST_CASE("contractive penalty: errors name the function and the shapes") {
  Small s;
  const D h = s.model.encode(s.x);
  tg::testing::check_error([&] { autoencoders::jacobian_probe(h, s.x, tg::randn<double>({4, 6})); },
                           {"jacobian_probe", "[4,5]", "[4,6]"});
  const D x_fixed(s.x.value());
  tg::testing::check_error(
      [&] { autoencoders::jacobian_probe(s.model.encode(x_fixed), x_fixed, tg::randn<double>({4, 5})); },
      {"jacobian_probe", "[4,7]", "require grad"});
  tg::testing::check_error([&] { autoencoders::contractive_penalty_estimate(h, s.x, 0); },
                           {"contractive_penalty_estimate", "probes"});
  tg::testing::check_error([&] { autoencoders::jacobian_norm_sq_closed_form(h, s.model.decoder->weight); },
                           {"jacobian_norm_sq_closed_form", "[4,5]", "[7,5]"});
}
