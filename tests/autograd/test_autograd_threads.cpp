// Backward on several threads at once, through shared parameters and shared graphs. Also run
// under ThreadSanitizer (scripts/test --tsan), which fails on any data race it sees.
#include "testing.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include <tapegrad/autograd/kernels/gemm.hpp>             // internal: the split GEMM
#include <tapegrad/autograd/core/detail/parallel.hpp>  // internal: the worker count

using namespace tg;

namespace {
constexpr int threads = 4;
constexpr int rounds = 100;

/// An input of small whole numbers, different for every (thread, round): sums of products
/// of them are exact in float, so the expected gradient is exact whatever the order.
Var whole_numbers(int thread, int round) {
  xt::xarray<float> x = xt::empty<float>(Shape{2, 4});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float((thread * 7 + round * 3 + int(i)) % 5 - 2);
  return Var(std::move(x));
}

template <class F>
void on_threads(F body) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(body, t);
  for (auto& th : pool) th.join();
}
}  // namespace

TEST_CASE("Hogwild: concurrent backward passes through shared parameters sum exactly") {
  Var w(xt::xarray<float>(xt::ones<float>(Shape{4, 3})), true);
  Var b(xt::xarray<float>(xt::zeros<float>(Shape{3})), true);
  // d/dW sum(x W + b) = x^T 1 (each column the column sums of x); d/db = rows of x
  xt::xarray<float> expected_w = xt::zeros<float>(Shape{4, 3});
  float expected_b = 0;
  for (int t = 0; t < threads; ++t)
    for (int r = 0; r < rounds; ++r) {
      const auto x = whole_numbers(t, r).value();
      for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 3; ++j) expected_w(i, j) += x(0, i) + x(1, i);
      expected_b += 2;
    }
  on_threads([&](int t) {
    for (int r = 0; r < rounds; ++r) sum(matmul(whole_numbers(t, r), w) + b).backward();
  });
  CHECK(w.grad().value() == expected_w);
  CHECK(xt::all(xt::equal(b.grad().value(), expected_b)));
}

TEST_CASE("concurrent tg::grad calls through shared parameters") {
  Var w(xt::xarray<float>{1.f, 2.f, 3.f}, true);
  std::atomic<int> wrong{0};
  on_threads([&](int t) {
    for (int r = 0; r < rounds; ++r) {
      Var x(xt::xarray<float>{float(t), float(r), 1.f});
      auto g = grad({sum(x * w * w)}, {w})[0];  // 2 x w
      for (std::size_t i = 0; i < 3; ++i)
        if (g.value()(i) != 2 * x.value()(i) * w.value()(i)) ++wrong;
    }
  });
  CHECK(wrong == 0);
  CHECK_FALSE(w.has_grad());
}

TEST_CASE("concurrent backward through one shared graph kept with retain_graph") {
  Var w(xt::xarray<float>{0.5f, -1.f}, true);
  Var shared = tanh(w * 2.f);  // built once, backpropagated from every thread
  on_threads([&](int t) {
    for (int r = 0; r < rounds; ++r) sum(shared * float(t + 1)).backward({.retain_graph = true});
  });
  // sum over threads of (t + 1) * rounds * 2 (1 - tanh(2w)^2)
  const float scale = float(rounds) * (1 + 2 + 3 + 4);
  for (std::size_t i = 0; i < 2; ++i) {
    const float th = std::tanh(2 * w.value()(i));
    CHECK(w.grad().value()(i) == doctest::Approx(scale * 2 * (1 - th * th)).epsilon(1e-5));
  }
}

TEST_CASE("two threads freeing one shared graph: one backward runs, the other is told it was freed") {
  for (int repeat = 0; repeat < 50; ++repeat) {
    Var w(xt::xarray<float>{1.f, 2.f}, true);
    Var shared = w * w;
    std::atomic<int> ok{0}, freed{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 2; ++t)
      pool.emplace_back([&] {
        try {
          sum(shared * 3.f).backward();
          ++ok;
        } catch (const Error& e) {
          if (std::string(e.what()).find("already freed") != std::string::npos) ++freed;
        }
      });
    for (auto& th : pool) th.join();
    CHECK(ok == 1);
    CHECK(freed == 1);
    CHECK(w.grad().value() == xt::xarray<float>{6.f, 12.f});
  }
}

TEST_CASE("graphs built and freed on many threads at once") {
  Var w(xt::xarray<float>{1.f, 1.f}, true);
  on_threads([&](int t) {
    for (int r = 0; r < rounds; ++r) {
      Var y = w;
      for (int k = 0; k < 20; ++k) y = y * 1.0f + float(k);  // a chain of its own
      sum(y).backward();
    }
  });
  CHECK(w.grad().value() == xt::xarray<float>{float(threads * rounds), float(threads * rounds)});
}

TEST_CASE("large elementwise ops split over the worker threads, also from several threads at once") {
  // Above detail::parallel_threshold (2^17 elements) maps, relu's backward and gradient
  // accumulation run in chunks on the library's workers; one loop at a time has them, the
  // others run on their own thread. Every element must come out as the serial loop computes it.
  const std::size_t n = (std::size_t(1) << 18) + 3;  // not a multiple of any chunk count
  xt::xarray<float> values = xt::empty<float>(Shape{n});
  for (std::size_t i = 0; i < n; ++i) values.data()[i] = float(int(i % 11) - 5) * 0.25f;
  std::vector<std::size_t> wrong(threads, n);
  on_threads([&](int t) {
    Var x(values, true);
    Var y = relu(x * float(t + 1)) + tanh(x) + x;  // x is used three times: its gradients accumulate
    sum(y).backward();
    const float* g = x.grad().value().data();
    const float* v = values.data();
    const float* out = y.value().data();
    wrong[t] = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const float th = std::tanh(v[i]);
      const float expected_y = std::max(v[i] * float(t + 1), 0.f) + th + v[i];
      const float expected_g = (v[i] > 0 ? float(t + 1) : 0.f) + (1 - th * th) + 1;
      wrong[t] += std::abs(out[i] - expected_y) > 1e-5f || std::abs(g[i] - expected_g) > 1e-5f;
    }
  });
  CHECK(wrong == std::vector<std::size_t>(threads, 0));
}

TEST_CASE("convolutions from several threads at once give the serial result") {
  // A conv2d splits its batch over the workers, one GEMM per sample on its thread; one
  // thread's conv has the workers, the others run on their own thread. Whole numbers keep every
  // sum exact in float whatever the order, so all threads must agree to the bit.
  const auto whole = [](const Shape& shape, int salt) {
    xt::xarray<float> v = xt::empty<float>(shape);
    for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = float(int((i * 7 + std::size_t(salt)) % 5) - 2);
    return v;
  };
  const xt::xarray<float> x = whole({16, 3, 12, 12}, 1), w = whole({8, 3, 3, 3}, 2), b = whole({8}, 3);
  const auto run = [&] {
    Var xv(x, true), wv(w, true), bv(b, true);
    Var y = max_pool2d(relu(conv2d(xv, wv, bv, {.padding = 1})), {.kernel_size = 2});
    sum(y * y).backward();
    return std::vector<xt::xarray<float>>{y.value(), xv.grad().value(), wv.grad().value(), bv.grad().value()};
  };
  const auto expected = run();
  std::vector<int> same(threads, 0);
  on_threads([&](int t) { same[t] = run() == expected; });
  CHECK(same == std::vector<int>(threads, 1));
}

TEST_CASE("GEMMs split over the worker threads equal the plain triple loop, also from several threads at once") {
  // Above 2^18 multiply-adds a GEMM is cut into blocks of C's columns (n >= m) or rows (m > n),
  // one per thread, each on OpenBLAS's calling-thread path. Every transpose flag, both cuts,
  // sizes that are no multiple of the 16-wide blocks, leading dimensions wider than the operands,
  // beta = 1; whole numbers keep every sum exact, so the results must agree to the bit.
  struct Case { bool ta, tb; std::size_t m, n, k; };
  const std::vector<Case> cases = {{false, false, 37, 301, 50}, {false, true, 37, 301, 50}, {true, false, 37, 301, 50},
                                   {true, true, 37, 301, 50}, {false, false, 513, 29, 40}, {true, true, 513, 29, 40},
                                   {false, true, 64, 512, 784}};
  const auto whole = [](std::size_t size, std::size_t salt) {
    std::vector<float> v(size);
    for (std::size_t i = 0; i < size; ++i) v[i] = float(int((i * 7 + salt) % 5) - 2);
    return v;
  };
  const auto check = [&](const Case& c) {
    const std::size_t pad = 3;  // leading dimensions wider than the operands
    const std::size_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k;
    const std::size_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n;
    const std::size_t lda = a_cols + pad, ldb = b_cols + pad, ldc = c.n + pad;
    const auto a = whole(a_rows * lda, 1), b = whole(b_rows * ldb, 2);
    auto out = whole(c.m * ldc, 3);
    std::vector<float> expected = out;
    for (std::size_t i = 0; i < c.m; ++i)
      for (std::size_t j = 0; j < c.n; ++j) {
        float acc = 0;
        for (std::size_t p = 0; p < c.k; ++p)
          acc += (c.ta ? a[p * lda + i] : a[i * lda + p]) * (c.tb ? b[j * ldb + p] : b[p * ldb + j]);
        expected[i * ldc + j] = 2 * acc + expected[i * ldc + j];
      }
    tg::kernels::gemm(c.ta, c.tb, c.m, c.n, c.k, 2.0f, a.data(), lda, b.data(), ldb, 1.0f, out.data(), ldc);
    return out == expected;
  };
  for (const auto& c : cases) {
    CAPTURE(c.m);
    CAPTURE(c.n);
    CAPTURE(c.k);
    CAPTURE(c.ta);
    CAPTURE(c.tb);
    CHECK(check(c));
  }
  std::vector<int> same(threads, 0);
  on_threads([&](int t) {
    int all = 1;
    for (const auto& c : cases) all &= check(c);
    same[t] = all;
  });
  CHECK(same == std::vector<int>(threads, 1));
}

TEST_CASE("the library's worker threads follow TAPEGRAD_NUM_THREADS, else OPENBLAS_NUM_THREADS") {
  // ctest runs this file again with TAPEGRAD_NUM_THREADS=1 (test_autograd_threads_one_thread).
  const char* wanted = std::getenv("TAPEGRAD_NUM_THREADS");
  if (!wanted) wanted = std::getenv("OPENBLAS_NUM_THREADS");
  const std::size_t expected = wanted ? std::size_t(std::atoi(wanted)) : std::size_t(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  CHECK(tg::detail::parallel_threads() == expected);
  CHECK(tg::get_num_threads() == expected);
}
