// Energy-based losses and inference: values against hand computation, first and second
// derivatives against finite differences, inference against energies of known minimum.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xadapt.hpp>

#include "testing.hpp"

using namespace tg;
using tg::testing::check_error;
using tg::testing::D;
using tg::testing::random_input;
namespace en = tg::energy;

namespace {

// Two samples, three answers. Sample 0: target 1 (E 2), incorrect {1, 3}: Ebar = 1, min E = 1.
// Sample 1: target 2 (E 2), incorrect {0.5, -1}: Ebar = -1, min E = -1.
D energies() { return D({{1.0, 2.0, 3.0}, {0.5, -1.0, 2.0}}, true); }
IndexArray targets() { return IndexArray{1, 2}; }

/// A [n, 1] column: one scalar answer Y per sample.
D column(std::initializer_list<double> values) {
  xt::xarray<double> v = xt::adapt(std::vector<double>(values), {values.size(), std::size_t(1)});
  return D(std::move(v));
}

void check_values(const D& got, std::initializer_list<double> want) {
  tg::testing::check_close(got.value(), std::vector<double>(want), 1e-9);
}

/// gradcheck and gradgradcheck of a discrete loss over random energies [4, 5].
template <class F>
void check_derivatives(F loss) {
  manual_seed(7);
  const D e = random_input({4, 5});
  const IndexArray y{0, 3, 4, 1};
  auto f = [&](const std::vector<D>& in) { return loss(in[0], y); };
  CHECK(gradcheck(f, {e}));
  CHECK(gradgradcheck(f, {e}));
}

/// gradcheck and gradgradcheck of a margin loss over random (E_correct, E_bar) pairs.
template <class F>
void check_pair_derivatives(F loss, double lo = -2, double hi = 2) {
  manual_seed(11);
  const D ec = random_input({6}, lo, hi), eb = random_input({6}, lo, hi);
  auto f = [&](const std::vector<D>& in) { return loss(in[0], in[1]); };
  CHECK(gradcheck(f, {ec, eb}));
  CHECK(gradgradcheck(f, {ec, eb}));
}

}  // namespace

TEST_CASE("energy: correct energy, most offending incorrect answer, prediction, gap") {
  check_values(en::correct_energy(energies(), targets()), {2, 2});
  check_values(en::most_offending_incorrect(energies(), targets()), {1, -1});
  CHECK(en::most_offending_incorrect_index(energies(), targets()) == IndexArray{0, 1});
  CHECK(en::predict(energies()) == IndexArray{0, 1});
  check_values(en::energy_gap(energies(), targets()), {-1, -3});

  // The target is never picked, even when it has by far the lowest energy.
  const D e({{-100.0, 5.0, 7.0}, {3.0, 4.0, 9.0}});
  CHECK(en::most_offending_incorrect_index(e, IndexArray{0, 0}) == IndexArray{1, 1});
  CHECK(en::most_offending_incorrect_index(e, IndexArray{1, 2}) == IndexArray{0, 0});
  check_values(en::most_offending_incorrect(e, IndexArray{0, 0}), {5, 4});

  // The gradient of Ebar goes to the most offending answer only.
  D x = energies();
  en::most_offending_incorrect(x, targets()).backward(Variable<double>(xt::xarray<double>{1.0, 1.0}));
  CHECK(x.grad().value() == xt::xarray<double>{{1, 0, 0}, {0, 1, 0}});
}

TEST_CASE("energy: free energy is a soft min") {
  const D e = energies();
  check_values(en::free_energy(e, 1.0), {-std::log(std::exp(-1.0) + std::exp(-2.0) + std::exp(-3.0)),
                                         -std::log(std::exp(-0.5) + std::exp(1.0) + std::exp(-2.0))});
  // As beta grows the free energy approaches min_Y E.
  check_values(en::free_energy(D({{1.0, 2.0, 3.0}}), 200.0), {1.0});
  CHECK(gradcheck([](const std::vector<D>& in) { return en::free_energy(in[0], 0.7); }, {random_input({3, 4})}));
  CHECK(gradgradcheck([](const std::vector<D>& in) { return en::free_energy(in[0], 0.7); }, {random_input({3, 4})}));
}

TEST_CASE("energy: discrete losses against hand-computed values") {
  const D e = energies();
  const IndexArray y = targets();
  const en::EnergyLossOptions none{.reduction = en::Reduction::none};
  check_values(en::energy_loss(e, y, none), {2, 2});
  check_values(en::perceptron_loss(e, y, none), {1, 3});
  check_values(en::hinge_loss(e, y, none), {2, 4});
  check_values(en::hinge_loss(e, y, {.reduction = en::Reduction::none, .margin = 0.5}), {1.5, 3.5});
  check_values(en::log_loss(e, y, none), {1.3132616875182228, 3.048587351573742});
  check_values(en::lvq2_loss(e, y, {.reduction = en::Reduction::none, .saturation = 2}), {1, 2});
  check_values(en::mce_loss(e, y, none), {0.7310585786300049, 0.9525741268224334});
  check_values(en::square_square_loss(e, y, none), {4, 8});
  check_values(en::square_exp_loss(e, y, none), {4.367879441171443, 6.718281828459045});
  check_values(en::square_exp_loss(e, y, {.reduction = en::Reduction::none, .k = 2, .beta = 0.5}),
               {4 + 2 * std::exp(-0.5), 4 + 2 * std::exp(0.5)});
  check_values(en::nll_loss(e, y, none), {1.4076059644443804, 3.241311296657157});
  check_values(en::nll_loss(e, y, {.reduction = en::Reduction::none, .beta = 2}), {1.0714658142499496, 3.025472881761499});

  // Reductions.
  check_values(en::hinge_loss(e, y), {3});
  check_values(en::hinge_loss(e, y, {.reduction = en::Reduction::sum}), {6});
  CHECK(en::hinge_loss(e, y).dim() == 0);

  // A correct answer with the margin costs nothing under the margin losses.
  const D good({{0.0, 3.0, 4.0}});
  const IndexArray zero{0};
  check_values(en::hinge_loss(good, zero), {0});
  check_values(en::lvq2_loss(good, zero), {0});
  check_values(en::square_square_loss(good, zero, {.margin = 2}), {0});
  check_values(en::perceptron_loss(good, zero), {0});
}

TEST_CASE("energy: margin losses of (E_correct, E_bar) tensors") {
  const D ec({0.5, 2.0}), eb({1.0, 0.0});
  check_values(en::energy_loss(ec), {0.5, 2.0});
  check_values(en::perceptron_loss(ec, D({0.5, -1.0})), {0, 3});
  check_values(en::hinge_loss(ec, eb, 1.0), {0.5, 3});
  check_values(en::log_loss(ec, eb), {std::log1p(std::exp(-0.5)), std::log1p(std::exp(2.0))});
  check_values(en::lvq2_loss(ec, eb, 1.5), {0, 1.5});
  check_values(en::mce_loss(ec, eb), {1 / (1 + std::exp(0.5)), 1 / (1 + std::exp(-2.0))});
  check_values(en::square_square_loss(ec, eb, 2.0), {0.25 + 1, 4 + 4});
  check_values(en::square_exp_loss(ec, eb, 3.0, 2.0), {0.25 + 3 * std::exp(-2.0), 4 + 3});
  check_values(en::nll_loss(ec, D({0.25, 1.0})), {0.25, 1});
  // Broadcasting: one E_bar for every sample.
  check_values(en::hinge_loss(ec, D(xt::xarray<double>(1.0)), 1.0), {0.5, 2});
  // The soft hinge does not overflow far from the margin.
  check_values(en::log_loss(D(xt::xarray<double>{1000.0}), D(xt::xarray<double>{0.0})), {1000});
}

TEST_CASE("energy: gradients of every discrete loss (double, first and second order)") {
  const auto none = en::Reduction::none;
  check_derivatives([](const D& e, const IndexArray& y) { return en::energy_loss(e, y); });
  check_derivatives([](const D& e, const IndexArray& y) { return en::perceptron_loss(e, y); });
  check_derivatives([&](const D& e, const IndexArray& y) { return en::hinge_loss(e, y, {.reduction = none}); });
  check_derivatives([](const D& e, const IndexArray& y) { return en::log_loss(e, y, {.reduction = en::Reduction::sum}); });
  check_derivatives([&](const D& e, const IndexArray& y) { return en::lvq2_loss(e, y, {.reduction = none, .saturation = 1.5}); });
  check_derivatives([](const D& e, const IndexArray& y) { return en::mce_loss(e, y); });
  check_derivatives([&](const D& e, const IndexArray& y) { return en::square_square_loss(e, y, {.reduction = none}); });
  check_derivatives([](const D& e, const IndexArray& y) { return en::square_exp_loss(e, y, {.k = 0.5, .beta = 1.5}); });
  check_derivatives([&](const D& e, const IndexArray& y) { return en::nll_loss(e, y, {.reduction = none, .beta = 0.8}); });
  check_derivatives([](const D& e, const IndexArray& y) { return en::energy_gap(e, y); });
}

TEST_CASE("energy: gradients of every margin loss (double, first and second order)") {
  check_pair_derivatives([](const D& a, const D&) { return en::energy_loss(a); });
  check_pair_derivatives([](const D& a, const D& b) { return en::perceptron_loss(a, b); });
  check_pair_derivatives([](const D& a, const D& b) { return en::hinge_loss(a, b, 0.3); });
  check_pair_derivatives([](const D& a, const D& b) { return en::log_loss(a, b); });
  check_pair_derivatives([](const D& a, const D& b) { return en::lvq2_loss(a, b, 1.0); });
  check_pair_derivatives([](const D& a, const D& b) { return en::mce_loss(a, b); });
  check_pair_derivatives([](const D& a, const D& b) { return en::square_square_loss(a, b, 1.0); });
  check_pair_derivatives([](const D& a, const D& b) { return en::square_exp_loss(a, b, 2.0, 0.7); });
  check_pair_derivatives([](const D& a, const D& b) { return en::nll_loss(a, b); });
}

TEST_CASE("energy: float losses run and agree with double") {
  const Var e({{1.0f, 2.0f, 3.0f}, {0.5f, -1.0f, 2.0f}}, true);
  const Variable<float> l = en::nll_loss(e, targets());
  CHECK(l.item() == doctest::Approx((1.4076059644443804 + 3.241311296657157) / 2).epsilon(1e-5));
  l.backward();
  CHECK(e.has_grad());
}

namespace {
using DiscreteLoss = std::function<D(const D&, const IndexArray&, const en::EnergyLossOptions&)>;
#define TG_DISCRETE(name) \
  std::pair<std::string, DiscreteLoss> { #name, [](const D& e, const IndexArray& y, const en::EnergyLossOptions& o) { return en::name(e, y, o); } }
/// The nine discrete losses, by name.
const std::vector<std::pair<std::string, DiscreteLoss>> discrete_losses = {
    TG_DISCRETE(energy_loss), TG_DISCRETE(perceptron_loss),    TG_DISCRETE(hinge_loss),
    TG_DISCRETE(log_loss),    TG_DISCRETE(lvq2_loss),          TG_DISCRETE(mce_loss),
    TG_DISCRETE(square_square_loss), TG_DISCRETE(square_exp_loss), TG_DISCRETE(nll_loss)};
#undef TG_DISCRETE
}  // namespace

TEST_CASE("energy: an empty batch gives an empty per-sample loss, a sum of 0, and no mean") {
  // energies [0, 3]: before, the masked min took minmax_element of nothing (undefined behaviour)
  D e(xt::xarray<double>::from_shape({0, 3}), true);
  const IndexArray y = xt::empty<Index>(Shape{0});
  for (const auto& [name, loss] : discrete_losses) {
    INFO(name);
    const D per_sample = loss(e, y, {.reduction = en::Reduction::none});
    CHECK(per_sample.shape() == Shape{0});
    const D total = loss(e, y, {.reduction = en::Reduction::sum});
    REQUIRE(total.dim() == 0);
    CHECK(total.item() == 0.0);
    total.backward();
    CHECK(e.grad().shape() == Shape{0, 3});
    e.zero_grad();
    check_error([&] { loss(e, y, {}); }, {name + ": the mean over an empty batch", "[0,3]", "Reduction::sum"});
  }
  CHECK(en::correct_energy(e, y).shape() == Shape{0});
  CHECK(en::most_offending_incorrect(e, y).shape() == Shape{0});
  CHECK(en::most_offending_incorrect_index(e, y).shape() == Shape{0});
  CHECK(en::energy_gap(e, y).shape() == Shape{0});
  CHECK(en::predict(e).shape() == Shape{0});
}

TEST_CASE("energy: the most offending incorrect answer is never the target, at any magnitude (float)") {
  // In float 1e8 + 17 rounds to 1e8 + 16: the old lift of the target by (spread + 1) made it
  // tie with the others, so argmin picked the target and the min's gradient was shared with it.
  const Var two({{1e8f, 1e8f + 16}}, true);
  CHECK(en::most_offending_incorrect_index(two, IndexArray{0}) == IndexArray{1});
  CHECK(en::most_offending_incorrect(two, IndexArray{0}).item() == 1e8f + 16);
  en::most_offending_incorrect(two, IndexArray{0}).backward(Var(xt::xarray<float>{1.0f}));
  CHECK(two.grad().value() == xt::xarray<float>{{0, 1}});

  const Var same({{1e8f, 1e8f, 1e8f}, {1e8f, 1e8f, 1e8f}}, true);  // spread 0: the lift 1 vanished
  CHECK(en::most_offending_incorrect_index(same, IndexArray{0, 1}) == IndexArray{1, 0});
  en::most_offending_incorrect(same, IndexArray{0, 1}).backward(Var(xt::xarray<float>{1.0f, 1.0f}));
  // the gradient is shared by the tied incorrect answers only (before: a third to the target too)
  CHECK(same.grad().value() == xt::xarray<float>{{0, 0.5f, 0.5f}, {0.5f, 0, 0.5f}});

  // A target with +inf energy, or an incorrect answer at +inf, is still handled exactly.
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(en::most_offending_incorrect_index(Var({{inf, 3.0f, 2.0f}}), IndexArray{0}) == IndexArray{2});
  CHECK(en::most_offending_incorrect(Var({{1.0f, inf}}), IndexArray{0}).item() == inf);
}

TEST_CASE("energy: energy_loss(E_correct) is its own node") {
  D ec({0.5, 2.0}, true);
  ec.set_name("E_correct");
  D l = en::energy_loss(ec);
  CHECK_FALSE(l.same_node(ec));
  l.set_name("L");
  CHECK(ec.name() == "E_correct");
  const auto g = tg::grad({sum(l * D({3.0, 5.0}))}, {ec, l});
  CHECK(g[0].value() == xt::xarray<double>{3, 5});
  CHECK(g[1].value() == xt::xarray<double>{3, 5});
}

TEST_CASE("energy: bad inputs name the loss and the shapes") {
  const D e = energies();
  check_error([&] { en::hinge_loss(e, IndexArray{1, 2, 0}); }, {"hinge_loss", "[2,3]", "[3]"});
  check_error([&] { en::most_offending_incorrect(e, IndexArray{1, 2, 0}); }, {"most_offending_incorrect", "[2,3]", "[3]"});
  check_error([&] { en::nll_loss(e, IndexArray{1, 3}); }, {"nll_loss", "target 3", "[0, 3)"});
  check_error([&] { en::mce_loss(column({1.0, 2.0}), IndexArray{0, 0}); }, {"mce_loss", "k = 1", "[2,1]"});
  check_error([&] { en::correct_energy(e, IndexArray{1, 3}); }, {"correct_energy", "target 3", "[0, 3)"});
  check_error([&] { en::correct_energy(e, IndexArray{-1, 0}); }, {"correct_energy", "target -1"});
  check_error([&] { en::energy_loss(D({1.0, 2.0}), IndexArray{0, 1}); }, {"energy_loss", "[batch, k]", "[2]"});
  check_error([&] { en::most_offending_incorrect(column({1.0, 2.0}), IndexArray{0, 0}); },
              {"most_offending_incorrect", "k = 1", "[2,1]"});
  check_error([&] { en::hinge_loss(D({1.0, 2.0}), D({1.0, 2.0, 3.0}), 1.0); }, {"hinge_loss", "[2]", "[3]"});
  check_error([&] { en::free_energy(e, 0.0); }, {"free_energy", "beta"});
  check_error([&] { en::nll_loss(e, targets(), {.beta = -1}); }, {"free_energy", "beta"});
  check_error([&] { en::lvq2_loss(D(xt::xarray<double>{1.0}), D(xt::xarray<double>{1.0}), -1.0); }, {"lvq2_loss", "saturation", "got -1"});
}

// ---- inference ----------------------------------------------------------------------------------

TEST_CASE("minimize_energy: finds the known minimum of a quadratic, per sample, W untouched") {
  // E(W, Y) = sum_j (Y_j - W_j)^2 per sample, minimum at Y = W with energy 0.
  D w({{1.0, -2.0}, {0.5, 3.0}, {-1.0, 0.0}}, true);
  en::EnergyFunction<double> energy = [&](const std::vector<D>& v) { return sum(pow(v[0] - w, 2.0), {1}); };
  const auto m = en::minimize_energy<double>(energy, {{zeros<double>({3, 2})}}, {.steps = 200, .step_size = 0.1});
  REQUIRE(m.values.size() == 1);
  CHECK(xt::allclose(m.values[0].value(), w.value(), 1e-6, 1e-6));
  CHECK(xt::allclose(m.energy.value(), xt::zeros<double>({3}), 0, 1e-10));
  CHECK(m.energy.shape() == Shape{3});
  // Only dE/dY was asked for: W's gradient is untouched and the result is a detached leaf.
  CHECK_FALSE(w.has_grad());
  CHECK_FALSE(m.values[0].requires_grad());
  // Works from evaluation code running without grad, too.
  NoGradGuard no_grad;
  const auto again = en::minimize_energy<double>(energy, {{ones<double>({3, 2})}}, {.steps = 200});
  CHECK(xt::allclose(again.values[0].value(), w.value(), 1e-6, 1e-6));
}

TEST_CASE("minimize_energy: several starting points find the global minimum of a double well") {
  // E(y) = (y^2 - 1)^2 + 0.3 y: a local minimum near +0.96 and the global one near -1.04.
  en::EnergyFunction<double> energy = [](const std::vector<D>& v) {
    return sum(pow(pow(v[0], 2.0) - 1.0, 2.0) + v[0] * 0.3);
  };
  const en::MinimizeOptions o{.steps = 300, .step_size = 0.02};
  const auto local = en::minimize_energy<double>(energy, {{D(xt::xarray<double>{2.0})}}, o);
  CHECK(local.values[0].item() > 0.9);
  const auto global = en::minimize_energy<double>(energy, {{D(xt::xarray<double>{2.0})}, {D(xt::xarray<double>{-2.0})}}, o);
  CHECK(global.values[0].item() < -1.0);
  CHECK(global.energy.item() < local.energy.item());
  CHECK(global.energy.dim() == 0);
}

TEST_CASE("minimize_energy: the forbidden sphere and the box are respected") {
  // Quadratic bowl centred at c: with a forbidden sphere of radius r around c itself, the
  // lowest energy allowed is on the sphere, r away, with energy r^2.
  const D c = column({0.3, -0.4, 0.8});
  en::EnergyFunction<double> energy = [&](const std::vector<D>& v) { return sum(pow(v[0] - c, 2.0), {1}); };
  const en::MinimizeOptions o{.steps = 100, .step_size = 0.1, .forbidden_radius = 0.2};
  const auto m = en::minimize_energy<double>(energy, {{column({0.31, -0.4, 2.0})}}, o, c);
  const xt::xarray<double> distance = xt::abs(m.values[0].value() - c.value());
  CHECK(xt::all(distance >= 0.2 - 1e-9));
  CHECK(xt::allclose(distance, xt::full_like(distance, 0.2), 0, 1e-6));
  CHECK(xt::allclose(m.energy.value(), xt::full_like(m.energy.value(), 0.04), 0, 1e-6));

  // A box that cuts off the side of the sphere the descent heads for: the other side is used.
  const en::MinimizeOptions boxed{.steps = 100, .step_size = 0.1, .upper = 0.9, .forbidden_radius = 0.2};
  const auto b = en::minimize_energy<double>(energy, {{column({0.35, -0.3, 0.85})}}, boxed, c);
  CHECK(b.values[0].value()(2, 0) == doctest::Approx(0.6));
  CHECK(xt::all(b.values[0].value() <= 0.9));

  // In two dimensions the sphere is a circle: every answer ends at distance r.
  const D c2({{0.0, 0.0}, {1.0, 1.0}});
  en::EnergyFunction<double> e2 = [&](const std::vector<D>& v) { return sum(pow(v[0] - c2, 2.0), {1}); };
  const auto m2 = en::minimize_energy<double>(e2, {{D({{0.05, 0.0}, {1.0, 1.0}})}}, {.steps = 50, .forbidden_radius = 0.5}, c2);
  const xt::xarray<double> d2 = xt::sqrt(xt::sum(xt::square(m2.values[0].value() - c2.value()), {1}));
  CHECK(xt::allclose(d2, xt::full_like(d2, 0.5), 0, 1e-9));
}

TEST_CASE("minimize_energy: several variables (Y and a latent Z) together") {
  // E(Y, Z) = (Y - 2Z)^2 + (Z - 1)^2 per sample: minimum at Z = 1, Y = 2.
  en::EnergyFunction<double> energy = [](const std::vector<D>& v) {
    return sum(pow(v[0] - v[1] * 2.0, 2.0) + pow(v[1] - 1.0, 2.0), {1});
  };
  const auto m = en::minimize_energy<double>(energy, {{zeros<double>({2, 1}), zeros<double>({2, 1})}}, {.steps = 400, .step_size = 0.1});
  CHECK(xt::allclose(m.values[0].value(), xt::full_like(m.values[0].value(), 2.0), 0, 1e-5));
  CHECK(xt::allclose(m.values[1].value(), xt::full_like(m.values[1].value(), 1.0), 0, 1e-5));
}

TEST_CASE("minimize_energy: bad arguments are named") {
  en::EnergyFunction<double> energy = [](const std::vector<D>& v) { return sum(pow(v[0], 2.0), {1}); };
  check_error([&] { en::minimize_energy<double>(energy, {}); }, {"minimize_energy", "starting point"});
  check_error([&] { en::minimize_energy<double>(energy, {{zeros<double>({2, 1})}}, {.step_size = 0}); }, {"minimize_energy", "step_size"});
  check_error([&] { en::minimize_energy<double>(energy, {{zeros<double>({2, 1})}, {zeros<double>({3, 1})}}); },
              {"minimize_energy", "[3,1]", "[2,1]"});
  check_error([&] { en::minimize_energy<double>(energy, {{zeros<double>({2, 1})}}, {.forbidden_radius = 0.1}, zeros<double>({3})); },
              {"minimize_energy", "forbidden center", "[3]", "[2,1]"});
  en::EnergyFunction<double> wrong = [](const std::vector<D>& v) { return pow(v[0], 2.0); };
  check_error([&] { en::minimize_energy<double>(wrong, {{zeros<double>({2, 1})}}); }, {"minimize_energy", "[2,1]", "per-sample"});
}
