// LeCun's Y = X^2 demos ("Energy-Based Models, Part 2", slides "EBM Demos"): an energy
// E(W, Y, X) is trained so that its valley follows the parabola, with two architectures and
// three losses, and each run says whether it worked or collapsed, by measurement.
//
//   Architecture A:  E = 1/2 (Y - G(W, X))^2           G a small MLP
//   Architecture B:  E = || G1(W1, X) - G2(W2, Y) ||^2  two small MLPs
//
//   A + energy loss          works: E is a fixed quadratic in Y, so pulling E(Y^i) down
//                            pushes every other Y up by construction.
//   B + energy loss          collapses: G1 and G2 can agree on everything, E = 0 everywhere.
//   B + square-square loss   works: Ybar, the lowest-energy Y outside a forbidden sphere of
//                            radius 0.2 (then 0.1) around Y^i, is found by gradient descent
//                            and pushed up to the margin.
//   B + NLL loss             works: every Y of a grid is pushed up, softly weighted.
//
// The recipe shows in code: an architecture (energy, energy_grid), an inference algorithm
// (infer: grid search, then tg::energy::minimize_energy), a loss (tg::energy::*), an optimizer.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "../common/flags.hpp"

namespace {

using tg::Var;
namespace en = tg::energy;

constexpr float kXLow = -1, kXHigh = 1;    // inputs X
constexpr float kYLow = -0.5, kYHigh = 1.5;  // the answers searched, and the heat maps' Y axis

/// [n, 1] column of the given values.
Var column(const std::vector<float>& values) {
  xt::xarray<float> v = xt::zeros<float>(tg::Shape{values.size(), 1});
  std::copy(values.begin(), values.end(), v.begin());
  return Var(std::move(v));
}

std::vector<float> linspace(float lo, float hi, std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * float(i) / float(n - 1);
  return v;
}

/// An architecture is a module whose parameters are W: the energy of each (X, Y) pair, and of
/// every X against every Y of a grid (for the NLL loss, inference and the heat maps).
struct Architecture : tg::nn::Module<float> {
  /// E(W, Y, X): x, y [n, 1] -> [n]
  virtual Var energy(const Var& x, const Var& y) = 0;
  /// E(W, ys_j, x_i): x [n, 1], ys [k, 1] -> [n, k]
  virtual Var energy_grid(const Var& x, const Var& ys) = 0;
};

/// A small tanh MLP, 1 -> 32 -> 32 -> outputs.
std::shared_ptr<tg::nn::MLP<float>> mlp(std::size_t outputs) {
  return std::make_shared<tg::nn::MLP<float>>(std::vector<std::size_t>{1, 32, 32, outputs},
                                              tg::nn::MLPOptions{.activation = tg::nn::Activation::tanh});
}

/// A: E = 1/2 (Y - G(X))^2 — a fixed quadratic in Y around a learned prediction.
struct ArchitectureA final : Architecture {
  std::shared_ptr<tg::nn::MLP<float>> g = register_module("g", mlp(1));
  Var energy(const Var& x, const Var& y) override { return tg::sum(tg::pow(y - (*g)(x), 2.0f), {1}) * 0.5f; }
  Var energy_grid(const Var& x, const Var& ys) override {
    return tg::pow(tg::transpose(ys) - (*g)(x), 2.0f) * 0.5f;  // [1, k] - [n, 1]
  }
};

/// B: E = || G1(X) - G2(Y) ||^2 — both sides learned, so nothing stops them from agreeing
/// everywhere.
struct ArchitectureB final : Architecture {
  std::shared_ptr<tg::nn::MLP<float>> g1 = register_module("g1", mlp(8));
  std::shared_ptr<tg::nn::MLP<float>> g2 = register_module("g2", mlp(8));
  Var energy(const Var& x, const Var& y) override { return tg::sum(tg::pow((*g1)(x) - (*g2)(y), 2.0f), {1}); }
  Var energy_grid(const Var& x, const Var& ys) override {
    return tg::sum(tg::pow(tg::unsqueeze((*g1)(x), 1) - tg::unsqueeze((*g2)(ys), 0), 2.0f), {2});  // [n,1,d] - [1,k,d]
  }
};

struct Settings {
  std::size_t epochs = 150, train_size = 256, batch = 32, grid = 81;
  std::size_t infer_steps = 20;
  double infer_step_size = 0.02;
  float lr = 3e-3f, margin = 0.5f, beta = 5.0f;
  float gap_radius = 0.2f;
  std::uint64_t seed = 1;
  std::string out = "out/ebm_parabola";
  bool png = true;
};

/// Inference. The Y of lowest energy for each x — at distance >= radius from `avoid` when
/// radius > 0 (the most offending incorrect answer). A grid search picks the starting points,
/// gradient descent on Y alone (W fixed) refines them. Returns Y [n, 1] and E(Y) [n].
std::pair<Var, Var> infer(Architecture& m, const Var& x, const Var& avoid, float radius, const Settings& s) {
  const std::size_t n = x.shape()[0];
  const Var ys = column(linspace(kYLow, kYHigh, s.grid));
  xt::xarray<float> e;
  {
    tg::NoGradGuard no_grad;
    e = m.energy_grid(x, ys).value();
  }
  std::vector<float> best(n);
  for (std::size_t i = 0; i < n; ++i) {
    float lowest = INFINITY;
    for (std::size_t j = 0; j < s.grid; ++j) {
      const float y = ys.value()(j, 0);
      if (radius > 0 && std::abs(y - avoid.value()(i, 0)) < radius) continue;
      if (e(i, j) < lowest) lowest = e(i, j), best[i] = y;
    }
  }
  std::vector<std::vector<Var>> starts{{column(best)}};
  if (radius > 0) {  // both sides of the sphere too: the grid may miss a valley right beside it
    starts.push_back({Var(xt::xarray<float>(avoid.value() + radius))});
    starts.push_back({Var(xt::xarray<float>(avoid.value() - radius))});
  }
  en::EnergyFunction<float> energy = [&](const std::vector<Var>& v) { return m.energy(x, v[0]); };
  en::MinimizeOptions o{.steps = s.infer_steps, .step_size = s.infer_step_size, .lower = kYLow, .upper = kYHigh,
                        .forbidden_radius = radius};
  auto found = en::minimize_energy<float>(energy, starts, o, radius > 0 ? avoid : Var());
  return {found.values[0], found.energy};
}

enum class Loss { energy, square_square, nll };

struct Run {
  std::string name;      // "A-energy", ...
  char architecture;     // 'A' or 'B'
  Loss loss;
  bool should_work;      // LeCun's claim
  std::string caption;
};

struct Verdict {
  double gap = 0, error = 0, seconds = 0;
  bool works = false;
};

void write_heat_map(Architecture& m, const Run& run, const Verdict& v, const Settings& s) {
  namespace fs = std::filesystem;
  fs::create_directories(s.out);
  const std::size_t nx = 101, ny = 101;
  const auto xs = linspace(kXLow, kXHigh, nx), ys = linspace(kYLow, kYHigh, ny);
  xt::xarray<float> e;
  {
    tg::NoGradGuard no_grad;
    e = m.energy_grid(column(xs), column(ys)).value();
  }
  // Colour: E(Y, X) - min_Y E(Y, X), clipped at 1. Inference compares the energies of one X
  // only, and the NLL loss is blind to a constant added to them, so that is what means
  // something; a collapsed surface is one colour.
  const std::string data = (fs::path(s.out) / (run.name + ".dat")).string();
  const std::string png = (fs::path(s.out) / (run.name + ".png")).string();
  {
    std::ofstream f(data);
    for (std::size_t i = 0; i < nx; ++i) {
      float floor = INFINITY;
      for (std::size_t j = 0; j < ny; ++j) floor = std::min(floor, e(i, j));
      for (std::size_t j = 0; j < ny; ++j) f << xs[i] << ' ' << ys[j] << ' ' << std::min(e(i, j) - floor, 1.0f) << '\n';
      f << '\n';
    }
  }
  char title[160];
  std::snprintf(title, sizeof title, "%s: gap %.4f at distance >= %.1f, %s", run.name.c_str(), v.gap, s.gap_radius,
                v.works ? "works" : "collapsed");
  std::ostringstream script;
  script << "set terminal png size 480,400 font ',10'\n"
         << "set output '" << png << "'\n"
         << "set title '" << title << "'\n"
         << "set xlabel 'X'; set ylabel 'Y'; set cblabel 'E(W, Y, X) - min_Y E, clipped at 1'\n"
         << "set xrange [" << kXLow << ":" << kXHigh << "]; set yrange [" << kYLow << ":" << kYHigh << "]\n"
         << "set cbrange [0:1]; set palette rgbformulae 33,13,10; set key bottom right\n"
         << "plot '" << data << "' using 1:2:3 with image notitle, "
         << "x**2 with lines lw 1 lc rgb 'white' dashtype 2 title 'Y = X^2'\n";
  const std::string script_path = (fs::path(s.out) / (run.name + ".gp")).string();
  std::ofstream(script_path) << script.str();
  fs::remove(png);  // a stale picture must never pass for a new one
  // A picture is a nicety: without gnuplot (Debian: gnuplot-nox) the run goes on with a note.
  const bool drawn = std::system("command -v gnuplot >/dev/null 2>&1") == 0 &&
                     std::system(("gnuplot '" + script_path + "' 2>&1").c_str()) == 0 && fs::exists(png);
  if (drawn) {
    std::printf("  heat map: %s\n", png.c_str());
    fs::remove(script_path);
    fs::remove(data);
  } else {
    std::printf("  note: gnuplot missing or failed, no heat map; its data and script are %s and %s\n", data.c_str(),
                script_path.c_str());
  }
}

Verdict train_and_judge(const Run& run, const Settings& s) {
  const auto start = std::chrono::steady_clock::now();
  tg::manual_seed(s.seed);
  std::unique_ptr<Architecture> m;
  if (run.architecture == 'A') m = std::make_unique<ArchitectureA>();
  else m = std::make_unique<ArchitectureB>();
  tg::optim::Adam<float> opt(m->parameters(), {.lr = s.lr});

  std::mt19937_64 rng(s.seed);
  std::uniform_real_distribution<float> uniform(kXLow, kXHigh);
  std::vector<float> xs(s.train_size);
  for (auto& x : xs) x = uniform(rng);
  const Var nll_grid = column(linspace(kYLow, kYHigh, s.grid));

  std::vector<std::size_t> order(s.train_size);
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t epoch = 0; epoch < s.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    // LeCun's schedule: the forbidden sphere is 0.2 at first, then 0.1.
    const float radius = epoch < s.epochs / 2 ? 0.2f : 0.1f;
    double total = 0;
    for (std::size_t first = 0; first < s.train_size; first += s.batch) {
      const std::size_t n = std::min(s.batch, s.train_size - first);
      std::vector<float> bx(n), by(n);
      for (std::size_t i = 0; i < n; ++i) bx[i] = xs[order[first + i]], by[i] = bx[i] * bx[i];
      const Var x = column(bx), y = column(by);
      Var loss;
      switch (run.loss) {
        case Loss::energy:
          loss = tg::mean(en::energy_loss(m->energy(x, y)));
          break;
        case Loss::square_square: {
          const Var y_bar = infer(*m, x, y, radius, s).first;  // detached: W gets no gradient through inference
          loss = tg::mean(en::square_square_loss(m->energy(x, y), m->energy(x, y_bar), s.margin));
          break;
        }
        case Loss::nll: {
          // Every answer of the grid, and the correct one, in the partition sum.
          const Var e_correct = m->energy(x, y);
          const Var all = tg::concat<float>({m->energy_grid(x, nll_grid), tg::unsqueeze(e_correct, 1)}, 1);
          loss = tg::mean(en::nll_loss(e_correct, en::free_energy(all, s.beta, 1)));
          break;
        }
      }
      opt.zero_grad();
      loss.backward();
      opt.step();
      total += loss.item() * double(n);
    }
    if (epoch == 0 || (epoch + 1) % std::max<std::size_t>(1, s.epochs / 5) == 0)
      std::printf("  epoch %4zu  loss %.5f\n", epoch + 1, total / double(s.train_size));
  }

  // The verdict, measured on X evenly spread over [-1, 1]: the gap between the lowest energy
  // at distance >= r from the correct Y and the energy of the correct Y, and the error of
  // the inferred Y = argmin_Y E(W, Y, X) against X^2.
  const auto test_x = linspace(kXLow, kXHigh, 101);
  std::vector<float> test_y(test_x.size());
  for (std::size_t i = 0; i < test_x.size(); ++i) test_y[i] = test_x[i] * test_x[i];
  const Var x = column(test_x), y = column(test_y);
  Verdict v;
  {
    tg::NoGradGuard no_grad;
    const Var e_correct = m->energy(x, y);
    const Var e_bar = infer(*m, x, y, s.gap_radius, s).second;
    v.gap = tg::mean(e_bar - e_correct).item();
    const Var y_star = infer(*m, x, y, 0, s).first;
    v.error = tg::mean(tg::abs(y_star - y)).item();
  }
  // Collapse: the gap is a small fraction of what the exact quadratic 1/2 (Y - X^2)^2 gives
  // at distance r, 1/2 r^2.
  v.works = v.gap > 0.25 * 0.5 * s.gap_radius * s.gap_radius;
  v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (s.png) write_heat_map(*m, run, v, s);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  std::string runs_flag = "A-energy,B-energy,B-square-square,B-nll";
  bool png = true;
  examples::Flags flags("ebm_parabola",
                        "LeCun's Y = X^2 energy-based demos, each judged by measurement: the energy gap at distance\n"
                        ">= r from the correct Y, the error of the inferred Y, and a heat map of E(Y, X) per run.\n"
                        "Exit status 0 when every run matches LeCun's claim (A-energy, B-square-square and B-nll\n"
                        "work; B-energy collapses), 1 otherwise.");
  flags.add("runs", runs_flag, "comma-separated subset of A-energy,B-energy,B-square-square,B-nll")
      .add("epochs", s.epochs, "passes over the training set for each run")
      .add("train-size", s.train_size, "training pairs (X, X^2), X uniform in [-1, 1]")
      .add("seed", s.seed, "seeds the weights, the data and the batch order")
      .add("lr", s.lr, "Adam learning rate")
      .add("margin", s.margin, "m of the square-square loss")
      .add("beta", s.beta, "inverse temperature of the NLL loss")
      .add("gap-radius", s.gap_radius, "r of the verdict: the gap is measured at distance >= r")
      .add("out", s.out, "folder for the heat maps")
      .add("png", png, "draw the heat maps (needs gnuplot)");
  flags.parse_or_exit(argc, argv);
  s.png = png;

  const std::vector<Run> all = {
      {"A-energy", 'A', Loss::energy, true, "architecture A, energy loss"},
      {"B-energy", 'B', Loss::energy, false, "architecture B, energy loss"},
      {"B-square-square", 'B', Loss::square_square, true, "architecture B, square-square loss"},
      {"B-nll", 'B', Loss::nll, true, "architecture B, negative log-likelihood loss"},
  };
  std::vector<Run> runs;
  std::stringstream list(runs_flag);
  for (std::string name; std::getline(list, name, ',');) {
    auto it = std::find_if(all.begin(), all.end(), [&](const Run& r) { return r.name == name; });
    if (it == all.end()) { std::fprintf(stderr, "unknown run '%s' (see --help)\n", name.c_str()); return 2; }
    runs.push_back(*it);
  }

  std::printf("ebm_parabola: %zu pairs (X, X^2), X in [-1, 1], %zu epochs, seed %llu\n", s.train_size, s.epochs,
              static_cast<unsigned long long>(s.seed));
  bool all_as_claimed = true;
  std::vector<Verdict> verdicts;
  for (const auto& run : runs) {
    std::printf("%s (%s)\n", run.name.c_str(), run.caption.c_str());
    verdicts.push_back(train_and_judge(run, s));
    const Verdict& v = verdicts.back();
    const bool as_claimed = v.works == run.should_work;
    all_as_claimed = all_as_claimed && as_claimed;
    std::printf("  verdict: gap %.5f at distance >= %.2f, inference error %.4f -> %s (LeCun: %s) %s  [%.1f s]\n", v.gap,
                s.gap_radius, v.error, v.works ? "works" : "collapsed", run.should_work ? "works" : "collapses",
                as_claimed ? "as claimed" : "NOT as claimed", v.seconds);
  }
  std::printf("\n| run | energy gap at distance >= %.1f | inference error | verdict |\n|---|---|---|---|\n", s.gap_radius);
  for (std::size_t i = 0; i < runs.size(); ++i)
    std::printf("| %s | %.4f | %.4f | %s |\n", runs[i].name.c_str(), verdicts[i].gap, verdicts[i].error,
                verdicts[i].works ? "works" : "collapsed");
  return all_as_claimed ? 0 : 1;
}
