// Optimizers: each update rule against PyTorch's documented formulas, written out here in
// double; convergence; parameter groups; no graph growth; bit-exact resume; bad options.
#include <cmath>
#include <functional>
#include <memory>

#include "testing.hpp"

using namespace tg;
using namespace tg::optim;
using tg::testing::check_error;
using D = Variable<double>;
using Vec = std::vector<double>;

namespace {

// ---- the hand-set problem: one parameter of three values, three gradients ----------------------
const Vec theta0 = {0.5, -1.5, 2.0};
const std::vector<Vec> grads = {{0.2, -0.4, 1.0}, {-0.3, 0.1, 0.8}, {0.25, 0.5, -0.6}};

template <class T>
Variable<T> vec(const Vec& v, bool requires_grad = false) {
  xt::xarray<T> a = xt::xarray<T>::from_shape({v.size()});
  for (std::size_t i = 0; i < v.size(); ++i) a(i) = static_cast<T>(v[i]);
  return Variable<T>(std::move(a), requires_grad);
}

/// Runs three steps with grads[0..2] set by hand; the parameter's values after each.
template <class T>
std::vector<Vec> run(Optimizer<T>& opt, Variable<T>& p) {
  std::vector<Vec> out;
  for (const auto& g : grads) {
    p.set_grad(vec<T>(g));
    opt.step();
    out.emplace_back(p.value().begin(), p.value().end());
  }
  return out;
}

void check_steps(const std::vector<Vec>& got, const std::vector<Vec>& expected, double eps = 1e-12) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t t = 0; t < got.size(); ++t)
    for (std::size_t i = 0; i < got[t].size(); ++i) {
      INFO("step " << t + 1 << ", element " << i);
      CHECK(got[t][i] == doctest::Approx(expected[t][i]).epsilon(eps));
    }
}

// ---- the documented algorithms, one scalar loop each (torch.optim docs) ------------------------

/// SGD: g += λθ; b = g (t = 1) or μb + (1 − τ)g; g = g + μb (Nesterov) or b; θ −= γg.
std::vector<Vec> sgd_reference(double lr, double mu, double tau, double wd, bool nesterov, bool maximize = false) {
  Vec th = theta0, b(3, 0.0);
  std::vector<Vec> out;
  for (std::size_t t = 1; t <= 3; ++t) {
    for (std::size_t i = 0; i < 3; ++i) {
      double g = maximize ? -grads[t - 1][i] : grads[t - 1][i];
      if (wd != 0) g = g + wd * th[i];
      if (mu != 0) {
        b[i] = t > 1 ? mu * b[i] + (1 - tau) * g : g;
        g = nesterov ? g + mu * b[i] : b[i];
      }
      th[i] = th[i] - lr * g;
    }
    out.push_back(th);
  }
  return out;
}

/// Adam / AdamW: θ −= γλθ (AdamW) or g += λθ (Adam); m = β1 m + (1 − β1)g; v = β2 v + (1 − β2)g²;
/// m̂ = m/(1 − β1^t); v_max = max(v_max, v), v̂ = v_max/(1 − β2^t) (AMSGrad) or v/(1 − β2^t);
/// θ −= γ m̂/(√v̂ + ε).
std::vector<Vec> adam_reference(double lr, double b1, double b2, double eps, double wd, bool amsgrad,
                                bool decoupled) {
  Vec th = theta0, m(3, 0.0), v(3, 0.0), v_max(3, 0.0);
  std::vector<Vec> out;
  for (int t = 1; t <= 3; ++t) {
    for (std::size_t i = 0; i < 3; ++i) {
      double g = grads[t - 1][i];
      if (decoupled)
        th[i] = th[i] - lr * wd * th[i];
      else if (wd != 0)
        g = g + wd * th[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(b1, t));
      double v_hat;
      if (amsgrad) {
        v_max[i] = std::max(v_max[i], v[i]);
        v_hat = v_max[i] / (1 - std::pow(b2, t));
      } else {
        v_hat = v[i] / (1 - std::pow(b2, t));
      }
      th[i] = th[i] - lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    out.push_back(th);
  }
  return out;
}

/// RMSprop: g += λθ; v = αv + (1 − α)g²; ṽ = v, or v − ĝ² with ĝ = αĝ + (1 − α)g (centered);
/// b = μb + g/(√ṽ + ε), θ −= γb (μ > 0), else θ −= γ g/(√ṽ + ε).
std::vector<Vec> rmsprop_reference(double lr, double alpha, double eps, double wd, double mu, bool centered) {
  Vec th = theta0, v(3, 0.0), g_avg(3, 0.0), b(3, 0.0);
  std::vector<Vec> out;
  for (int t = 1; t <= 3; ++t) {
    for (std::size_t i = 0; i < 3; ++i) {
      double g = grads[t - 1][i];
      if (wd != 0) g = g + wd * th[i];
      v[i] = alpha * v[i] + (1 - alpha) * g * g;
      double v_tilde = v[i];
      if (centered) {
        g_avg[i] = alpha * g_avg[i] + (1 - alpha) * g;
        v_tilde = v_tilde - g_avg[i] * g_avg[i];
      }
      if (mu > 0) {
        b[i] = mu * b[i] + g / (std::sqrt(v_tilde) + eps);
        th[i] = th[i] - lr * b[i];
      } else {
        th[i] = th[i] - lr * g / (std::sqrt(v_tilde) + eps);
      }
    }
    out.push_back(th);
  }
  return out;
}

/// Adagrad: γ̃ = γ/(1 + (t − 1)η); g += λθ; s = s + g² (s₀ = τ); θ −= γ̃ g/(√s + ε).
std::vector<Vec> adagrad_reference(double lr, double lr_decay, double wd, double init, double eps) {
  Vec th = theta0, s(3, init);
  std::vector<Vec> out;
  for (int t = 1; t <= 3; ++t) {
    const double clr = lr / (1 + (t - 1) * lr_decay);
    for (std::size_t i = 0; i < 3; ++i) {
      double g = grads[t - 1][i];
      if (wd != 0) g = g + wd * th[i];
      s[i] = s[i] + g * g;
      th[i] = th[i] - clr * g / (std::sqrt(s[i]) + eps);
    }
    out.push_back(th);
  }
  return out;
}

}  // namespace

// ---- update rules ---------------------------------------------------------------------------------

TEST_CASE("SGD by literal numbers: plain and with momentum") {
  D p({1.0}, true);
  SGD<double> plain({p}, {.lr = 0.1});
  p.set_grad(D({2.0}));
  plain.step();
  CHECK(p.item() == doctest::Approx(0.8));  // 1 − 0.1·2

  D q({1.0}, true);
  SGD<double> heavy({q}, {.lr = 0.1, .momentum = 0.9});
  const double expected[] = {0.9, 0.71, 0.439};  // b = 1, 1.9, 2.71; θ −= 0.1·b
  for (double e : expected) {
    q.set_grad(D({1.0}));
    heavy.step();
    CHECK(q.item() == doctest::Approx(e).epsilon(1e-14));
  }
}

TEST_CASE("SGD variants follow PyTorch's formulas") {
  struct Case {
    const char* what;
    SGDOptions options;
  };
  const Case cases[] = {
      {"plain", {.lr = 0.1}},
      {"momentum", {.lr = 0.1, .momentum = 0.9}},
      {"dampening", {.lr = 0.1, .momentum = 0.9, .dampening = 0.3}},
      {"nesterov", {.lr = 0.1, .momentum = 0.9, .nesterov = true}},
      {"weight decay", {.lr = 0.1, .weight_decay = 0.05}},
      {"everything", {.lr = 0.05, .momentum = 0.8, .weight_decay = 0.1, .nesterov = true}},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    D p = vec<double>(theta0, true);
    SGD<double> opt({p}, c.options);
    const auto& o = c.options;
    check_steps(run(opt, p), sgd_reference(o.lr, o.momentum, o.dampening, o.weight_decay, o.nesterov));
  }
}

TEST_CASE("SGD maximize ascends") {
  D p = vec<double>(theta0, true);
  SGD<double> opt({p}, {.lr = 0.1, .momentum = 0.5, .weight_decay = 0.1, .maximize = true});
  check_steps(run(opt, p), sgd_reference(0.1, 0.5, 0, 0.1, false, true));
}

TEST_CASE("Adam's first step moves each coordinate by about lr") {
  D p = vec<double>(theta0, true);
  Adam<double> opt({p}, {.lr = 0.01});
  p.set_grad(vec<double>(grads[0]));
  opt.step();
  for (std::size_t i = 0; i < 3; ++i) {
    const double g = grads[0][i];  // m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps)
    CHECK(p.value()(i) == doctest::Approx(theta0[i] - 0.01 * g / (std::abs(g) + 1e-8)).epsilon(1e-12));
  }
}

TEST_CASE("Adam, AMSGrad and AdamW follow PyTorch's formulas") {
  SUBCASE("Adam") {
    D p = vec<double>(theta0, true);
    Adam<double> opt({p}, {.lr = 0.1, .betas = {0.8, 0.9}, .eps = 1e-6});
    check_steps(run(opt, p), adam_reference(0.1, 0.8, 0.9, 1e-6, 0, false, false));
  }
  SUBCASE("Adam with weight decay") {
    D p = vec<double>(theta0, true);
    Adam<double> opt({p}, {.lr = 0.1, .betas = {0.9, 0.999}, .weight_decay = 0.2});
    check_steps(run(opt, p), adam_reference(0.1, 0.9, 0.999, 1e-8, 0.2, false, false));
  }
  SUBCASE("Adam amsgrad") {
    // Element 2's gradients (1, 0.8, -0.6) make v fall at step 3 (0.496 -> 0.4416), so AMSGrad
    // uses the maximum there and differs from Adam.
    D p = vec<double>(theta0, true);
    Adam<double> opt({p}, {.lr = 0.1, .betas = {0.5, 0.6}, .amsgrad = true});
    const auto got = run(opt, p);
    check_steps(got, adam_reference(0.1, 0.5, 0.6, 1e-8, 0, true, false));
    CHECK(got[2][2] != doctest::Approx(adam_reference(0.1, 0.5, 0.6, 1e-8, 0, false, false)[2][2]));
  }
  SUBCASE("AdamW") {
    D p = vec<double>(theta0, true);
    AdamW<double> opt({p}, {.lr = 0.1, .betas = {0.8, 0.9}, .weight_decay = 0.3});
    check_steps(run(opt, p), adam_reference(0.1, 0.8, 0.9, 1e-8, 0.3, false, true));
  }
  SUBCASE("AdamW amsgrad, default decay 1e-2") {
    D p = vec<double>(theta0, true);
    AdamW<double> opt({p}, {.lr = 0.1, .betas = {0.5, 0.6}, .amsgrad = true});
    CHECK(opt.options(0).weight_decay == 1e-2);
    check_steps(run(opt, p), adam_reference(0.1, 0.5, 0.6, 1e-8, 1e-2, true, true));
  }
}

TEST_CASE("RMSprop variants follow PyTorch's formulas") {
  struct Case {
    const char* what;
    RMSpropOptions options;
  };
  const Case cases[] = {
      {"plain", {.lr = 0.01}},
      {"momentum", {.lr = 0.01, .alpha = 0.9, .momentum = 0.7}},
      {"centered", {.lr = 0.01, .alpha = 0.8, .centered = true}},
      {"centered, momentum, weight decay", {.lr = 0.02, .alpha = 0.9, .weight_decay = 0.1, .momentum = 0.5, .centered = true}},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    D p = vec<double>(theta0, true);
    RMSprop<double> opt({p}, c.options);
    const auto& o = c.options;
    check_steps(run(opt, p), rmsprop_reference(o.lr, o.alpha, o.eps, o.weight_decay, o.momentum, o.centered));
  }
}

TEST_CASE("Adagrad follows PyTorch's formulas") {
  SUBCASE("plain") {
    D p = vec<double>(theta0, true);
    Adagrad<double> opt({p}, {.lr = 0.1});
    check_steps(run(opt, p), adagrad_reference(0.1, 0, 0, 0, 1e-10));
  }
  SUBCASE("lr decay, weight decay, initial accumulator") {
    D p = vec<double>(theta0, true);
    Adagrad<double> opt({p}, {.lr = 0.1, .lr_decay = 0.5, .weight_decay = 0.1, .initial_accumulator_value = 0.2});
    check_steps(run(opt, p), adagrad_reference(0.1, 0.5, 0.1, 0.2, 1e-10));
  }
}

TEST_CASE("float optimizers agree with the double formulas to float precision") {
  Var p = vec<float>(theta0, true);
  Adam<float> adam({p}, {.lr = 0.1, .betas = {0.8, 0.9}, .weight_decay = 0.1});
  check_steps(run(adam, p), adam_reference(0.1, 0.8, 0.9, 1e-8, 0.1, false, false), 1e-5);
  Var q = vec<float>(theta0, true);
  SGD<float> sgd({q}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  check_steps(run(sgd, q), sgd_reference(0.1, 0.9, 0, 0, true), 1e-5);
}

// ---- convergence ------------------------------------------------------------------------------------

TEST_CASE("every optimizer minimises a badly scaled quadratic") {
  // f(θ) = ½ Σ a_i (θ_i − c_i)², curvatures 1 and 10.
  const D a({1.0, 10.0}), c({3.0, -2.0});
  using Make = std::function<std::unique_ptr<Optimizer<double>>(D&)>;
  struct Case {
    const char* what;
    Make make;
    int steps;
  };
  const Case cases[] = {
      {"SGD", [](D& p) { return std::make_unique<SGD<double>>(std::vector{p}, SGDOptions{.lr = 0.05}); }, 400},
      {"SGD momentum", [](D& p) { return std::make_unique<SGD<double>>(std::vector{p}, SGDOptions{.lr = 0.02, .momentum = 0.9}); }, 400},
      {"SGD nesterov", [](D& p) { return std::make_unique<SGD<double>>(std::vector{p}, SGDOptions{.lr = 0.02, .momentum = 0.9, .nesterov = true}); }, 400},
      {"Adam", [](D& p) { return std::make_unique<Adam<double>>(std::vector{p}, AdamOptions{.lr = 0.05}); }, 1500},
      {"Adam amsgrad", [](D& p) { return std::make_unique<Adam<double>>(std::vector{p}, AdamOptions{.lr = 0.05, .amsgrad = true}); }, 1500},
      {"AdamW", [](D& p) { return std::make_unique<AdamW<double>>(std::vector{p}, AdamWOptions{.lr = 0.05, .weight_decay = 0}); }, 1500},
      {"RMSprop", [](D& p) { return std::make_unique<RMSprop<double>>(std::vector{p}, RMSpropOptions{.lr = 0.01}); }, 1500},
      {"RMSprop centered momentum", [](D& p) { return std::make_unique<RMSprop<double>>(std::vector{p}, RMSpropOptions{.lr = 0.005, .momentum = 0.5, .centered = true}); }, 1500},
      {"Adagrad", [](D& p) { return std::make_unique<Adagrad<double>>(std::vector{p}, AdagradOptions{.lr = 1.0}); }, 1500},
  };
  for (const auto& k : cases) {
    INFO(k.what);
    D p({0.0, 0.0}, true);
    auto opt = k.make(p);
    for (int s = 0; s < k.steps; ++s) {
      opt->zero_grad();
      auto d = p - c;
      (sum(a * d * d) * 0.5).backward();
      opt->step();
    }
    CHECK(p.value()(0) == doctest::Approx(3.0).epsilon(1e-2));
    CHECK(p.value()(1) == doctest::Approx(-2.0).epsilon(1e-2));
  }
}

// ---- groups, zero_grad, bookkeeping -------------------------------------------------------------------

TEST_CASE("parameter groups have their own lr and weight decay") {
  D w({1.0, 1.0}, true), b({1.0}, true), extra({1.0}, true);
  SGD<double> opt({SGD<double>::Group{{w}, SGDOptions{.lr = 0.1}},
                   SGD<double>::Group{{b}, SGDOptions{.lr = 0.01, .weight_decay = 0.5}}},
                  {.lr = 1.0});
  CHECK(opt.num_groups() == 2);
  CHECK(opt.lr(0) == 0.1);
  CHECK(opt.lr(1) == 0.01);
  opt.add_param_group({{extra}, std::nullopt});  // takes the defaults
  CHECK(opt.num_groups() == 3);
  CHECK(opt.lr(2) == 1.0);
  CHECK(opt.params().size() == 3);
  CHECK(opt.params(1)[0].same_node(b));

  for (auto* p : {&w, &b, &extra}) p->set_grad(ones_like(*p));
  opt.step();
  CHECK(w.value()(0) == doctest::Approx(0.9));
  CHECK(b.value()(0) == doctest::Approx(1 - 0.01 * (1 + 0.5 * 1)));
  CHECK(extra.value()(0) == doctest::Approx(0.0));

  opt.set_lr(0, 0.5);
  CHECK(opt.lr(0) == 0.5);
  opt.set_options(1, {.lr = 0.2});
  CHECK(opt.options(1).weight_decay == 0);
  check_error([&] { opt.set_lr(3, 0.1); }, {"SGD", "no parameter group 3"});
  check_error([&] { opt.add_param_group({{w}, std::nullopt}); }, {"SGD", "already parameter 0"});
  CHECK(opt.num_groups() == 3);  // the failed add changed nothing
}

TEST_CASE("zero_grad clears every gradient and step skips parameters without one") {
  D p({1.0, 2.0}, true), q({3.0}, true);
  Adam<double> opt({p, q}, {.lr = 0.1});
  p.set_grad(D({1.0, 1.0}));
  opt.step();
  CHECK(opt.step_count(0) == 1);
  CHECK(opt.step_count(1) == 0);
  CHECK(q.item() == 3.0);
  CHECK_FALSE(opt.state_dict().count("state.1.step"));
  opt.zero_grad();
  CHECK_FALSE(p.has_grad());
  CHECK_FALSE(q.has_grad());
  opt.step();  // nothing has a gradient: nothing moves
  CHECK(opt.step_count(0) == 1);
}

TEST_CASE("a step records nothing and keeps every parameter's storage") {
  manual_seed(1);
  std::vector<Var> params = {randn<float>({4, 3}, true), randn<float>({3}, true)};
  std::vector<std::unique_ptr<Optimizer<float>>> opts;
  opts.push_back(std::make_unique<SGD<float>>(params, SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1}));
  opts.push_back(std::make_unique<Adam<float>>(params, AdamOptions{.amsgrad = true}));
  opts.push_back(std::make_unique<AdamW<float>>(params));
  opts.push_back(std::make_unique<RMSprop<float>>(params, RMSpropOptions{.momentum = 0.9, .centered = true}));
  opts.push_back(std::make_unique<Adagrad<float>>(params));
  const float* data[] = {params[0].value().data(), params[1].value().data()};
  for (auto& opt : opts) {
    INFO(opt->name());
    for (int s = 0; s < 3; ++s) {
      auto loss = sum(matmul(params[0], reshape(params[1], {3, 1})));
      opt->zero_grad();
      loss.backward();
      const auto before = scalar<float>(0).node()->seq;
      opt->step();
      // One leaf made here after the step: the step itself added no node to the tape.
      CHECK(scalar<float>(0).node()->seq == before + 1);
    }
    for (std::size_t k = 0; k < params.size(); ++k) {
      CHECK(params[k].is_leaf());
      CHECK(params[k].requires_grad());
      CHECK(params[k].value().data() == data[k]);
    }
  }
}

// ---- state_dict and bit-exact resume -----------------------------------------------------------

namespace {
using MakeF = std::function<std::unique_ptr<Optimizer<float>>(std::vector<Var>)>;

/// A small least-squares problem: X [8,3], y [8,1], parameters w [3,1] and b [1].
struct LeastSquares {
  Var x, y;
  LeastSquares() {
    manual_seed(7);
    x = randn<float>({8, 3});
    y = randn<float>({8, 1});
  }
  std::vector<Var> fresh_params() const {
    manual_seed(11);
    return {randn<float>({3, 1}, true), randn<float>({1}, true)};
  }
  void train(Optimizer<float>& opt, const std::vector<Var>& p, int steps) const {
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      auto r = matmul(x, p[0]) + p[1] - y;
      mean(r * r).backward();
      opt.step();
    }
  }
};

void check_resume(const MakeF& make) {
  const LeastSquares problem;
  const int n = 5, m = 7;
  // Uninterrupted: n + m steps (the lr of group 0 changed after n, to check that it travels).
  auto p1 = problem.fresh_params();
  auto o1 = make(p1);
  problem.train(*o1, p1, n);
  o1->set_lr(0, o1->lr(0) * 0.5);
  const auto saved = o1->state_dict();
  std::vector<xt::xarray<float>> saved_values = {p1[0].value(), p1[1].value()};
  problem.train(*o1, p1, m);

  // Resumed: new parameters from the saved values, a new optimizer from the state dict.
  std::vector<Var> p2 = {Var(saved_values[0], true), Var(saved_values[1], true)};
  auto o2 = make(p2);
  o2->load_state_dict(saved);
  CHECK(o2->lr(0) == o1->lr(0));
  problem.train(*o2, p2, m);

  for (std::size_t k = 0; k < p1.size(); ++k) {
    CHECK(p1[k].value() == p2[k].value());  // bit for bit
    CHECK_FALSE(p1[k].value() == saved_values[k]);
  }
  const auto s1 = o1->state_dict(), s2 = o2->state_dict();
  REQUIRE(s1.size() == s2.size());
  for (const auto& [key, value] : s1) {
    INFO(key);
    REQUIRE(s2.count(key));
    CHECK(s2.at(key) == value);
  }
}

template <class O, class Options>
MakeF maker(Options options) {
  return [options](std::vector<Var> p) -> std::unique_ptr<Optimizer<float>> {
    // Two groups, so that group hyperparameters and parameter numbering are exercised.
    using G = typename O::Group;
    Options second = options;
    second.lr = options.lr * 0.3;
    return std::make_unique<O>(std::vector<G>{G{{p[0]}, options}, G{{p[1]}, second}});
  };
}
}  // namespace

TEST_CASE("training resumes from a state dict bit for bit") {
  SUBCASE("SGD") { check_resume(maker<SGD<float>>(SGDOptions{.lr = 0.05})); }
  SUBCASE("SGD momentum, dampening, weight decay") {
    check_resume(maker<SGD<float>>(SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01}));
  }
  SUBCASE("SGD nesterov") { check_resume(maker<SGD<float>>(SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true})); }
  SUBCASE("Adam") { check_resume(maker<Adam<float>>(AdamOptions{.lr = 0.01, .weight_decay = 0.01})); }
  SUBCASE("Adam amsgrad") { check_resume(maker<Adam<float>>(AdamOptions{.lr = 0.01, .betas = {0.8, 0.95}, .amsgrad = true})); }
  SUBCASE("AdamW") { check_resume(maker<AdamW<float>>(AdamWOptions{.lr = 0.01})); }
  SUBCASE("RMSprop") { check_resume(maker<RMSprop<float>>(RMSpropOptions{.lr = 0.01})); }
  SUBCASE("RMSprop centered momentum") {
    check_resume(maker<RMSprop<float>>(RMSpropOptions{.lr = 0.01, .momentum = 0.9, .centered = true}));
  }
  SUBCASE("Adagrad") { check_resume(maker<Adagrad<float>>(AdagradOptions{.lr = 0.1, .lr_decay = 0.01})); }
}

TEST_CASE("the state dict names every hyperparameter and buffer") {
  D w({1.0, 2.0}, true), b({0.5}, true);
  Adam<double> opt({w, b}, {.lr = 0.1, .amsgrad = true});
  w.set_grad(D({1.0, -1.0}));
  opt.step();
  const auto sd = opt.state_dict();
  for (const char* key : {"group.0.lr", "group.0.beta1", "group.0.beta2", "group.0.eps", "group.0.weight_decay",
                          "group.0.amsgrad", "group.0.maximize", "group.0.params", "state.0.step",
                          "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq"}) {
    INFO(key);
    CHECK(sd.count(key));
  }
  CHECK(sd.size() == 12);  // b has not been updated: no state.1.*
  CHECK(sd.at("group.0.lr")() == 0.1);
  CHECK(sd.at("group.0.amsgrad")() == 1);
  CHECK(sd.at("state.0.step")() == 1);
  CHECK(sd.at("group.0.params") == xt::xarray<double>{0, 1});
  CHECK(sd.at("state.0.exp_avg")(1) == doctest::Approx(-0.1));
}

TEST_CASE("load_state_dict names what is missing, unexpected or mis-shaped, and changes nothing then") {
  D w({1.0, 2.0}, true);
  Adam<double> opt({w}, {.lr = 0.1});
  w.set_grad(D({1.0, -1.0}));
  opt.step();
  const auto good = opt.state_dict();

  D w2({1.0, 2.0}, true);
  Adam<double> other({w2}, {.lr = 0.5});
  auto without = [&](const std::string& key) {
    auto sd = good;
    sd.erase(key);
    return sd;
  };
  check_error([&] { other.load_state_dict(without("state.0.exp_avg")); }, {"Adam.load_state_dict", "missing 'state.0.exp_avg'"});
  check_error([&] { other.load_state_dict(without("group.0.beta2")); }, {"missing 'group.0.beta2'"});
  auto extra = good;
  extra["state.3.exp_avg"] = xt::xarray<double>{1.0};
  check_error([&] { other.load_state_dict(extra); }, {"unexpected 'state.3.exp_avg'"});
  auto bad_shape = good;
  bad_shape["state.0.exp_avg_sq"] = xt::xarray<double>{1.0, 2.0, 3.0};
  check_error([&] { other.load_state_dict(bad_shape); }, {"'state.0.exp_avg_sq' has shape [3]", "shape [2]"});
  auto bad_value = good;
  bad_value["group.0.beta1"]() = 1.5;
  check_error([&] { other.load_state_dict(bad_value); }, {"group 0", "invalid betas[0] 1.5"});
  auto amsgrad = good;
  amsgrad["group.0.amsgrad"]() = 1;
  check_error([&] { other.load_state_dict(amsgrad); }, {"missing 'state.0.max_exp_avg_sq'"});
  CHECK(other.lr(0) == 0.5);  // every failed load left it untouched
  CHECK(other.step_count(0) == 0);

  // Another optimizer's state does not fit.
  SGD<double> sgd({w2}, {.lr = 0.1, .momentum = 0.9});
  check_error([&] { sgd.load_state_dict(good); }, {"SGD.load_state_dict", "missing 'group.0.momentum'"});

  other.load_state_dict(good);
  CHECK(other.lr(0) == 0.1);
  CHECK(other.step_count(0) == 1);
}

TEST_CASE("hyperparameters are held at the precision of T") {
  Var p({1.0f}, true);
  Adam<float> opt({p}, {.lr = 1e-3});
  CHECK(opt.lr(0) == static_cast<double>(1e-3f));
  CHECK(opt.options(0).betas[0] == static_cast<double>(0.9f));
}

// ---- bad options and parameters ---------------------------------------------------------------

TEST_CASE("bad options throw tg::Error quoting the value") {
  D p({1.0}, true);
  std::vector<D> ps = {p};
  check_error([&] { SGD<double>(ps, {.lr = -0.1}); }, {"SGD", "invalid lr -0.1"});
  check_error([&] { SGD<double>(ps, {.momentum = -1}); }, {"SGD", "invalid momentum -1"});
  check_error([&] { SGD<double>(ps, {.lr = 0.1, .nesterov = true}); }, {"SGD", "nesterov", "momentum 0"});
  check_error([&] { SGD<double>(ps, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
              {"dampening 0.1"});
  check_error([&] { Adam<double>(ps, {.lr = -1e-3}); }, {"Adam", "invalid lr -0.001"});
  check_error([&] { Adam<double>(ps, {.betas = {1.0, 0.999}}); }, {"Adam", "invalid betas[0] 1", "[0, 1)"});
  check_error([&] { Adam<double>(ps, {.betas = {0.9, -0.5}}); }, {"Adam", "invalid betas[1] -0.5"});
  check_error([&] { Adam<double>(ps, {.eps = -1}); }, {"Adam", "invalid eps -1"});
  check_error([&] { AdamW<double>(ps, {.betas = {0.9, 1.2}}); }, {"AdamW", "invalid betas[1] 1.2"});
  check_error([&] { AdamW<double>(ps, {.weight_decay = -0.01}); }, {"AdamW", "invalid weight_decay -0.01"});
  check_error([&] { RMSprop<double>(ps, {.alpha = 1.5}); }, {"RMSprop", "invalid alpha 1.5"});
  check_error([&] { RMSprop<double>(ps, {.lr = std::nan("")}); }, {"RMSprop", "invalid lr nan"});
  check_error([&] { Adagrad<double>(ps, {.lr_decay = -2}); }, {"Adagrad", "invalid lr_decay -2"});
  check_error([&] { Adagrad<double>(ps, {.initial_accumulator_value = -1}); }, {"Adagrad", "initial_accumulator_value -1"});
  SGD<double> ok(ps, {.lr = 0.1});
  check_error([&] { ok.set_lr(0, -3); }, {"SGD", "invalid lr -3"});
  check_error([&] { ok.set_options(0, {.weight_decay = -1}); }, {"SGD", "invalid weight_decay -1"});
}

TEST_CASE("bad parameter lists throw tg::Error") {
  D p({1.0}, true);
  check_error([&] { Adam<double>(std::vector<D>{}); }, {"Adam", "empty parameter list"});
  check_error([&] { Adam<double>(std::vector<D>{D()}); }, {"Adam", "parameter 0", "undefined"});
  check_error([&] { Adam<double>(std::vector<D>{p, p * 2.0}); }, {"Adam", "parameter 1", "not a leaf"});
  check_error([&] { Adam<double>(std::vector<D>{p, p}); }, {"Adam", "parameter 1", "already parameter 0"});
  check_error([&] { Adam<double>(std::vector<Adam<double>::Group>{{{p}, std::nullopt}, {{}, std::nullopt}}); },
              {"Adam", "parameter group 1 is empty"});

  // A parameter whose value was replaced by one of another shape no longer fits its state.
  Adam<double> opt({p});
  p.set_grad(D({1.0}));
  opt.step();
  p.mutable_value() = xt::xarray<double>{1.0, 2.0};
  p.set_grad(D({1.0, 1.0}));
  check_error([&] { opt.step(); }, {"Adam", "parameter 0 now has shape [2]", "'exp_avg' has shape [1]"});
}
