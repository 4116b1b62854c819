// matmul: values against a naive triple loop for every rank combination and transpose flag,
// first and second derivatives, and the error messages.
#include "testing.hpp"

#include <cmath>
#include <climits>
#include <string>

#include <tapegrad/autograd/kernels/gemm.hpp>  // internal: the GEMM every GEMM-bound op calls

using namespace tg;
using tg::testing::check_close;
using tg::testing::check_error;
using tg::testing::D;
using tg::testing::random_input;

namespace {

using Arr = xt::xarray<double>;

/// a with its last two axes swapped (an explicit copy: the reference does not trust strides).
Arr swap_last(const Arr& a) {
  const std::size_t r = a.dimension();
  const std::size_t rows = a.shape()[r - 2], cols = a.shape()[r - 1], batch = a.size() / std::max<std::size_t>(rows * cols, 1);
  Shape shape(a.shape().begin(), a.shape().end());
  std::swap(shape[r - 2], shape[r - 1]);
  Arr out = xt::zeros<double>(shape);
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) out.data()[b * rows * cols + j * rows + i] = a.data()[b * rows * cols + i * cols + j];
  return out;
}

/// numpy.matmul by definition: vectors promoted to [1,k] / [k,1], batch axes broadcast,
/// out[.., i, j] = sum_p A[.., i, p] B[.., p, j], then the promoted axes dropped.
Arr naive_matmul(Arr a, Arr b, bool ta = false, bool tb = false) {
  if (ta) a = swap_last(a);
  if (tb) b = swap_last(b);
  const bool va = a.dimension() == 1, vb = b.dimension() == 1;
  if (va) a.reshape({1, a.size()});
  if (vb) b.reshape({b.size(), 1});
  const std::size_t ra = a.dimension(), rb = b.dimension();
  const std::size_t m = a.shape()[ra - 2], k = a.shape()[ra - 1], n = b.shape()[rb - 1];
  REQUIRE(b.shape()[rb - 2] == k);
  const std::size_t nb = std::max(ra, rb) - 2;
  Shape batch(nb, 1);
  auto lead = [nb](const Arr& x, std::size_t d) {  // x's batch size on batch axis d (1 if absent)
    const std::size_t r = x.dimension() - 2;
    return d + r >= nb ? x.shape()[d + r - nb] : std::size_t(1);
  };
  for (std::size_t d = 0; d < nb; ++d) {
    const std::size_t sa = lead(a, d), sb = lead(b, d);
    REQUIRE((sa == sb || sa == 1 || sb == 1));
    batch[d] = std::max(sa, sb);
  }
  Shape shape = batch;
  shape.push_back(m);
  shape.push_back(n);
  Arr out = xt::zeros<double>(shape);
  std::size_t count = 1;
  for (auto s : batch) count *= s;
  for (std::size_t c = 0; c < count; ++c) {
    // unravel c over the batch, then ravel into a's and b's own batch (broadcast axes -> 0)
    std::size_t rest = c, ia = 0, ib = 0, stride_a = 1, stride_b = 1;
    for (std::size_t d = nb; d-- > 0;) {
      const std::size_t idx = rest % batch[d];
      rest /= batch[d];
      const std::size_t sa = lead(a, d), sb = lead(b, d);
      ia += (sa == 1 ? 0 : idx) * stride_a;
      ib += (sb == 1 ? 0 : idx) * stride_b;
      stride_a *= sa;
      stride_b *= sb;
    }
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        double acc = 0;
        for (std::size_t p = 0; p < k; ++p) acc += a.data()[ia * m * k + i * k + p] * b.data()[ib * k * n + p * n + j];
        out.data()[c * m * n + i * n + j] = acc;
      }
  }
  Shape final_shape(shape.begin(), shape.end());
  if (vb) final_shape.erase(final_shape.end() - 1);
  if (va) final_shape.erase(final_shape.end() - (vb ? 1 : 2));
  out.reshape(final_shape);
  return out;
}

struct Case {
  const char* name;
  Shape a, b;  // stored shapes (before the transpose flags)
  bool ta = false, tb = false;
  Shape out;
};

const std::vector<Case> cases = {
    {"1-D x 1-D", {4}, {4}, false, false, {}},
    {"1-D x 2-D", {3}, {3, 5}, false, false, {5}},
    {"2-D x 1-D", {2, 3}, {3}, false, false, {2}},
    {"2-D x 2-D", {2, 3}, {3, 4}, false, false, {2, 4}},
    {"3-D x 3-D batched", {2, 3, 4}, {2, 4, 5}, false, false, {2, 3, 5}},
    {"broadcast batch [2,1,3,4] x [5,4,2]", {2, 1, 3, 4}, {5, 4, 2}, false, false, {2, 5, 3, 2}},
    {"3-D x 2-D", {2, 3, 4}, {4, 5}, false, false, {2, 3, 5}},
    {"2-D x 3-D", {3, 4}, {2, 4, 5}, false, false, {2, 3, 5}},
    {"1-D x 3-D", {4}, {2, 4, 3}, false, false, {2, 3}},
    {"3-D x 1-D", {2, 3, 4}, {4}, false, false, {2, 3}},
    {"2-D x 2-D, A^T", {3, 2}, {3, 4}, true, false, {2, 4}},
    {"2-D x 2-D, B^T", {2, 3}, {4, 3}, false, true, {2, 4}},
    {"2-D x 2-D, A^T B^T", {3, 2}, {4, 3}, true, true, {2, 4}},
    {"3-D x 3-D, A^T", {2, 4, 3}, {2, 4, 5}, true, false, {2, 3, 5}},
    {"3-D x 3-D, B^T", {2, 3, 4}, {2, 5, 4}, false, true, {2, 3, 5}},
    {"3-D x 3-D, A^T B^T", {2, 4, 3}, {2, 5, 4}, true, true, {2, 3, 5}},
    {"3-D x 2-D, A^T", {2, 4, 3}, {4, 5}, true, false, {2, 3, 5}},
    {"3-D x 2-D, B^T", {2, 3, 4}, {5, 4}, false, true, {2, 3, 5}},
    {"3-D x 2-D, A^T B^T", {2, 4, 3}, {5, 4}, true, true, {2, 3, 5}},
    {"broadcast batch, A^T B^T", {2, 1, 4, 3}, {5, 2, 4}, true, true, {2, 5, 3, 2}},
    {"1-D x 2-D, B^T", {3}, {5, 3}, false, true, {5}},
    {"2-D x 1-D, A^T", {3, 2}, {3}, true, false, {2}},
    {"4-D x 4-D, both broadcast", {3, 1, 2, 2}, {1, 2, 2, 3}, false, false, {3, 2, 2, 3}},
};

}  // namespace

TEST_CASE("naive reference: a hand-computed product") {
  // [[1,2],[3,4]] [[5,6],[7,8]] = [[19,22],[43,50]]
  check_close(naive_matmul(Arr{{1.0, 2.0}, {3.0, 4.0}}, Arr{{5.0, 6.0}, {7.0, 8.0}}), Arr{{19.0, 22.0}, {43.0, 50.0}});
  check_close(naive_matmul(Arr{{1.0, 3.0}, {2.0, 4.0}}, Arr{{5.0, 7.0}, {6.0, 8.0}}, true, true), Arr{{19.0, 22.0}, {43.0, 50.0}});
  check_close(naive_matmul(Arr{1.0, 2.0}, Arr{3.0, 4.0}), Arr(11.0));
}

TEST_CASE("matmul: hand-computed values") {
  const D a({{1.0, 2.0}, {3.0, 4.0}});
  const D b({{5.0, 6.0}, {7.0, 8.0}});
  check_close(matmul(a, b).value(), Arr{{19.0, 22.0}, {43.0, 50.0}});
  check_close(matmul(a, b, {.transpose_a = true}).value(), Arr{{26.0, 30.0}, {38.0, 44.0}});
  check_close(matmul(a, b, {.transpose_b = true}).value(), Arr{{17.0, 23.0}, {39.0, 53.0}});
  check_close(matmul(a, b, {.transpose_a = true, .transpose_b = true}).value(), Arr{{23.0, 31.0}, {34.0, 46.0}});
  check_close(matmul(D({1.0, 2.0, 3.0}), D({4.0, 5.0, 6.0})).value(), Arr(32.0));
  check_close(matmul(D({1.0, 1.0}), a).value(), Arr{4.0, 6.0});
  check_close(matmul(a, D({1.0, 1.0})).value(), Arr{3.0, 7.0});
}

TEST_CASE("matmul: values match the naive triple loop (double and float)") {
  manual_seed(21);
  for (const auto& c : cases) {
    INFO(c.name);
    auto a = random_input(c.a);
    auto b = random_input(c.b);
    auto out = matmul(a, b, {.transpose_a = c.ta, .transpose_b = c.tb});
    CHECK(out.shape() == c.out);
    check_close(out.value(), naive_matmul(a.value(), b.value(), c.ta, c.tb));
    // float through sgemm
    Var af(xt::xarray<float>(a.value())), bf(xt::xarray<float>(b.value()));
    check_close(matmul(af, bf, {.transpose_a = c.ta, .transpose_b = c.tb}).value(), naive_matmul(a.value(), b.value(), c.ta, c.tb), 1e-5);
  }
}

TEST_CASE("matmul: gradcheck and gradgradcheck for every case") {
  manual_seed(22);
  for (const auto& c : cases) {
    INFO(c.name);
    auto a = random_input(c.a);
    auto b = random_input(c.b);
    const MatmulOptions options{.transpose_a = c.ta, .transpose_b = c.tb};
    auto f = [options](const std::vector<D>& in) { return matmul(in[0], in[1], options); };
    CHECK(gradcheck(f, {a, b}));
    CHECK(gradgradcheck(f, {a, b}));
    // one operand a constant: only the other's gradient is formed
    CHECK(gradcheck(f, {a, b.detach()}));
    CHECK(gradcheck(f, {a.detach(), b}));
  }
}

TEST_CASE("matmul: one variable on both sides (a Gram matrix x x^T)") {
  manual_seed(23);
  auto x = random_input({3, 4});
  auto gram = [](const std::vector<D>& in) { return matmul(in[0], in[0], {.transpose_b = true}); };
  check_close(gram({x}).value(), naive_matmul(x.value(), swap_last(x.value())));
  CHECK(gradcheck(gram, {x}));
  CHECK(gradgradcheck(gram, {x}));
}

TEST_CASE("matmul: gradients by formula for 2-D (dA = G B^T, dB = A^T G)") {
  D a({{1.0, 2.0}, {3.0, 4.0}}, true);
  D b({{5.0, 6.0}, {7.0, 8.0}}, true);
  matmul(a, b).backward(D({{1.0, 0.0}, {0.0, 1.0}}));
  check_close(a.grad().value(), Arr{{5.0, 7.0}, {6.0, 8.0}});  // B^T
  check_close(b.grad().value(), Arr{{1.0, 3.0}, {2.0, 4.0}});  // A^T
}

TEST_CASE("matmul: empty operands") {
  auto e = matmul(zeros<double>({0, 3}), ones<double>({3, 4}));
  CHECK(e.shape() == Shape{0, 4});
  // inner size 0: the empty sum, zeros
  check_close(matmul(ones<double>({2, 0}), ones<double>({0, 3})).value(), Arr(xt::zeros<double>({2, 3})));
  check_close(matmul(ones<double>({2, 2, 0}), ones<double>({0, 3})).value(), Arr(xt::zeros<double>({2, 2, 3})));
  check_close(matmul(ones<double>({2, 2, 0}), ones<double>({2, 0, 3})).value(), Arr(xt::zeros<double>({2, 2, 3})));
  // and their gradients have the operands' (empty) shapes
  D a(xt::xarray<double>(xt::ones<double>({2, 3, 0})), true);
  D b(xt::xarray<double>(xt::ones<double>({0, 5})), true);
  sum(matmul(a, b)).backward();
  CHECK(a.grad().shape() == Shape{2, 3, 0});
  CHECK(b.grad().shape() == Shape{0, 5});
  D c(xt::xarray<double>(xt::ones<double>({2, 0, 4})), true);
  D d(xt::xarray<double>(xt::ones<double>({4, 5})), true);
  sum(matmul(c, d)).backward();
  CHECK(c.grad().shape() == Shape{2, 0, 4});
  check_close(d.grad().value(), Arr(xt::zeros<double>({4, 5})));
}

TEST_CASE("matmul: bad inputs name the op and the shapes") {
  check_error([] { matmul(zeros<float>({64, 784}), zeros<float>({512, 10})); },
              {"matmul: [64,784] x [512,10]: inner sizes 784 and 512 differ"});
  check_error([] { matmul(zeros<float>({64, 784}), zeros<float>({10, 512}), {.transpose_b = true}); },
              {"matmul", "[64,784]", "[10,512]^T", "inner sizes 784 and 512 differ"});
  check_error([] { matmul(zeros<double>({3, 2}), zeros<double>({3, 4})); }, {"matmul", "[3,2] x [3,4]", "inner sizes 2 and 3"});
  check_error([] { matmul(zeros<double>({3, 2}), zeros<double>({2, 4}), {.transpose_a = true}); },
              {"matmul", "[3,2]^T x [2,4]", "inner sizes 3 and 2"});
  // vectors are quoted as given, not as the matrices they are promoted to
  check_error([] { matmul(zeros<double>({3}), zeros<double>({4})); }, {"matmul: [3] x [4]: inner sizes 3 and 4 differ"});
  check_error([] { matmul(zeros<double>({3}), zeros<double>({4, 2})); }, {"matmul: [3] x [4,2]: inner sizes 3 and 4 differ"});
  check_error([] { matmul(zeros<double>({2, 3}), zeros<double>({4})); }, {"matmul: [2,3] x [4]: inner sizes 3 and 4 differ"});
  // batch axes that do not broadcast
  check_error([] { matmul(zeros<double>({2, 3, 4}), zeros<double>({3, 4, 5})); }, {"matmul", "[2,3,4] x [3,4,5]", "batch"});
  // rank 0
  check_error([] { matmul(scalar<double>(2.0), zeros<double>({3})); }, {"matmul", "[]", "[3]"});
  check_error([] { matmul(zeros<double>({3, 3}), scalar<double>(2.0)); }, {"matmul", "[3,3]", "[]"});
  // a transpose flag on a vector
  check_error([] { matmul(zeros<double>({3}), zeros<double>({3, 2}), {.transpose_a = true}); }, {"matmul", "[3]", "1-D"});
}

TEST_CASE("the GEMM kernel refuses sizes beyond BLAS's 32-bit int instead of wrapping") {
  // Checked before BLAS is called, so no buffer is needed (a wrapped size would read garbage).
  const std::size_t huge = std::size_t(INT_MAX) + 1;
  float* none = nullptr;
  check_error([&] { kernels::gemm<float>(false, false, huge, 1, 1, none, none, none); },
              {"gemm", "m=2147483648", "32-bit"});
  check_error([&] { kernels::gemm<float>(false, false, 1, 1, huge, none, none, none); }, {"gemm", "k=2147483648"});
  check_error([&] { kernels::gemm<double>(true, true, 2, huge, 3, nullptr, nullptr, nullptr); }, {"gemm", "n=2147483648"});
  // within range it computes: [1,2] x [2,1]
  const float a[2] = {1, 2}, b[2] = {3, 4};
  float c[1] = {0};
  kernels::gemm<float>(false, false, 1, 1, 2, a, b, c);
  CHECK(c[0] == 11);
  kernels::gemm<float>(false, false, 1, 1, 2, a, b, c, /*accumulate=*/true);
  CHECK(c[0] == 22);
}

TEST_CASE("linear is x W^T + b in one GEMM: values, broadcast biases, gradients to second order, errors") {
  manual_seed(31);
  D x = random_input({4, 3}), w = random_input({5, 3}), b = random_input({5});
  const Arr reference = matmul(x, w, {.transpose_b = true}).value();
  CHECK(xt::allclose(linear(x, w, b).value(), reference + b.value()));
  CHECK(xt::allclose(linear(x, w).value(), reference));
  D full_bias = random_input({4, 5}), column = random_input({4, 1});  // the LSTM's per-step input projection
  CHECK(xt::allclose(linear(x, w, full_bias).value(), reference + full_bias.value()));
  CHECK(xt::allclose(linear(x, w, column).value(), reference + column.value()));
  D seq = random_input({2, 4, 3});
  CHECK(linear(seq, w, b).shape() == Shape{2, 4, 5});
  CHECK(xt::allclose(linear(seq, w, b).value(), (matmul(seq, w, {.transpose_b = true}) + b).value()));
  D vec = random_input({3});
  CHECK(xt::allclose(linear(vec, w, b).value(), (matmul(w, vec) + b).value()));
  CHECK(linear(zeros<double>({0, 3}), w, b).shape() == Shape{0, 5});
  CHECK(xt::allclose(linear(zeros<double>({2, 0}), zeros<double>({5, 0}), b).value(), xt::xarray<double>(xt::ones<double>({2, 1}) * b.value())));
  for (const D& bias : {b, full_bias, column}) {
    DoubleFunction f = [&](const std::vector<D>& in) { return linear(in[0], in[1], in[2]); };
    CHECK(gradcheck(f, {x, w, bias}));
    CHECK(gradgradcheck(f, {x, w, bias}));
  }
  DoubleFunction g = [](const std::vector<D>& in) { return tanh(linear(in[0], in[1])); };
  CHECK(gradcheck(g, {seq, w}));
  CHECK(gradgradcheck(g, {seq, w}));
  DoubleFunction h = [&](const std::vector<D>& in) { return linear(in[0], in[1], b); };
  CHECK(gradcheck(h, {vec, w}));
  check_error([&] { linear(x, random_input({5, 4}), b); }, {"linear", "input [4,3]", "weight [5,4]", "in = 4"});
  check_error([&] { linear(x, random_input({5}), b); }, {"linear", "weight [5]", "matrix"});
  check_error([&] { linear(x, w, random_input({4})); }, {"linear", "bias [4]", "does not broadcast", "[4,5]"});
  check_error([&] { linear(x, w, random_input({2, 4, 5})); }, {"linear", "bias [2,4,5]", "[4,5]"});
}
