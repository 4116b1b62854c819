// Activation checkpointing: a training step's time and its peak memory without tg::checkpoint and
// with checkpoints of several sizes, on two models:
//  - a deep MLP (32 Linear 1024->1024 + ReLU layers, batch 256), checkpoints of 8, 4, 2 and 1
//    layers;
//  - an LSTM over a long sequence (nn::LSTM, input 64, hidden 256, 1,000 time steps, batch 32,
//    loss mean of the outputs squared), checkpoints of 100, 50, 25 and 10 time steps: each
//    segment runs the LSTM from the previous segment's state and keeps only its outputs and its
//    final state.
// The memory is the peak RSS of the training step above the RSS once parameters and input exist
// (malloc's bytes in use would count the library's buffer cache too). Each configuration runs in
// a process of its own, so each peak RSS is its own; the gradient's checksum shows every
// configuration computes the same gradients.
//
//   OPENBLAS_NUM_THREADS=2 ./bench_checkpoint            both tables (a child process per row)
//   ./bench_checkpoint --model lstm                      one table (mlp or lstm)
//   ./bench_checkpoint --model mlp --segment 4 [--steps 3]  one configuration (0: no checkpoint)
//   ./bench_checkpoint --quick                           smoke run: small sizes
#include <sys/resource.h>
#include <sys/wait.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <cblas.h>

#include <tapegrad/tapegrad.hpp>

extern char** environ;

namespace {

using tg::Var;
using Clock = std::chrono::steady_clock;

struct Sizes {
  std::size_t layers = 32, width = 1024, batch = 256;
};
struct LstmSizes {
  std::size_t input = 64, hidden = 256, steps = 1000, batch = 32;
};

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long total = 0, resident = 0;
  statm >> total >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

/// One configuration of the MLP: `segment` layers per checkpoint (0: none). Prints one result line.
int run_mlp(const Sizes& sizes, std::size_t segment, int steps) {
  tg::manual_seed(11);
  std::vector<std::shared_ptr<tg::nn::Linear<float>>> layers;
  for (std::size_t i = 0; i < sizes.layers; ++i)
    layers.push_back(std::make_shared<tg::nn::Linear<float>>(sizes.width, sizes.width));
  const Var x = tg::randn<float>({sizes.batch, sizes.width});
  // layers [first, last) applied to h
  const auto block = [&layers](Var h, std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) h = tg::relu(layers[i]->forward(h));
    return h;
  };
  const double baseline = rss_mib();  // the parameters and the input
  std::vector<double> forward, backward;
  double checksum = 0;
  for (int step = 0; step <= steps; ++step) {  // step 0 warms up
    for (auto& layer : layers) layer->zero_grad();
    const auto t0 = Clock::now();
    Var h = x;
    if (segment == 0) {
      h = block(h, 0, layers.size());
    } else {
      for (std::size_t first = 0; first < layers.size(); first += segment) {
        const std::size_t last = std::min(first + segment, layers.size());
        h = tg::checkpoint([&block, first, last](const Var& v) { return block(v, first, last); }, h);
      }
    }
    Var loss = tg::mean(h * h);
    const double f = ms_since(t0);
    const auto t1 = Clock::now();
    loss.backward();
    const double b = ms_since(t1);
    if (step > 0) forward.push_back(f), backward.push_back(b);
    checksum = 0;
    for (float g : layers.front()->weight.grad().value()) checksum += double(g);
  }
  std::sort(forward.begin(), forward.end());
  std::sort(backward.begin(), backward.end());
  std::printf("result segment=%zu fwd_ms=%.2f bwd_ms=%.2f peak_above_start_mib=%.1f grad_checksum=%.9g\n", segment,
              forward[forward.size() / 2], backward[backward.size() / 2], peak_rss_mib() - baseline, checksum);
  return 0;
}

/// One configuration of the LSTM: `segment` time steps per checkpoint (0: none, one call over the
/// whole sequence). Prints one result line.
int run_lstm(const LstmSizes& sizes, std::size_t segment, int steps) {
  tg::manual_seed(11);
  tg::nn::LSTM<float> lstm(sizes.input, sizes.hidden);
  const Var x = tg::randn<float>({sizes.steps, sizes.batch, sizes.input});
  const auto time_steps = static_cast<std::int64_t>(sizes.steps);
  const double baseline = rss_mib();  // the parameters and the input
  std::vector<double> forward, backward;
  double checksum = 0;
  for (int step = 0; step <= steps; ++step) {  // step 0 warms up
    lstm.zero_grad();
    const auto t0 = Clock::now();
    Var out;
    if (segment == 0) {
      out = lstm.forward(x);
    } else {
      // A checkpoint returns one tensor: the segment's final h and c stacked in front of its
      // outputs, [2 + length, batch, hidden]; the next segment starts from that state.
      std::vector<Var> outputs;
      Var state;  // undefined: the first segment starts from zeros
      for (std::int64_t first = 0; first < time_steps; first += std::int64_t(segment)) {
        const std::int64_t length = std::min(std::int64_t(segment), time_steps - first);
        const auto run_segment = [&lstm](const Var& inputs, const Var& hc) {
          tg::nn::LSTMState<float> start;
          if (hc.defined()) start = {tg::narrow(hc, 0, 0, 1), tg::narrow(hc, 0, 1, 1)};
          auto result = lstm.forward(inputs, start);
          return tg::concat({result.state.h, result.state.c, result.output}, 0);
        };
        // (a checkpoint keeps its function until backward: capture by value, not this loop's locals by reference)
        const Var inputs = tg::narrow(x, 0, first, length);
        const Var packed = state.defined()
                               ? tg::checkpoint(run_segment, inputs, state)
                               : tg::checkpoint([run_segment](const Var& v) { return run_segment(v, Var()); }, inputs);
        state = tg::narrow(packed, 0, 0, 2);
        outputs.push_back(tg::narrow(packed, 0, 2, length));
      }
      out = tg::concat(outputs, 0);
    }
    Var loss = tg::mean(out * out);
    const double f = ms_since(t0);
    const auto t1 = Clock::now();
    loss.backward();
    const double b = ms_since(t1);
    if (step > 0) forward.push_back(f), backward.push_back(b);
    checksum = 0;
    for (float g : lstm.parameters().front().grad().value()) checksum += double(g);
  }
  std::sort(forward.begin(), forward.end());
  std::sort(backward.begin(), backward.end());
  std::printf("result segment=%zu fwd_ms=%.2f bwd_ms=%.2f peak_above_start_mib=%.1f grad_checksum=%.6g\n", segment,
              forward[forward.size() / 2], backward[backward.size() / 2], peak_rss_mib() - baseline, checksum);
  return 0;
}

/// Runs this program again for one configuration and returns its result line.
std::string child(const char* self, const std::vector<std::string>& args) {
  int out[2];
  if (pipe(out) != 0) return "";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<char*> argv{const_cast<char*>(self)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, self, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, std::size_t(n));
  close(out[0]);
  if (spawned != 0) return "";
  int status = 0;
  waitpid(pid, &status, 0);
  return text;
}

std::string field(const std::string& line, const std::string& key) {
  const auto at = line.find(key + "=");
  if (at == std::string::npos) return "?";
  const auto begin = at + key.size() + 1;
  return line.substr(begin, line.find_first_of(" \n", begin) - begin);
}

/// One table: each configuration in a child process. Returns false if a child failed.
bool table(const std::string& model, const std::vector<std::size_t>& segments, int steps, bool quick) {
  const char* unit = model == "mlp" ? "layers" : "time steps";
  std::printf("| %s per checkpoint | forward ms | backward ms | step ms | peak RSS above start, MiB | "
              "gradient checksum |\n|---|---:|---:|---:|---:|---|\n", unit);
  for (std::size_t s : segments) {
    std::vector<std::string> args{"--model", model, "--segment", std::to_string(s), "--steps", std::to_string(steps)};
    if (quick) args.push_back("--quick");
    const std::string line = child("/proc/self/exe", args);
    if (line.find("result ") == std::string::npos) {
      std::fprintf(stderr, "bench_checkpoint: the %s run with --segment %zu failed\n", model.c_str(), s);
      return false;
    }
    const double f = std::stod(field(line, "fwd_ms")), b = std::stod(field(line, "bwd_ms"));
    std::printf("| %s | %.1f | %.1f | %.1f | %s | %s |\n", s == 0 ? "none" : std::to_string(s).c_str(), f, b, f + b,
                field(line, "peak_above_start_mib").c_str(), field(line, "grad_checksum").c_str());
    std::fflush(stdout);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Sizes sizes;
  LstmSizes lstm_sizes;
  int steps = 3;
  long segment = -1;
  bool quick = false;
  std::string model;  // "": both tables
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--segment") && i + 1 < argc) segment = std::stol(argv[++i]);
    else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) steps = std::stoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--model") && i + 1 < argc && (!std::strcmp(argv[i + 1], "mlp") || !std::strcmp(argv[i + 1], "lstm")))
      model = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_checkpoint [--quick] [--model mlp|lstm] [--segment N] [--steps N]\n");
      return 2;
    }
  }
  if (quick) sizes = {8, 64, 8}, lstm_sizes = {8, 16, 20, 4}, steps = 1;
  if (segment >= 0) {
    if (model == "lstm") return run_lstm(lstm_sizes, std::size_t(segment), steps);
    return run_mlp(sizes, std::size_t(segment), steps);
  }

  std::printf("OpenBLAS core %s, %d thread(s); median of %d steps after one warm-up, each configuration in its own "
              "process; peak RSS above the process's RSS once parameters and input exist\n\n",
              openblas_get_corename(), openblas_get_num_threads(), steps);
  if (model.empty() || model == "mlp") {
    std::printf("## Activation checkpointing: MLP of %zu Linear(%zu, %zu) + ReLU layers, batch %zu, loss mean(y^2)\n\n",
                sizes.layers, sizes.width, sizes.width, sizes.batch);
    std::vector<std::size_t> segments{0};
    for (std::size_t s : {8, 4, 2, 1})
      if (s <= sizes.layers) segments.push_back(s);
    if (!table("mlp", segments, steps, quick)) return 1;
  }
  if (model.empty() || model == "lstm") {
    std::printf("%s## Activation checkpointing: LSTM(%zu, %zu) over %zu time steps, batch %zu, loss mean(output^2)\n\n",
                model.empty() ? "\n" : "", lstm_sizes.input, lstm_sizes.hidden, lstm_sizes.steps, lstm_sizes.batch);
    const std::vector<std::size_t> segments =
        quick ? std::vector<std::size_t>{0, 5} : std::vector<std::size_t>{0, 100, 50, 25, 10};
    if (!table("lstm", segments, steps, quick)) return 1;
  }
  return 0;
}
