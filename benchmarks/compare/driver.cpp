// The main() of compare_tapegrad and compare_libtorch (TG_COMPARE_SIDE names the side): runs the
// workloads linked into it and prints one machine-readable line per workload, which
// benchmarks/compare/compare.py collects from alternating processes into one table.
//   compare_<side> --list
//   compare_<side> --workload W3-64 [--warmup 5] [--iters 30] [--rounds 3]
//   compare_<side> --sgemm [--threads 1]      W7: raw cblas_sgemm GFLOP/s (the GEMM ceiling)
//   compare_<side> --sgemm-mlp 64 [--threads 2]  W3's own eight GEMMs of one step, raw (its ceiling)
#include <cblas.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "workload.hpp"

#ifndef TG_COMPARE_SIDE
#error "TG_COMPARE_SIDE must name the side (tapegrad or libtorch)"
#endif

namespace bench {

std::vector<Workload>& workloads() {
  static std::vector<Workload> all;
  return all;
}

Registration::Registration(std::string id, std::string description, Setup setup) {
  workloads().push_back({std::move(id), std::move(description), std::move(setup)});
}

// Hooks each side may define (in a file of its own): the side's thread setting, printed beside
// every result. The default reports OpenBLAS's.
__attribute__((weak)) int side_threads() { return openblas_get_num_threads(); }

}  // namespace bench

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Resident set size now, in MiB (from /proc/self/statm).
double current_rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return double(pages_resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

int run_workload(const bench::Workload& workload, int warmup, int iters, int rounds) {
  const double baseline_rss = current_rss_mib();
  bench::Step step = workload.setup();
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> forward_medians, backward_medians;
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> forward, backward;
    for (int i = 0; i < iters; ++i) {
      const bench::Timing t = step();
      forward.push_back(t.forward_ms);
      backward.push_back(t.backward_ms);
    }
    forward_medians.push_back(median(forward));
    backward_medians.push_back(median(backward));
  }
  const double fwd = median(forward_medians), bwd = median(backward_medians);
  std::printf("result side=%s id=%s fwd_ms=%.4f bwd_ms=%.4f peak_rss_mib=%.1f baseline_rss_mib=%.1f "
              "threads=%d blas_core=%s\n",
              TG_COMPARE_SIDE, workload.id.c_str(), fwd, bwd, peak_rss_mib(), baseline_rss,
              bench::side_threads(), openblas_get_corename());
  return 0;
}

// W7: C = A·B for square float matrices, the best of several runs, in GFLOP/s.
void run_sgemm(int threads) {
  openblas_set_num_threads(threads);
  for (int n : {256, 512, 1024, 2048}) {
    std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
    const int reps = n <= 512 ? 50 : (n <= 1024 ? 10 : 3);
    double best_ms = 1e30;
    for (int r = 0; r < reps + 1; ++r) {
      bench::Stopwatch watch;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                  c.data(), n);
      const double ms = watch.lap_ms();
      if (r > 0) best_ms = std::min(best_ms, ms);  // the first run warms the caches and threads
    }
    std::printf("sgemm side=%s n=%d threads=%d gflops=%.1f blas_core=%s\n", TG_COMPARE_SIDE, n, threads,
                2.0 * n * double(n) * n / (best_ms * 1e6), openblas_get_corename());
  }
}

// The GEMMs of one W3 training step (MLP 784-512-512-10 at `batch`), raw and back to back: three
// forward (x W^T), three weight gradients (g^T h) and two input gradients (g W; the input needs
// none), with the transposes as flags. W7's square sgemm is a ceiling these shapes cannot reach
// (a 64-row operand is too thin for the kernel's blocking); this is the one W3 can.
void run_sgemm_mlp(int batch, int threads) {
  openblas_set_num_threads(threads);
  const int widths[4] = {784, 512, 512, 10};
  std::vector<std::vector<float>> h(4), g(4), w(3), dw(3);
  for (int l = 0; l < 4; ++l) h[l].assign(size_t(batch) * widths[l], 0.5f), g[l].assign(size_t(batch) * widths[l], 0.25f);
  for (int l = 0; l < 3; ++l) w[l].assign(size_t(widths[l + 1]) * widths[l], 0.01f), dw[l].assign(w[l].size(), 0.f);
  const auto step = [&] {
    for (int l = 0; l < 3; ++l)  // h[l+1] = h[l] W_l^T: [batch, in] x [in, out]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, widths[l + 1], widths[l], 1.0f, h[l].data(), widths[l],
                  w[l].data(), widths[l], 0.0f, h[l + 1].data(), widths[l + 1]);
    for (int l = 2; l >= 0; --l) {
      // dW_l = g[l+1]^T h[l]: [out, batch] x [batch, in]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, widths[l + 1], widths[l], batch, 1.0f, g[l + 1].data(),
                  widths[l + 1], h[l].data(), widths[l], 0.0f, dw[l].data(), widths[l]);
      if (l > 0)  // g[l] = g[l+1] W_l: [batch, out] x [out, in]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, widths[l], widths[l + 1], 1.0f, g[l + 1].data(),
                    widths[l + 1], w[l].data(), widths[l], 0.0f, g[l].data(), widths[l]);
    }
  };
  double flop = 0;
  for (int l = 0; l < 3; ++l) flop += 2.0 * batch * widths[l] * widths[l + 1] * (l > 0 ? 3 : 2);
  std::vector<double> ms;
  for (int r = 0; r < 60; ++r) {
    bench::Stopwatch watch;
    step();
    if (r >= 10) ms.push_back(watch.lap_ms());  // the first runs warm the caches and threads
  }
  const double best = *std::min_element(ms.begin(), ms.end()), typical = median(ms);
  std::printf("sgemm_mlp side=%s batch=%d threads=%d best_ms=%.4f median_ms=%.4f gflops=%.1f blas_core=%s\n", TG_COMPARE_SIDE,
              batch, threads, best, typical, flop / (typical * 1e6), openblas_get_corename());
}

void usage() {
  std::cout << "usage: compare_" TG_COMPARE_SIDE " --list | --workload ID [--warmup N] [--iters N] [--rounds N]"
               " | --sgemm [--threads N] | --sgemm-mlp BATCH [--threads N]\n"
               "  Times one workload (benchmarks/README.md) on the " TG_COMPARE_SIDE " side and prints\n"
               "  'result side=... id=... fwd_ms=... bwd_ms=... peak_rss_mib=...' (medians over rounds of the\n"
               "  median over iterations). scripts/bench --compare runs both sides and prints the table.\n";
}

}  // namespace

int main(int argc, char** argv) try {
  std::string id;
  int warmup = 5, iters = 30, rounds = 3, threads = 1, mlp_batch = 0;
  bool list = false, sgemm = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--list") list = true;
    else if (arg == "--sgemm") sgemm = true;
    else if (arg == "--sgemm-mlp") mlp_batch = std::stoi(value());
    else if (arg == "--workload") id = value();
    else if (arg == "--warmup") warmup = std::stoi(value());
    else if (arg == "--iters") iters = std::stoi(value());
    else if (arg == "--rounds") rounds = std::stoi(value());
    else if (arg == "--threads") threads = std::stoi(value());
    else if (arg == "--help" || arg == "-h") { usage(); return 0; }
    else throw std::invalid_argument("unknown argument " + arg);
  }
  if (list) {
    for (const auto& w : bench::workloads()) std::cout << w.id << '\t' << w.description << '\n';
    return 0;
  }
  if (sgemm) {
    run_sgemm(threads);
    return 0;
  }
  if (mlp_batch > 0) {
    run_sgemm_mlp(mlp_batch, threads);
    return 0;
  }
  if (id.empty() || iters < 1 || rounds < 1 || warmup < 0) {
    usage();
    return 2;
  }
  for (const auto& w : bench::workloads())
    if (w.id == id) return run_workload(w, warmup, iters, rounds);
  std::cerr << "compare_" TG_COMPARE_SIDE ": no workload " << id << " (--list shows them)\n";
  return 2;
} catch (const std::exception& e) {
  std::cerr << "compare_" TG_COMPARE_SIDE ": " << e.what() << '\n';
  return 1;
}
