// Forward-vs-backward micro-benchmarks of the tape and the core ops (the workloads of
// benchmarks/README.md: W1 tape overhead, W2 small tensors, the big elementwise,
// reduction, matmul and softmax ops, W3 the MLP with its loss, one Adam training step and
// the same GEMMs on raw buffers (its floor), and W7 the raw sgemm ceiling).
//
// Each iteration builds the graph (timed: "forward"), calls backward() (timed: "backward"),
// then, untimed, drops the graph and clears the leaves' gradients as optimizer.zero_grad()
// would. Timing is manual (steady_clock around each phase) because PauseTiming costs more
// than a whole tape op; the chain workloads are timed as whole chains. After Google
// Benchmark's own output comes one summary table of medians.
//
//   OPENBLAS_NUM_THREADS=2 ./bench_ops            full run (>= 20 timed iterations each)
//   ./bench_ops --quick                          smoke run (3 iterations each)
//   ./bench_ops --no-mallopt                     keep glibc's default malloc thresholds
//   ./bench_ops --benchmark_filter=matmul        any Google Benchmark flag works too
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <malloc.h>

#include <tapegrad/tapegrad.hpp>

#ifndef TAPEGRAD_BENCH_BUILD
#define TAPEGRAD_BENCH_BUILD "unknown flags"
#endif

namespace {

using tg::Var;
using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2) return *mid;
  return (*mid + *std::max_element(v.begin(), mid)) / 2;
}

/// One workload: inputs made once, a forward that records a graph and returns its root,
/// a backward on that root, and the leaves whose gradients are cleared between iterations.
struct Workload {
  std::string name;
  int iterations = 20;    // timed iterations in a full run
  double ops = 0;         // tape nodes per forward (chains: per-op figures)
  double flops = 0;       // floating-point operations per forward (GEMM rows)
  double bwd_flops = 0;   // per backward, when not twice the forward's
  std::function<Var()> forward;
  std::function<void(const Var&)> backward = [](const Var& y) { y.backward(); };
  std::function<void()> update;  // optional, timed after backward: an optimizer step
  std::vector<Var> leaves;
  std::vector<double> fwd_ms, bwd_ms, upd_ms, step_ms;  // the samples of the last run
};

/// Raw cblas_sgemm at one size: the ceiling for GEMM-bound work (W7).
struct Sgemm {
  int n = 0;
  int iterations = 20;
  std::vector<double> ms;
  double gflops() const { return 2.0 * n * n * n / (median(ms) * 1e6); }
};

std::vector<std::unique_ptr<Workload>> workloads;
std::vector<std::unique_ptr<Sgemm>> sgemms;

void run_workload(benchmark::State& state, Workload* w) {
  const auto clear = [w] {
    for (auto& leaf : w->leaves) leaf.zero_grad();
  };
  {  // warm-up: first-touch page faults, OpenBLAS thread start, the heap reaching its size
    Var y = w->forward();
    w->backward(y);
    if (w->update) w->update();
  }
  clear();
  for (auto* v : {&w->fwd_ms, &w->bwd_ms, &w->upd_ms, &w->step_ms}) v->clear();
  for (auto _ : state) {
    const auto t0 = Clock::now();
    Var y = w->forward();
    const auto t1 = Clock::now();
    w->backward(y);
    const auto t2 = Clock::now();
    if (w->update) w->update();
    const auto t3 = Clock::now();
    y = Var();
    clear();
    w->fwd_ms.push_back(ms_between(t0, t1));
    w->bwd_ms.push_back(ms_between(t1, t2));
    if (w->update) w->upd_ms.push_back(ms_between(t2, t3));
    w->step_ms.push_back(ms_between(t0, t3));
    state.SetIterationTime(ms_between(t0, t3) / 1e3);
  }
  const double f = median(w->fwd_ms), b = median(w->bwd_ms);
  state.counters["fwd_ms"] = f;
  state.counters["bwd_ms"] = b;
  state.counters["bwd/fwd"] = b / f;
  if (w->update) {
    state.counters["update_ms"] = median(w->upd_ms);
    state.counters["step_ms"] = median(w->step_ms);
  }
  if (w->ops > 0) {
    state.counters["fwd_ns/op"] = f * 1e6 / w->ops;
    state.counters["bwd_ns/op"] = b * 1e6 / w->ops;
  }
}

void run_sgemm(benchmark::State& state, Sgemm* s) {
  const std::size_t n = static_cast<std::size_t>(s->n);
  std::vector<float> a(n * n), b(n * n), c(n * n);
  for (std::size_t i = 0; i < n * n; ++i) a[i] = float(i % 7) * 0.25f, b[i] = float(i % 5) * 0.5f;
  const auto gemm = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->n, s->n, s->n, 1.0f, a.data(), s->n, b.data(), s->n,
                0.0f, c.data(), s->n);
  };
  gemm();  // warm-up
  s->ms.clear();
  for (auto _ : state) {
    const auto t0 = Clock::now();
    gemm();
    const auto t1 = Clock::now();
    s->ms.push_back(ms_between(t0, t1));
    state.SetIterationTime(ms_between(t0, t1) / 1e3);
  }
  benchmark::DoNotOptimize(c.data());
  state.counters["GFLOP/s"] = s->gflops();
}

Var randn(const tg::Shape& shape, bool requires_grad = true) { return tg::randn<float>(shape, requires_grad); }

/// A workload whose root is not one element: backward(seed) with a fixed random seed.
Workload& add_seeded(std::string name, int iterations, std::vector<Var> leaves, std::function<Var()> forward,
                     tg::Shape out_shape) {
  auto w = std::make_unique<Workload>();
  w->name = std::move(name);
  w->iterations = iterations;
  w->leaves = std::move(leaves);
  w->forward = std::move(forward);
  Var seed = randn(out_shape, false);
  w->backward = [seed](const Var& y) { y.backward(seed); };
  workloads.push_back(std::move(w));
  return *workloads.back();
}

void define_workloads() {
  tg::manual_seed(42);
  {  // W1: the cost of the tape itself, 2,000 one-element ops
    auto w = std::make_unique<Workload>();
    w->name = "W1 scalar chain (2,000 ops)";
    w->iterations = 200;
    w->ops = 2000;
    Var x = tg::full<float>({1}, 0.5, true);
    w->leaves = {x};
    w->forward = [x] {
      Var y = x;
      for (int i = 0; i < 1000; ++i) y = y * 1.0001f + 0.0001f;
      return y;
    };
    workloads.push_back(std::move(w));
  }
  {  // W2: small tensors, 900 ops of [16] plus the sum
    auto w = std::make_unique<Workload>();
    w->name = "W2 [16] tanh chain (x300)";
    w->iterations = 200;
    w->ops = 901;
    Var x = randn({16}), wt = randn({16}), b = randn({16});
    w->leaves = {x, wt, b};
    w->forward = [x, wt, b] {
      Var y = x;
      for (int i = 0; i < 300; ++i) y = tg::tanh(y * wt + b);
      return tg::sum(y);
    };
    workloads.push_back(std::move(w));
  }
  const tg::Shape big{1 << 20};
  {
    Var a = randn(big), b = randn(big);
    add_seeded("add [1M]", 50, {a, b}, [a, b] { return a + b; }, big);
    add_seeded("mul [1M]", 50, {a, b}, [a, b] { return a * b; }, big);
    add_seeded("tanh [1M]", 50, {a}, [a] { return tg::tanh(a); }, big);
  }
  {
    Var m = randn({1024, 1024});
    add_seeded("sum axis 0 [1024,1024]", 50, {m}, [m] { return tg::sum(m, {0}); }, {1024});
    add_seeded("sum axis 1 [1024,1024]", 50, {m}, [m] { return tg::sum(m, {1}); }, {1024});
  }
  for (std::size_t n : {256, 512, 1024}) {
    Var a = randn({n, n}), b = randn({n, n});
    auto& w = add_seeded("matmul " + std::to_string(n), n == 1024 ? 20 : n == 512 ? 40 : 100, {a, b},
                         [a, b] { return tg::matmul(a, b); }, {n, n});
    w.flops = 2.0 * double(n) * double(n) * double(n);
  }
  {
    Var x = randn({256, 1000});
    add_seeded("softmax [256,1000] last axis", 50, {x}, [x] { return tg::softmax(x, -1); }, {256, 1000});
  }
  {  // sigmoid's fused backward; tg::checkpoint's cost over the same segment run plainly
    Var a = randn(big), b = randn(big);
    add_seeded("sigmoid [1M]", 50, {a}, [a] { return tg::sigmoid(a); }, big);
    add_seeded("tanh(a * b) [1M]", 50, {a, b}, [a, b] { return tg::tanh(a * b); }, big);
    add_seeded("checkpoint(tanh(a * b)) [1M]", 50, {a, b},
               [a, b] { return tg::checkpoint([](const Var& u, const Var& v) { return tg::tanh(u * v); }, a, b); }, big);
  }
  {  // the attention ops (issue 9) at W6's sizes: batch 8, sequence 128, d_model 256, 8 heads
    Var v = randn({1 << 18});
    add_seeded("pow(x, 2) [262144]", 50, {v}, [v] { return tg::pow(v, 2.0f); }, {1 << 18});
    Var scores = randn({64, 128, 128});
    add_seeded("softmax [64,128,128] last axis", 30, {scores}, [scores] { return tg::softmax(scores, -1); }, {64, 128, 128});
    Var causal = tg::nn::causal_mask<float>(128, 128);
    add_seeded("attention_softmax [8,8,128,128] causal", 30, {scores},
               [scores, causal] { return tg::attention_softmax(tg::reshape(scores, {8, 8, 128, 128}), causal); }, {8, 8, 128, 128});
    Var heads = randn({8, 128, 8, 32});
    add_seeded("permute [8,128,8,32] -> [8,8,128,32]", 30, {heads}, [heads] { return tg::permute(heads, {0, 2, 1, 3}); },
               {8, 8, 128, 32});
    Var q4 = randn({8, 8, 128, 32}), k4 = randn({8, 8, 128, 32});
    auto& bmm = add_seeded("batched matmul [8,8,128,32] x [8,8,128,32]^T", 30, {q4, k4},
                           [q4, k4] { return tg::matmul(q4, k4, {.transpose_b = true}); }, {8, 8, 128, 128});
    bmm.flops = 2.0 * 64 * 128 * 128 * 32;
    Var q = randn({8, 128, 256}), k = randn({8, 128, 256});
    auto& hs = add_seeded("head_scores [8,128,256] 8 heads", 30, {q, k}, [q, k] { return tg::head_scores(q, k, 8, 0.1768f); },
                          {8, 8, 128, 128});
    hs.flops = 2.0 * 64 * 128 * 128 * 32;
    auto& haw = add_seeded("head_attention_weights [8,128,256] 8 heads (scores and softmax)", 30, {q, k},
                           [q, k] { return tg::head_attention_weights(q, k, 8, 0.1768f); }, {8, 8, 128, 128});
    haw.flops = 2.0 * 64 * 128 * 128 * 32;
    add_seeded("scaled_dot_product_attention [8,8,128,32] causal", 20, {q4, k4},
               [q4, k4] { return tg::nn::scaled_dot_product_attention(q4, k4, k4, {.is_causal = true}); }, {8, 8, 128, 32});
    auto mha = std::make_shared<tg::nn::MultiheadAttention<float>>(256, 8);
    Var x = randn({128, 8, 256}, false);
    auto w = std::make_unique<Workload>();
    w->name = "W6 MultiheadAttention [128,8,256] 8 heads";
    w->iterations = 20;
    w->flops = 2.0 * 1024 * 256 * 1024 + 2 * 2.0 * 64 * 128 * 128 * 32;
    w->leaves = mha->parameters();
    w->forward = [mha, x] {
      Var out = mha->forward(x);
      return tg::mean(out * out);
    };
    workloads.push_back(std::move(w));
  }
  // W3: MLP 784-512-512-10 with ReLU, cross-entropy on random labels. The input needs no
  // gradient, as in training; the leaves are the model's parameters. The backward is two GEMMs
  // per layer except the first, which has no input gradient to compute.
  const auto mlp_flops = [](double batch) { return 2 * batch * (784.0 * 512 + 512.0 * 512 + 512.0 * 10); };
  const auto mlp_bwd_flops = [&](double batch) { return 2 * mlp_flops(batch) - 2 * batch * 784.0 * 512; };
  const auto mlp_batch = [](std::size_t batch) {
    Var x = randn({batch, 784}, false);
    tg::IndexArray labels = tg::IndexArray::from_shape({batch});
    std::uint64_t state = 12345;  // a fixed LCG: the labels do not depend on the library's generator
    for (auto& l : labels) state = state * 6364136223846793005ull + 1442695040888963407ull, l = (state >> 33) % 10;
    return std::pair{x, labels};
  };
  for (std::size_t batch : {64, 256}) {
    auto model = std::make_shared<tg::nn::MLP<float>>(std::vector<std::size_t>{784, 512, 512, 10});
    auto [x, labels] = mlp_batch(batch);
    auto w = std::make_unique<Workload>();
    w->name = "W3 MLP 784-512-512-10 batch " + std::to_string(batch);
    w->iterations = batch == 64 ? 100 : 40;
    w->flops = mlp_flops(double(batch));
    w->bwd_flops = mlp_bwd_flops(double(batch));
    w->leaves = model->parameters();
    w->forward = [model, x, labels] { return tg::nn::cross_entropy(model->forward(x), labels); };
    workloads.push_back(std::move(w));
  }
  {  // W3 training step: the optimizer's zero_grad is timed with the forward, Adam's step apart
    auto model = std::make_shared<tg::nn::MLP<float>>(std::vector<std::size_t>{784, 512, 512, 10});
    auto adam = std::make_shared<tg::optim::Adam<float>>(model->parameters(), tg::optim::AdamOptions{.lr = 1e-4});
    auto [x, labels] = mlp_batch(64);
    auto w = std::make_unique<Workload>();
    w->name = "W3 MLP batch 64 train step (zero_grad+fwd, bwd; Adam)";
    w->iterations = 100;
    w->flops = mlp_flops(64);
    w->bwd_flops = mlp_bwd_flops(64);
    w->forward = [model, adam, x, labels] {
      adam->zero_grad();
      return tg::nn::cross_entropy(model->forward(x), labels);
    };
    w->update = [adam] { adam->step(); };
    workloads.push_back(std::move(w));
  }
  // W3's floor: the same GEMMs (forward x W^T; backward G^T A and, past the first layer,
  // G W) on raw buffers with cblas_sgemm, nothing else, measured in the same run.
  for (std::size_t batch : {64, 256}) {
    struct Buffers {
      int b = 0;
      int width[4] = {784, 512, 512, 10};
      std::vector<float> w[3], dw[3], act[4], grad[4];
    };
    auto buf = std::make_shared<Buffers>();
    buf->b = static_cast<int>(batch);
    for (int l = 0; l < 4; ++l) {
      buf->act[l].assign(batch * std::size_t(buf->width[l]), 0.5f);
      buf->grad[l].assign(batch * std::size_t(buf->width[l]), 0.01f);
      if (l < 3) {
        buf->w[l].assign(std::size_t(buf->width[l + 1]) * std::size_t(buf->width[l]), 0.02f);
        buf->dw[l].assign(buf->w[l].size(), 0.f);
      }
    }
    auto w = std::make_unique<Workload>();
    w->name = "W3 floor: its GEMMs alone (raw sgemm), batch " + std::to_string(batch);
    w->iterations = batch == 64 ? 100 : 40;
    w->flops = mlp_flops(double(batch));
    w->bwd_flops = mlp_bwd_flops(double(batch));
    w->forward = [buf] {
      Buffers& u = *buf;
      for (int l = 0; l < 3; ++l)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, u.b, u.width[l + 1], u.width[l], 1.0f, u.act[l].data(),
                    u.width[l], u.w[l].data(), u.width[l], 0.0f, u.act[l + 1].data(), u.width[l + 1]);
      return Var();
    };
    w->backward = [buf](const Var&) {
      Buffers& u = *buf;
      for (int l = 2; l >= 0; --l) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, u.width[l + 1], u.width[l], u.b, 1.0f,
                    u.grad[l + 1].data(), u.width[l + 1], u.act[l].data(), u.width[l], 0.0f, u.dw[l].data(),
                    u.width[l]);
        if (l > 0)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, u.b, u.width[l], u.width[l + 1], 1.0f,
                      u.grad[l + 1].data(), u.width[l + 1], u.w[l].data(), u.width[l], 0.0f, u.grad[l].data(),
                      u.width[l]);
      }
    };
    workloads.push_back(std::move(w));
  }
  // Recurrent layers (W5: 1 layer, input 64, hidden 128, sequence 50, batch 32, loss mean of the
  // outputs squared) and the ops their steps are made of, at W5's step shapes.
  {
    Var x = randn({32, 64}, true), w = randn({512, 64}, true), b = randn({512}, true);
    auto& lin = add_seeded("linear [32,64] x [512,64]^T + b", 200, {x, w, b}, [x, w, b] { return tg::linear(x, w, b); },
                           {32, 512});
    lin.flops = 2.0 * 32 * 64 * 512;
    Var gates = randn({32, 512}, true), c = randn({32, 128}, true);
    add_seeded("lstm_cell_state + lstm_cell_output [32,4x128]", 200, {gates, c},
               [gates, c] { return tg::lstm_cell_output(gates, tg::lstm_cell_state(gates, c)); }, {32, 128});
    Var xw = randn({32, 384}, true), hw = randn({32, 384}, true), h = randn({32, 128}, true);
    add_seeded("gru_cell [32,3x128]", 200, {xw, hw, h}, [xw, hw, h] { return tg::gru_cell(xw, hw, h); }, {32, 128});
    Var steps = randn({1600, 512}, true);
    add_seeded("split [1600,512] into 50 steps, summed", 50, {steps},
               [steps] {
                 auto parts = tg::split(steps, std::vector<std::int64_t>(50, 32), 0);
                 Var total = parts[0];
                 for (std::size_t i = 1; i < parts.size(); ++i) total = total + parts[i];
                 return total;
               },
               {32, 512});
  }
  const auto recurrent_workload = [](std::string name, std::shared_ptr<tg::nn::Module<float>> layer, double gates) {
    Var x = randn({50, 32, 64}, false);
    auto w = std::make_unique<Workload>();
    w->name = std::move(name);
    w->iterations = 20;
    // the input projection of all steps, then one [32,128] x [128, gates*128] GEMM per step
    w->flops = 2.0 * 50 * 32 * gates * 128 * (64 + 128);
    w->leaves = layer->parameters();
    w->forward = [layer, x] {
      Var out = layer->forward(x);
      return tg::mean(out * out);
    };
    workloads.push_back(std::move(w));
  };
  recurrent_workload("W5 LSTM 64-128, seq 50, batch 32", std::make_shared<tg::nn::LSTM<float>>(64, 128), 4);
  recurrent_workload("W5 GRU 64-128, seq 50, batch 32", std::make_shared<tg::nn::GRU<float>>(64, 128), 3);
  recurrent_workload("W5 RNN tanh 64-128, seq 50, batch 32", std::make_shared<tg::nn::RNN<float>>(64, 128), 1);
  // Convolution and pooling at W4's shapes (im2col + GEMM; the input needs no gradient in conv1,
  // as in training) and a transposed convolution as a decoder would use it.
  {
    const auto conv_flops = [](double n, double out, double positions, double taps) { return 2 * n * out * positions * taps; };
    Var x1 = randn({64, 1, 28, 28}, false), w1 = randn({32, 1, 3, 3}), b1 = randn({32});
    add_seeded("conv2d [64,1,28,28] 1->32 k3 p1", 40, {w1, b1}, [x1, w1, b1] { return tg::conv2d(x1, w1, b1, {.padding = 1}); },
               {64, 32, 28, 28})
        .flops = conv_flops(64, 32, 28 * 28, 9);
    Var x2 = randn({64, 32, 14, 14}), w2 = randn({64, 32, 3, 3}), b2 = randn({64});
    add_seeded("conv2d [64,32,14,14] 32->64 k3 p1", 40, {x2, w2, b2},
               [x2, w2, b2] { return tg::conv2d(x2, w2, b2, {.padding = 1}); }, {64, 64, 14, 14})
        .flops = conv_flops(64, 64, 14 * 14, 32 * 9);
    Var x3 = randn({64, 64, 7, 7}), w3 = randn({64, 32, 2, 2});
    add_seeded("conv_transpose2d [64,64,7,7] 64->32 k2 s2", 40, {x3, w3},
               [x3, w3] { return tg::conv_transpose2d(x3, w3, Var(), {.stride = 2}); }, {64, 32, 14, 14})
        .flops = conv_flops(64, 64, 7 * 7, 32 * 4);
    Var p = randn({64, 32, 28, 28});
    add_seeded("max_pool2d [64,32,28,28] k2", 40, {p}, [p] { return tg::max_pool2d(p, {.kernel_size = 2}); }, {64, 32, 14, 14});
    add_seeded("avg_pool2d [64,32,28,28] k2", 40, {p}, [p] { return tg::avg_pool2d(p, {.kernel_size = 2}); }, {64, 32, 14, 14});
    auto norm = std::make_shared<tg::nn::BatchNorm2d<float>>(32);
    std::vector<Var> leaves = norm->parameters();
    leaves.push_back(p);
    add_seeded("BatchNorm2d train [64,32,28,28]", 40, leaves, [norm, p] { return (*norm)(p); }, {64, 32, 28, 28});
    add_seeded("max_pool2d [64,32,28,28] k3 s2 p1", 40, {p},
               [p] { return tg::max_pool2d(p, {.kernel_size = 3, .stride = 2, .padding = 1}); }, {64, 32, 14, 14});
  }
  // Layer normalisation at a transformer block's shapes (batch 32, sequence 50, model 256)
  {
    Var x = randn({32, 50, 256});
    auto norm = std::make_shared<tg::nn::LayerNorm<float>>(256);
    std::vector<Var> leaves = norm->parameters();
    leaves.push_back(x);
    add_seeded("LayerNorm [32,50,256]", 40, leaves, [norm, x] { return (*norm)(x); }, {32, 50, 256});
    Var w = randn({256}), b = randn({256});
    add_seeded("layer_norm [32,50,256] over 256", 40, {x, w, b}, [x, w, b] { return tg::layer_norm(x, w, b); }, {32, 50, 256});
    Var p = randn({64, 32, 28, 28}), weight = randn({32}), bias = randn({32});
    add_seeded("batch_norm [64,32,28,28]", 40, {p, weight, bias}, [p, weight, bias] { return tg::batch_norm(p, weight, bias); },
               {64, 32, 28, 28});
  }
  for (int n : {256, 512, 1024}) {
    auto s = std::make_unique<Sgemm>();
    s->n = n;
    s->iterations = n == 1024 ? 20 : n == 512 ? 40 : 100;
    sgemms.push_back(std::move(s));
  }
}

/// A row for an op with no gradient (comparisons, sign, argmax, one_hot): its forward alone.
Workload& add_forward_only(std::string name, int iterations, std::function<Var()> forward) {
  auto w = std::make_unique<Workload>();
  w->name = std::move(name) + " (no gradient: forward only)";
  w->iterations = iterations;
  w->forward = std::move(forward);
  w->backward = [](const Var&) {};
  workloads.push_back(std::move(w));
  return *workloads.back();
}

/// Random class indices in [0, classes), from a fixed LCG, in the given shape.
tg::IndexArray random_indices(const tg::Shape& shape, std::size_t classes, std::uint64_t state = 777) {
  tg::IndexArray index = tg::IndexArray::from_shape(shape);
  for (auto& i : index)
    state = state * 6364136223846793005ull + 1442695040888963407ull, i = tg::Index((state >> 33) % classes);
  return index;
}

/// One row for each registered op that the workloads above do not already time, named by the
/// op (test_op_catalogue checks that every op the library registers names a row). Elementwise ops at [1M], reductions at [1024,1024], softmaxes at [256,1000] (a batch
/// of logits), the rest at the shapes of the layers that use them.
void define_op_rows() {
  const tg::Shape big{1 << 20};
  {  // elementwise: the rest of the arithmetic, the math functions, the activations
    Var a = randn(big), b = randn(big);
    Var positive = tg::exp(randn(big, false) * 0.5f).detach(), exponent = randn(big, false).detach();
    positive.set_requires_grad(true);
    exponent.set_requires_grad(true);
    const auto unary = [&](const std::string& op, Var x, std::function<Var(const Var&)> f) {
      add_seeded(op + " [1M]", 50, {x}, [x, f] { return f(x); }, big);
    };
    add_seeded("sub [1M]", 50, {a, b}, [a, b] { return tg::sub(a, b); }, big);
    add_seeded("div [1M]", 50, {a, positive}, [a, positive] { return tg::div(a, positive); }, big);
    add_seeded("pow(x, y) [1M], both tensors", 50, {positive, exponent},
               [positive, exponent] { return tg::pow(positive, exponent); }, big);
    add_seeded("maximum [1M]", 50, {a, b}, [a, b] { return tg::maximum(a, b); }, big);
    add_seeded("minimum [1M]", 50, {a, b}, [a, b] { return tg::minimum(a, b); }, big);
    Var mask = tg::gt(a, b).detach();
    add_seeded("where [1M]", 50, {a, b}, [mask, a, b] { return tg::where(mask, a, b); }, big);
    unary("neg", a, [](const Var& x) { return tg::neg(x); });
    unary("add_scalar", a, [](const Var& x) { return tg::add_scalar(x, 0.5f); });
    unary("mul_scalar", a, [](const Var& x) { return tg::mul_scalar(x, 1.5f); });
    unary("reciprocal", positive, [](const Var& x) { return tg::reciprocal(x); });
    unary("exp", a, [](const Var& x) { return tg::exp(x); });
    unary("log", positive, [](const Var& x) { return tg::log(x); });
    unary("sqrt", positive, [](const Var& x) { return tg::sqrt(x); });
    unary("erf", a, [](const Var& x) { return tg::erf(x); });
    unary("abs", a, [](const Var& x) { return tg::abs(x); });
    unary("sin", a, [](const Var& x) { return tg::sin(x); });
    unary("cos", a, [](const Var& x) { return tg::cos(x); });
    unary("relu", a, [](const Var& x) { return tg::relu(x); });
    unary("leaky_relu", a, [](const Var& x) { return tg::leaky_relu(x, 0.01f); });
    unary("elu", a, [](const Var& x) { return tg::elu(x, 1.0f); });
    unary("softplus", a, [](const Var& x) { return tg::softplus(x); });
    unary("clamp", a, [](const Var& x) { return tg::clamp(x, -0.5f, 0.5f); });
    add_forward_only("sign [1M]", 50, [a] { return tg::sign(a); });
    add_forward_only("lt [1M]", 50, [a, b] { return tg::lt(a, b); });
    add_forward_only("le [1M]", 50, [a, b] { return tg::le(a, b); });
    add_forward_only("gt [1M]", 50, [a, b] { return tg::gt(a, b); });
    add_forward_only("ge [1M]", 50, [a, b] { return tg::ge(a, b); });
    add_forward_only("eq [1M]", 50, [a, b] { return tg::eq(a, b); });
    add_forward_only("ne [1M]", 50, [a, b] { return tg::ne(a, b); });
  }
  {  // reductions over the last axis of [1024,1024]; softmaxes over a batch of 256 rows of 1000 logits
    Var m = randn({1024, 1024});
    add_seeded("mean axis 1 [1024,1024]", 50, {m}, [m] { return tg::mean(m, {1}); }, {1024});
    add_seeded("max axis 1 [1024,1024]", 50, {m}, [m] { return tg::max(m, {1}); }, {1024});
    add_seeded("min axis 1 [1024,1024]", 50, {m}, [m] { return tg::min(m, {1}); }, {1024});
    add_seeded("logsumexp axis 1 [1024,1024]", 50, {m}, [m] { return tg::logsumexp(m, {1}); }, {1024});
    add_seeded("norm axis 1 [1024,1024]", 50, {m}, [m] { return tg::norm(m, {1}); }, {1024});
    add_forward_only("argmax axis 1 [1024,1024]", 50, [m] {
      tg::IndexArray index = tg::argmax(m, 1);
      benchmark::DoNotOptimize(index.data());
      return Var();
    });
    add_forward_only("argmin axis 1 [1024,1024]", 50, [m] {
      tg::IndexArray index = tg::argmin(m, 1);
      benchmark::DoNotOptimize(index.data());
      return Var();
    });
    Var logits = randn({256, 1000}), out = tg::softmax(randn({256, 1000}, false), -1).detach(), g = randn({256, 1000});
    out.set_requires_grad(true);
    add_seeded("log_softmax [256,1000] last axis", 50, {logits}, [logits] { return tg::log_softmax(logits, -1); },
               {256, 1000});
    add_seeded("softmax_backward [256,1000] (softmax's derivative, twice differentiable)", 50, {g, out},
               [g, out] { return tg::softmax_backward(g, out); }, {256, 1000});
  }
  {  // shape ops
    Var m = randn({1024, 1024}), row = randn({1, 1024}), act = randn({64, 32, 14, 14});
    add_seeded("reshape [1024,1024] -> [1024,32,32]", 50, {m}, [m] { return tg::reshape(m, {1024, 32, 32}); },
               {1024, 32, 32});
    add_seeded("expand [1,1024] -> [1024,1024]", 50, {row}, [row] { return tg::expand(row, {1024, 1024}); },
               {1024, 1024});
    add_seeded("sum_to [1024,1024] -> [1,1024]", 50, {m}, [m] { return tg::sum_to(m, {1, 1024}); }, {1, 1024});
    add_seeded("transpose [1024,1024] axes 0, 1", 50, {m}, [m] { return tg::transpose(m, 0, 1); }, {1024, 1024});
    add_seeded("flatten [64,32,14,14] from axis 1", 50, {act}, [act] { return tg::flatten(act, 1, -1); },
               {64, 32 * 14 * 14});
    Var col = randn({1024, 1, 1024});
    add_seeded("squeeze [1024,1,1024] axis 1", 50, {col}, [col] { return tg::squeeze(col, {1}); }, {1024, 1024});
    add_seeded("unsqueeze [1024,1024] axis 1", 50, {m}, [m] { return tg::unsqueeze(m, 1); }, {1024, 1, 1024});
  }
  {  // selection: slicing, an embedding's row lookup, cross-entropy's gather, an RNN's stack
    Var m = randn({1024, 1024});
    add_seeded("narrow [1024,1024] axis 1, 512 of 1024", 50, {m}, [m] { return tg::narrow(m, 1, 256, 512); },
               {1024, 512});
    add_seeded("slice [1024,1024] axis 0, every 2nd row", 50, {m}, [m] { return tg::slice(m, 0, 0, 1024, 2); },
               {512, 1024});
    Var table = randn({10000, 256});
    const tg::IndexArray rows = random_indices({4096}, 10000);
    add_seeded("index_select [10000,256], 4096 rows (an embedding)", 50, {table},
               [table, rows] { return tg::index_select(table, 0, rows); }, {4096, 256});
    Var logits = randn({256, 1000}), src = randn({256, 10});
    const tg::IndexArray picks = random_indices({256, 10}, 1000);
    add_seeded("gather [256,1000] axis 1, 10 per row", 50, {logits}, [logits, picks] { return tg::gather(logits, 1, picks); },
               {256, 10});
    add_seeded("scatter_add [256,1000] axis 1, 10 per row", 50, {logits, src},
               [logits, picks, src] { return tg::scatter_add(logits, 1, picks, src); }, {256, 1000});
    std::vector<Var> quarters{randn({256, 1024}), randn({256, 1024}), randn({256, 1024}), randn({256, 1024})};
    add_seeded("concat 4 x [256,1024] axis 1", 50, quarters, [quarters] { return tg::concat(quarters, 1); }, {256, 4096});
    std::vector<Var> steps;
    for (int t = 0; t < 50; ++t) steps.push_back(randn({32, 128}));
    add_seeded("stack 50 x [32,128] axis 0 (an RNN's outputs)", 50, steps, [steps] { return tg::stack(steps, 0); },
               {50, 32, 128});
    const tg::IndexArray labels = random_indices({4096}, 10);
    add_forward_only("one_hot 4096 labels, 10 classes", 50, [labels] { return tg::one_hot<float>(labels, 10); });
  }
  {  // attention: head_mix at W6's sizes (head_scores and attention_softmax have rows above)
    Var weights = randn({8, 8, 128, 128}), v = randn({8, 128, 256});
    auto& mix = add_seeded("head_mix [8,8,128,128] x [8,128,256] 8 heads", 30, {weights, v},
                           [weights, v] { return tg::head_mix(weights, v, 8); }, {8, 128, 256});
    mix.flops = 2.0 * 64 * 128 * 128 * 32;
  }
  {  // convolution and pooling ops not timed above: 1-d at a temporal-convolution layer's shapes,
     // unfold / fold at W4's second convolution, pooling with indices, adaptive pooling as a head
    Var seq = randn({32, 64, 256}), w1 = randn({64, 64, 3}), b1 = randn({64});
    add_seeded("conv1d [32,64,256] 64->64 k3 p1", 40, {seq, w1, b1},
               [seq, w1, b1] { return tg::conv1d(seq, w1, b1, {.padding = 1}); }, {32, 64, 256})
        .flops = 2.0 * 32 * 64 * 256 * 64 * 3;
    Var half = randn({32, 64, 128}), wt = randn({64, 32, 2});
    add_seeded("conv_transpose1d [32,64,128] 64->32 k2 s2", 40, {half, wt},
               [half, wt] { return tg::conv_transpose1d(half, wt, Var(), {.stride = 2}); }, {32, 32, 256})
        .flops = 2.0 * 32 * 64 * 128 * 32 * 2;
    Var act = randn({64, 32, 14, 14});
    add_seeded("unfold [64,32,14,14] k3 p1 (im2col)", 40, {act},
               [act] { return tg::unfold(act, {.kernel_size = 3, .padding = 1}); }, {64, 32 * 9, 14 * 14});
    Var cols = randn({64, 32 * 9, 14 * 14});
    add_seeded("fold [64,288,196] -> [64,32,14,14] k3 p1 (col2im)", 40, {cols},
               [cols] { return tg::fold(cols, {14, 14}, {.kernel_size = 3, .padding = 1}); }, {64, 32, 14, 14});
    add_seeded("max_pool1d [32,64,256] k2", 40, {seq}, [seq] { return tg::max_pool1d(seq, {.kernel_size = 2}); },
               {32, 64, 128});
    add_seeded("max_pool1d_with_indices [32,64,256] k2", 40, {seq},
               [seq] { return tg::max_pool1d_with_indices(seq, {.kernel_size = 2}).output; }, {32, 64, 128});
    add_seeded("avg_pool1d [32,64,256] k2", 40, {seq}, [seq] { return tg::avg_pool1d(seq, {.kernel_size = 2}); },
               {32, 64, 128});
    Var p = randn({64, 32, 28, 28});
    add_seeded("max_pool2d_with_indices [64,32,28,28] k2", 40, {p},
               [p] { return tg::max_pool2d_with_indices(p, {.kernel_size = 2}).output; }, {64, 32, 14, 14});
    Var features = randn({64, 64, 7, 7});
    add_seeded("adaptive_avg_pool2d [64,64,7,7] -> 1x1 (global average)", 40, {features},
               [features] { return tg::adaptive_avg_pool2d(features, {1, 1}); }, {64, 64, 1, 1});
    add_seeded("adaptive_max_pool2d [64,64,7,7] -> 3x3", 40, {features},
               [features] { return tg::adaptive_max_pool2d(features, {3, 3}); }, {64, 64, 3, 3});
    add_seeded("adaptive_max_pool2d_with_indices [64,64,7,7] -> 3x3", 40, {features},
               [features] { return tg::adaptive_max_pool2d_with_indices(features, {3, 3}).output; }, {64, 64, 3, 3});
  }
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
/// Milliseconds with three significant digits or more.
std::string ms_str(double ms) { return fixed(ms, ms < 0.01 ? 4 : ms < 0.1 ? 3 : ms < 10 ? 3 : 2); }

void print_summary(const std::string& setup) {
  std::printf("\n## tapegrad: forward vs backward\n\n%s\n\n", setup.c_str());
  std::printf("| workload | forward ms | backward ms | bwd/fwd | notes |\n|---|---:|---:|---:|---|\n");
  for (const auto& w : workloads) {
    if (w->fwd_ms.empty()) continue;
    const double f = median(w->fwd_ms), b = median(w->bwd_ms);
    std::string note;
    if (w->ops > 0) note = fixed(f * 1e6 / w->ops, 0) + " / " + fixed(b * 1e6 / w->ops, 0) + " ns per op (fwd / bwd)";
    if (w->flops > 0)
      note = "fwd " + fixed(w->flops / (f * 1e6), 0) + " GFLOP/s, bwd " +
             fixed((w->bwd_flops > 0 ? w->bwd_flops : 2 * w->flops) / (b * 1e6), 0) + " GFLOP/s";
    if (w->update)
      note += "; Adam step " + ms_str(median(w->upd_ms)) + " ms, whole step " + ms_str(median(w->step_ms)) + " ms";
    std::printf("| %s | %s | %s | %.2f | %s |\n", w->name.c_str(), ms_str(f).c_str(), ms_str(b).c_str(), b / f,
                note.c_str());
  }
  std::string line;
  for (const auto& s : sgemms)
    if (!s->ms.empty()) line += (line.empty() ? "" : ", ") + std::to_string(s->n) + ": " + fixed(s->gflops(), 0);
  if (!line.empty()) std::printf("\nW7 raw cblas_sgemm GFLOP/s (n: rate): %s\n", line.c_str());
  std::printf("\nsamples per row: ");
  bool first = true;
  for (const auto& w : workloads)
    if (!w->fwd_ms.empty()) std::printf("%s%zu", first ? "" : ", ", w->fwd_ms.size()), first = false;
  std::printf(" (median reported)\n");
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, use_mallopt = true, listing = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--no-mallopt") == 0) use_mallopt = false;
    else args.push_back(argv[i]);
    // --benchmark_list_tests prints the row names alone (bench_ops_covers_every_op reads them)
    const std::string arg = argv[i];
    if (arg.starts_with("--benchmark_list_tests")) listing = arg.find("=false") == std::string::npos && arg != "--benchmark_list_tests=0";
  }
  // glibc hands every freed buffer above 128 KiB (adaptively up to 32 MiB) back to the
  // kernel, and a page fault costs ~10 us in these VMs: without this a 4 MB tensor pays
  // its page faults again every iteration. 32 MiB is the largest mmap threshold glibc
  // accepts on 64-bit; the trim threshold has no such limit.
  std::string malloc_setup = "glibc malloc defaults (--no-mallopt)";
  if (use_mallopt) {
    const int mmap_ok = mallopt(M_MMAP_THRESHOLD, 32 << 20);
    const int trim_ok = mallopt(M_TRIM_THRESHOLD, 1 << 30);
    malloc_setup = std::string("glibc mallopt M_MMAP_THRESHOLD=32MiB") + (mmap_ok ? "" : " (refused)") +
                   " M_TRIM_THRESHOLD=1GiB" + (trim_ok ? "" : " (refused)") +
                   ": freed buffers stay in the heap and are reused";
  }
  int n_args = static_cast<int>(args.size());
  benchmark::Initialize(&n_args, args.data());
  if (benchmark::ReportUnrecognizedArguments(n_args, args.data())) return 1;

  define_workloads();
  define_op_rows();
  for (auto& w : workloads)
    benchmark::RegisterBenchmark(w->name.c_str(), run_workload, w.get())
        ->Iterations(quick ? 3 : w->iterations)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  for (auto& s : sgemms)
    benchmark::RegisterBenchmark(("W7 cblas_sgemm " + std::to_string(s->n)).c_str(), run_sgemm, s.get())
        ->Iterations(quick ? 3 : s->iterations)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);

  // openblas_get_config() names the version and build; openblas_get_corename() the kernels
  // actually in use (OPENBLAS_CORETYPE's, or those OpenBLAS picked for the CPU).
  const std::string setup = std::string("- OpenBLAS: core ") + openblas_get_corename() + ", " +
                            std::to_string(openblas_get_num_threads()) + " thread(s) (" + openblas_get_config() +
                            ")\n- build: " + TAPEGRAD_BENCH_BUILD + "; float32\n- malloc: " + malloc_setup +
                            (quick ? "\n- QUICK smoke run: 3 iterations each, not a measurement" : "");
  if (!listing) std::printf("%s\n", setup.c_str());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!listing) print_summary(setup);
  return 0;
}
