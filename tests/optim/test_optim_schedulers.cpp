// Learning-rate schedulers: the lr sequence of each against its closed form.
#include <cmath>
#include <numbers>

#include "testing.hpp"

using namespace tg;
using namespace tg::optim;
using tg::testing::check_error;
using D = Variable<double>;

namespace {
/// An optimizer over two groups with base lrs 0.1 and 0.02.
struct Fixture {
  D w{D({1.0}, true)}, b{D({1.0}, true)};
  SGD<double> opt{std::vector<SGD<double>::Group>{{{w}, SGDOptions{.lr = 0.1}}, {{b}, SGDOptions{.lr = 0.02}}}};
};
const double base[] = {0.1, 0.02};

/// Steps the scheduler through epochs 0..n-1, checking both groups against closed(base, epoch).
template <class F>
void check_sequence(LRScheduler& sched, OptimizerBase& opt, int n, F&& closed) {
  for (int epoch = 0; epoch < n; ++epoch) {
    if (epoch > 0) sched.step();
    CHECK(sched.last_epoch() == epoch);
    for (std::size_t g = 0; g < 2; ++g) {
      INFO("epoch " << epoch << ", group " << g);
      const double expected = closed(base[g], epoch);
      CHECK(sched.get_last_lr()[g] == doctest::Approx(expected).epsilon(1e-14));
      CHECK(opt.lr(g) == doctest::Approx(expected).epsilon(1e-14));
      CHECK(sched.lr_at(g, epoch) == sched.get_last_lr()[g]);
    }
  }
}
}  // namespace

TEST_CASE("StepLR: base · gamma^floor(epoch / step_size)") {
  Fixture f;
  StepLR sched(f.opt, 3, 0.5);
  CHECK(sched.base_lrs() == std::vector<double>{0.1, 0.02});
  check_sequence(sched, f.opt, 10, [](double b, int e) { return b * std::pow(0.5, e / 3); });
  // Literal values for group 0: epochs 0-2 at 0.1, 3-5 at 0.05, 6-8 at 0.025, 9 at 0.0125.
  CHECK(sched.get_last_lr()[0] == doctest::Approx(0.0125));
}

TEST_CASE("ExponentialLR: base · gamma^epoch") {
  Fixture f;
  ExponentialLR sched(f.opt, 0.9);
  check_sequence(sched, f.opt, 12, [](double b, int e) { return b * std::pow(0.9, e); });
}

TEST_CASE("CosineAnnealingLR: eta_min + (base − eta_min)(1 + cos(π t / T_max)) / 2") {
  Fixture f;
  CosineAnnealingLR sched(f.opt, 10, 0.001);
  check_sequence(sched, f.opt, 25, [](double b, int e) {
    return 0.001 + (b - 0.001) * (1 + std::cos(std::numbers::pi * e / 10)) / 2;
  });
  CHECK(sched.lr_at(0, 10) == doctest::Approx(0.001));  // the bottom at T_max
  CHECK(sched.lr_at(0, 5) == doctest::Approx((0.1 + 0.001) / 2));
  CHECK(sched.lr_at(0, 20) == doctest::Approx(0.1));  // back up after it, as PyTorch's
}

TEST_CASE("LinearWarmup alone ramps from start_factor · base to base, then holds") {
  Fixture f;
  LinearWarmup sched(f.opt, 0.25, 4);
  check_sequence(sched, f.opt, 8, [](double b, int e) { return e < 4 ? b * (0.25 + 0.75 * e / 4) : b; });
  CHECK(sched.lr_at(0, 0) == doctest::Approx(0.025));
  CHECK(sched.lr_at(0, 2) == doctest::Approx(0.0625));
}

TEST_CASE("LinearWarmup then cosine annealing") {
  Fixture f;
  LinearWarmup sched(f.opt, 0.0, 5, std::make_unique<CosineAnnealingLR>(f.opt, 20));
  check_sequence(sched, f.opt, 30, [](double b, int e) {
    return e < 5 ? b * e / 5.0 : b * (1 + std::cos(std::numbers::pi * (e - 5) / 20)) / 2;
  });
}

TEST_CASE("a scheduler drives the optimizer's steps") {
  D p({0.0}, true);
  SGD<double> opt({p}, {.lr = 1.0});
  StepLR sched(opt, 1, 0.5);
  for (int e = 0; e < 3; ++e) {  // steps of 1, 0.5, 0.25 against a gradient of -1
    p.set_grad(D({-1.0}));
    opt.step();
    sched.step();
  }
  CHECK(p.item() == doctest::Approx(1.75));
}

TEST_CASE("set_last_epoch resumes a schedule") {
  Fixture f;
  ExponentialLR sched(f.opt, 0.5);
  sched.set_last_epoch(3);
  CHECK(f.opt.lr(0) == doctest::Approx(0.0125));
  sched.step();
  CHECK(sched.last_epoch() == 4);
  CHECK(f.opt.lr(1) == doctest::Approx(0.02 / 16));
  check_error([&] { sched.set_last_epoch(-1); }, {"ExponentialLR", "epoch -1"});
}

TEST_CASE("bad scheduler arguments throw tg::Error quoting the value") {
  Fixture f;
  check_error([&] { StepLR(f.opt, 0); }, {"StepLR", "invalid step_size 0"});
  check_error([&] { StepLR(f.opt, 2, -0.5); }, {"StepLR", "invalid gamma -0.5"});
  check_error([&] { ExponentialLR(f.opt, std::nan("")); }, {"ExponentialLR", "invalid gamma nan"});
  check_error([&] { CosineAnnealingLR(f.opt, 0); }, {"CosineAnnealingLR", "invalid T_max 0"});
  check_error([&] { CosineAnnealingLR(f.opt, 10, -1); }, {"CosineAnnealingLR", "invalid eta_min -1"});
  check_error([&] { LinearWarmup(f.opt, 1.5, 3); }, {"LinearWarmup", "invalid start_factor 1.5"});
  check_error([&] { LinearWarmup(f.opt, 0.5, 0); }, {"LinearWarmup", "invalid warmup_steps 0"});
  D q({1.0}, true);
  SGD<double> other({q});
  check_error([&] { LinearWarmup(f.opt, 0.5, 3, std::make_unique<StepLR>(other, 2)); },
              {"LinearWarmup", "another optimizer"});

  StepLR sched(f.opt, 2);
  D extra({1.0}, true);
  f.opt.add_param_group({{extra}, std::nullopt});
  check_error([&] { sched.step(); }, {"StepLR", "3 parameter groups", "built over 2"});
}

TEST_CASE("state_dict / load_state_dict restore last_epoch and the base lrs, and check before changing") {
  Fixture f;
  StepLR a(f.opt, 2, 0.5);
  for (int i = 0; i < 5; ++i) a.step();
  const StateDict<double> saved = a.state_dict();
  CHECK(saved.at("last_epoch")() == 5);
  CHECK(saved.at("base_lrs") == xt::xarray<double>{0.1, 0.02});

  Fixture g;
  g.opt.set_lr(0, 0.3);  // another base lr at construction: the saved ones win
  StepLR b(g.opt, 2, 0.5);
  b.load_state_dict(saved);
  CHECK(b.last_epoch() == 5);
  CHECK(b.base_lrs() == a.base_lrs());
  CHECK(g.opt.lr(0) == doctest::Approx(0.1 * 0.25));
  CHECK(g.opt.lr(1) == doctest::Approx(0.02 * 0.25));

  auto with = [&](const std::string& key, xt::xarray<double> value) {
    StateDict<double> s = saved;
    s[key] = std::move(value);
    return s;
  };
  check_error([&] { b.load_state_dict(with("last_epoch", xt::xarray<double>(-1.0))); }, {"StepLR.load_state_dict", "-1"});
  check_error([&] { b.load_state_dict(with("last_epoch", xt::xarray<double>(2.5))); }, {"StepLR.load_state_dict", "2.5"});
  check_error([&] { b.load_state_dict(with("base_lrs", xt::xarray<double>{0.1})); },
              {"StepLR.load_state_dict", "[1]", "2 parameter groups"});
  check_error([&] { b.load_state_dict(with("base_lrs", xt::xarray<double>{0.1, std::nan("")})); },
              {"StepLR.load_state_dict", "nan"});
  check_error([&] { b.load_state_dict(with("gamma", xt::xarray<double>(0.5))); }, {"unexpected 'gamma'"});
  StateDict<double> missing = saved;
  missing.erase("base_lrs");
  check_error([&] { b.load_state_dict(missing); }, {"missing 'base_lrs'"});
  CHECK(b.last_epoch() == 5);  // every refusal left it as it was
  CHECK(b.base_lrs() == a.base_lrs());
}
