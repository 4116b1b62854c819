// Bad input, swept: every public op, factory and module constructor called with wrong ranks,
// mismatched shapes, out-of-range and duplicate axes, negative and overflowing sizes, empty
// tensors and NaN/Inf values. Each call must either throw a tg::Error whose message names the op
// and the shapes, or return the documented result (checked against a scalar reference, as
// PyTorch computes it) whose backward runs. Anything else (another exception, a crash, a
// sanitizer report, a wrong value) fails the suite.
//
// The tables are one line per op: a new op joins its family's table (unary, binary, reduction)
// with a call and a reference, or the misuse table with its calls and the fragments its message
// must hold. The last case prints the counts for the README.
#include "testing.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <set>

using namespace tg;
using tg::testing::D;

namespace {

constexpr double nan_ = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

/// The values that break code: NaN, ±Inf, ±0, the largest and the smallest (subnormal) doubles.
const std::vector<double> specials = {nan_, inf, -inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 0.5, -3.0};

struct Tally {
  std::size_t ops = 0, inputs = 0, refused = 0, accepted = 0;  // ops: table rows
  std::set<std::string> names;                                 // distinct ops and classes
} tally;

/// Both NaN, or equal, or within a relative 1e-12 (libm and libmvec round differently).
bool same(double got, double want) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return got == want;
  return std::abs(got - want) <= 1e-12 * std::max(1.0, std::abs(want));
}

/// f() must throw a tg::Error holding every fragment (the op's name and the shapes).
void refused(const std::string& what, const std::function<void()>& f, std::vector<std::string> fragments) {
  ++tally.inputs;
  ++tally.refused;
  INFO(what);
  try {
    f();
    FAIL_CHECK("no tg::Error");
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const auto& fragment : fragments) {
      INFO("message: " << message << "\nmissing: " << fragment);
      CHECK(message.find(fragment) != std::string::npos);
    }
  } catch (const std::exception& e) {
    FAIL_CHECK("threw another exception: " << std::string(e.what()));
  }
}

/// f() must succeed; its result's backward (a seed of ones) must run and give every input a
/// gradient of its own shape.
D accepted(const std::string& what, const std::function<D()>& f, const std::vector<D>& inputs) {
  ++tally.inputs;
  ++tally.accepted;
  INFO(what);
  D out;
  try {
    out = f();
  } catch (const std::exception& e) {
    FAIL_CHECK("threw: " << std::string(e.what()));
    return out;
  }
  if (out.requires_grad()) {
    try {
      out.backward(ones_like(out));
    } catch (const std::exception& e) {
      FAIL_CHECK("backward threw: " << std::string(e.what()));
    }
    for (const auto& in : inputs)
      if (in.has_grad()) CHECK(in.grad().shape() == in.shape());
  }
  return out;
}

D leaf(xt::xarray<double> v) { return D(std::move(v), true); }
D leaf(const Shape& shape) { return D(xt::xarray<double>(xt::zeros<double>(shape)) + 0.5, true); }
D column(const std::vector<double>& v) {
  xt::xarray<double> a = xt::xarray<double>::from_shape({v.size(), 1});
  std::copy(v.begin(), v.end(), a.begin());
  return leaf(std::move(a));
}
D row(const std::vector<double>& v) {
  xt::xarray<double> a = xt::xarray<double>::from_shape({v.size()});
  std::copy(v.begin(), v.end(), a.begin());
  return leaf(std::move(a));
}

double softplus_ref(double v) { return v > 20 ? v : std::log1p(std::exp(v)); }  // PyTorch's threshold
double sign_ref(double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }            // sign(NaN) = 0, as PyTorch

// ---- unary elementwise ops: one line each ------------------------------------------------------

struct Unary {
  const char* name;  // as the op names itself in errors
  std::function<D(const D&)> call;
  std::function<double(double)> ref;
};

const std::vector<Unary> unary_ops = {
    {"neg", [](const D& x) { return -x; }, [](double v) { return -v; }},
    {"add_scalar", [](const D& x) { return x + 2.0; }, [](double v) { return v + 2.0; }},
    {"mul_scalar", [](const D& x) { return x * -3.0; }, [](double v) { return v * -3.0; }},
    {"reciprocal", [](const D& x) { return reciprocal(x); }, [](double v) { return 1.0 / v; }},
    {"pow", [](const D& x) { return pow(x, 2.0); }, [](double v) { return v * v; }},
    {"pow", [](const D& x) { return pow(x, 0.5); }, [](double v) { return std::pow(v, 0.5); }},
    {"exp", [](const D& x) { return exp(x); }, [](double v) { return std::exp(v); }},
    {"log", [](const D& x) { return log(x); }, [](double v) { return std::log(v); }},
    {"sqrt", [](const D& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }},
    {"erf", [](const D& x) { return erf(x); }, [](double v) { return std::erf(v); }},
    {"abs", [](const D& x) { return abs(x); }, [](double v) { return std::abs(v); }},
    {"sin", [](const D& x) { return sin(x); }, [](double v) { return std::sin(v); }},
    {"cos", [](const D& x) { return cos(x); }, [](double v) { return std::cos(v); }},
    {"sign", [](const D& x) { return sign(x); }, sign_ref},
    {"tanh", [](const D& x) { return tanh(x); }, [](double v) { return std::tanh(v); }},
    {"sigmoid", [](const D& x) { return sigmoid(x); }, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
    {"relu", [](const D& x) { return relu(x); }, [](double v) { return std::isnan(v) ? v : v > 0 ? v : 0.0; }},
    {"leaky_relu", [](const D& x) { return leaky_relu(x, 0.1); }, [](double v) { return v > 0 ? v : 0.1 * v; }},
    {"elu", [](const D& x) { return elu(x, 1.0); }, [](double v) { return v > 0 ? v : std::expm1(v); }},
    {"softplus", [](const D& x) { return softplus(x); }, softplus_ref},
    {"clamp", [](const D& x) { return clamp(x, -1.0, 2.0); },
     [](double v) { return std::isnan(v) ? v : std::min(std::max(v, -1.0), 2.0); }},
};

// ---- binary broadcasting ops ---------------------------------------------------------------------

struct Binary {
  const char* name;
  std::function<D(const D&, const D&)> call;
  std::function<double(double, double)> ref;
};

double nan_max(double a, double b) { return std::isnan(a) || std::isnan(b) ? nan_ : std::max(a, b); }
double nan_min(double a, double b) { return std::isnan(a) || std::isnan(b) ? nan_ : std::min(a, b); }

const std::vector<Binary> binary_ops = {
    {"add", [](const D& a, const D& b) { return a + b; }, [](double a, double b) { return a + b; }},
    {"sub", [](const D& a, const D& b) { return a - b; }, [](double a, double b) { return a - b; }},
    {"mul", [](const D& a, const D& b) { return a * b; }, [](double a, double b) { return a * b; }},
    {"div", [](const D& a, const D& b) { return a / b; }, [](double a, double b) { return a / b; }},
    {"pow", [](const D& a, const D& b) { return pow(a, b); }, [](double a, double b) { return std::pow(a, b); }},
    {"maximum", [](const D& a, const D& b) { return maximum(a, b); }, nan_max},
    {"minimum", [](const D& a, const D& b) { return minimum(a, b); }, nan_min},
    {"lt", [](const D& a, const D& b) { return lt(a, b); }, [](double a, double b) { return double(a < b); }},
    {"le", [](const D& a, const D& b) { return le(a, b); }, [](double a, double b) { return double(a <= b); }},
    {"gt", [](const D& a, const D& b) { return gt(a, b); }, [](double a, double b) { return double(a > b); }},
    {"ge", [](const D& a, const D& b) { return ge(a, b); }, [](double a, double b) { return double(a >= b); }},
    {"eq", [](const D& a, const D& b) { return eq(a, b); }, [](double a, double b) { return double(a == b); }},
    {"ne", [](const D& a, const D& b) { return ne(a, b); }, [](double a, double b) { return double(a != b); }},
};

// ---- reductions over axes --------------------------------------------------------------------------

struct Reduction {
  const char* name;
  std::function<D(const D&, const Axes&, bool)> call;
  std::function<double(const std::vector<double>&)> ref;  // over one non-empty or empty slice
  bool empty_ok;                                          // PyTorch reduces an empty slice (else: error)
};

double logsumexp_ref(const std::vector<double>& v) {
  double m = -inf;
  for (double x : v) m = std::isnan(x) || std::isnan(m) ? nan_ : std::max(m, x);
  if (std::isnan(m) || std::isinf(m)) return m;  // all -inf: -inf; any +inf: +inf, as PyTorch
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

const std::vector<Reduction> reductions = {
    {"sum", [](const D& x, const Axes& a, bool k) { return sum(x, a, k); },
     [](const std::vector<double>& v) { double s = 0; for (double x : v) s += x; return s; }, true},
    {"mean", [](const D& x, const Axes& a, bool k) { return mean(x, a, k); },
     [](const std::vector<double>& v) { double s = 0; for (double x : v) s += x; return s / double(v.size()); },
     false},  // the mean of nothing is refused (PyTorch: NaN)
    {"max", [](const D& x, const Axes& a, bool k) { return max(x, a, k); },
     [](const std::vector<double>& v) { double m = -inf; for (double x : v) m = nan_max(m, x); return m; }, false},
    {"min", [](const D& x, const Axes& a, bool k) { return min(x, a, k); },
     [](const std::vector<double>& v) { double m = inf; for (double x : v) m = nan_min(m, x); return m; }, false},
    {"logsumexp", [](const D& x, const Axes& a, bool k) { return logsumexp(x, a, k); }, logsumexp_ref, true},
    {"norm", [](const D& x, const Axes& a, bool k) { return norm(x, a, k); },
     [](const std::vector<double>& v) { double s = 0; for (double x : v) s += x * x; return std::sqrt(s); }, true},
};

// ---- every other misuse: one line per call, with the fragments its message must hold ----------

struct Misuse {
  const char* op;
  std::vector<std::pair<std::string, std::function<void()>>> calls;  // description, call
  std::vector<std::string> fragments;                                // besides the op's name
};

D x23() { return leaf(Shape{2, 3}); }
IndexArray idx(std::initializer_list<Index> v) {
  IndexArray a = IndexArray::from_shape({v.size()});
  std::copy(v.begin(), v.end(), a.begin());
  return a;
}
/// Indices as a column [n,1] (gather and scatter_add along axis 1 of a [n,3] tensor).
IndexArray idx_column(std::initializer_list<Index> v) {
  IndexArray a = IndexArray::from_shape({v.size(), 1});
  std::copy(v.begin(), v.end(), a.begin());
  return a;
}
constexpr std::int64_t big = std::int64_t{1} << 40;

const std::vector<Misuse> misuses = {
    {"matmul", {{"[2,3] x [4,5]", [] { matmul(x23(), leaf(Shape{4, 5})); }}}, {"[2,3]", "[4,5]"}},
    {"matmul", {{"0-d", [] { matmul(leaf(xt::xarray<double>(1.0)), x23()); }}}, {"[]", "[2,3]"}},
    {"matmul", {{"batch [2,2,3] x [3,3,4]", [] { matmul(leaf(Shape{2, 2, 3}), leaf(Shape{3, 3, 4})); }}},
     {"[2,2,3]", "[3,3,4]"}},
    {"matmul", {{"transpose_b [2,3] x [2,3]", [] { matmul(x23(), x23()); }}}, {"[2,3]"}},
    {"reshape",
     {{"[2,3] -> [4,2]", [] { reshape(x23(), {4, 2}); }},
      {"two -1", [] { reshape(x23(), {-1, -1}); }},
      {"negative size", [] { reshape(x23(), {-2, -3}); }},
      {"overflowing sizes", [] { reshape(x23(), {big, big, big}); }},
      {"-1 with a 0 size", [] { reshape(leaf(Shape{2, 0, 3}), {0, -1}); }}},
     {"["}},
    {"expand",
     {{"[2,3] -> [4,3]", [] { expand(x23(), {4, 3}); }},
      {"fewer axes", [] { expand(x23(), {3}); }},
      {"overflowing", [] { expand(leaf(Shape{2, 1}), {std::size_t(big), 2, std::size_t(big)}); }}},
     {"[2"}},
    {"sum_to", {{"[2,3] -> [4]", [] { sum_to(x23(), {4}); }}, {"[2,3] -> [3,2]", [] { sum_to(x23(), {3, 2}); }}},
     {"[2,3]"}},
    {"permute",
     {{"duplicate", [] { permute(x23(), {0, 0}); }},
      {"too few", [] { permute(x23(), {0}); }},
      {"out of range", [] { permute(x23(), {0, 2}); }}},
     {"[2,3]"}},
    {"transpose", {{"axis 2", [] { transpose(x23(), 0, 2); }}, {"axis -3", [] { transpose(x23(), -3, 0); }}},
     {"[2,3]"}},
    {"flatten", {{"axis 5", [] { flatten(x23(), 0, 5); }}, {"start after end", [] { flatten(leaf(Shape{2, 3, 4}), 2, 1); }}},
     {"["}},
    {"squeeze", {{"axis 2", [] { squeeze(x23(), {2}); }}, {"duplicate", [] { squeeze(leaf(Shape{1, 3}), {0, 0}); }}},
     {"["}},
    {"unsqueeze", {{"axis 3", [] { unsqueeze(x23(), 3); }}, {"axis -4", [] { unsqueeze(x23(), -4); }}}, {"[2,3]"}},
    {"narrow",
     {{"start 4", [] { narrow(x23(), 1, 4, 1); }},
      {"length -1", [] { narrow(x23(), 1, 0, -1); }},
      {"past the end", [] { narrow(x23(), 1, 2, 2); }},
      {"axis 2", [] { narrow(x23(), 2, 0, 1); }},
      {"huge length", [] { narrow(x23(), 1, 1, std::numeric_limits<std::int64_t>::max()); }}},
     {"[2,3]"}},
    {"slice", {{"step 0", [] { slice(x23(), 1, 0, 3, 0); }}, {"axis 2", [] { slice(x23(), 2, 0, 1); }}}, {"[2,3]"}},
    {"index_select",
     {{"index 3", [] { index_select(x23(), 1, idx({0, 3})); }},
      {"index -4", [] { index_select(x23(), 1, idx({-4})); }},
      {"axis 2", [] { index_select(x23(), 2, idx({0})); }},
      {"2-d index", [] { index_select(x23(), 1, IndexArray::from_shape({1, 1})); }}},
     {"[2,3]"}},
    {"gather",
     {{"index rank 1", [] { gather(x23(), 1, idx({0})); }},
      {"index 7", [] { gather(x23(), 1, idx_column({0, 7})); }},
      {"index -9", [] { gather(x23(), 1, idx_column({0, -9})); }},
      {"index larger on the other axis", [] { gather(x23(), 1, idx_column({0, 1, 2})); }}},
     {"[2,3]"}},
    {"scatter_add",
     {{"index 3", [] { scatter_add(x23(), 1, idx_column({0, 3}), leaf(Shape{2, 1})); }}},
     {"[2,3]"}},
    {"scatter_add",
     {{"src [1,1] smaller than the index [2,1]", [] { scatter_add(x23(), 1, idx_column({0, 1}), leaf(Shape{1, 1})); }}},
     {"[2,1]", "[1,1]"}},
    {"concat",
     {{"no inputs", [] { concat(std::vector<D>{}, 0); }}},
     {}},
    {"concat",
     {{"ranks differ", [] { concat({x23(), leaf(Shape{3})}, 0); }},
      {"sizes differ", [] { concat({x23(), leaf(Shape{2, 4})}, 0); }},
      {"axis 2", [] { concat({x23(), x23()}, 2); }}},
     {"[2,3]"}},
    {"concat", {{"an undefined input", [] { concat({x23(), D()}, 0); }}}, {"undefined"}},
    {"stack", {{"no inputs", [] { stack(std::vector<D>{}, 0); }}}, {}},
    {"stack",
     {{"shapes differ", [] { stack({x23(), leaf(Shape{3, 2})}, 0); }}, {"axis 3", [] { stack({x23(), x23()}, 3); }}},
     {"[2,3]"}},
    {"split",
     {{"sizes sum to 4", [] { split(x23(), {1, 3}, 1); }},
      {"negative size", [] { split(x23(), {4, -1}, 1); }},
      {"axis 2", [] { split(x23(), {1}, 2); }}},
     {"[2,3]"}},
    {"one_hot",
     {{"label -1", [] { one_hot<double>(idx({0, -1}), 3); }},
      {"label 3 of 3", [] { one_hot<double>(idx({3}), 3); }},
      {"0 classes", [] { one_hot<double>(idx({0}), 0); }},
      {"-2 classes", [] { one_hot<double>(idx({0}), -2); }}},
     {}},
    {"where", {{"mask [4]", [] { where(leaf(Shape{4}), x23(), x23()); }}}, {"[4]", "[2,3]"}},
    {"clamp", {{"lo > hi", [] { clamp(x23(), 2.0, 1.0); }}, {"NaN bound", [] { clamp(x23(), nan_, 1.0); }}}, {}},
    {"argmax", {{"axis 2", [] { argmax(x23(), 2); }}, {"empty axis", [] { argmax(leaf(Shape{0, 3}), 0); }}}, {"["}},
    {"argmin", {{"axis -3", [] { argmin(x23(), -3); }}, {"empty axis", [] { argmin(leaf(Shape{2, 0}), 1); }}}, {"["}},
    {"softmax", {{"axis 2", [] { softmax(x23(), 2); }}}, {"[2,3]"}},
    {"log_softmax", {{"axis -3", [] { log_softmax(x23(), -3); }}}, {"[2,3]"}},
    {"zeros", {{"overflowing", [] { zeros<double>({std::size_t(big), std::size_t(big)}); }}}, {"[1099511627776,1099511627776]"}},
    {"ones", {{"overflowing", [] { ones<double>({std::size_t(big), 0, std::size_t(big)}); }}}, {"1099511627776"}},
    {"full", {{"overflowing", [] { full<double>({std::size_t(-1)}, 1.0); }}}, {"18446744073709551615"}},
    {"randn", {{"overflowing", [] { randn<double>({std::size_t(big), std::size_t(big)}); }}}, {"1099511627776"}},
    {"rand", {{"overflowing", [] { rand<double>({std::size_t(big), std::size_t(big)}); }}}, {"1099511627776"}},
    {"arange",
     {{"step 0", [] { arange<double>(0, 1, 0); }},
      {"NaN stop", [] { arange<double>(0, nan_, 1); }},
      {"infinite stop", [] { arange<double>(0, inf, 1); }},
      {"2^60 values", [] { arange<double>(0, 1e18, 1); }}},
     {}},
    {"add", {{"an undefined input", [] { D() + x23(); }}}, {"undefined"}},
    {"sum", {{"an undefined input", [] { sum(D()); }}}, {"undefined"}},
};

// ---- layers, losses, optimizers -------------------------------------------------------------------

const std::vector<Misuse> module_misuses = {
    {"Linear", {{"[2,5] into Linear(4, 3)", [] { nn::Linear<double>(4, 3).forward(leaf(Shape{2, 5})); }}}, {"[2,5]"}},
    {"Linear", {{"0-d into Linear(4, 3)", [] { nn::Linear<double>(4, 3).forward(leaf(xt::xarray<double>(1.0))); }}},
     {"[]"}},
    {"LayerNorm", {{"[2,4] into LayerNorm(3)", [] { nn::LayerNorm<double>(3).forward(leaf(Shape{2, 4})); }}}, {"[2,4]"}},
    {"LayerNorm", {{"eps -1", [] { nn::LayerNorm<double>(3, {.eps = -1}); }}}, {"eps"}},
    {"BatchNorm1d", {{"[2,4] into BatchNorm1d(3)", [] { nn::BatchNorm1d<double>(3).forward(leaf(Shape{2, 4})); }}},
     {"[2,4]"}},
    {"BatchNorm1d", {{"rank 4", [] { nn::BatchNorm1d<double>(3).forward(leaf(Shape{2, 3, 1, 1})); }}}, {"[2,3,1,1]"}},
    {"BatchNorm1d", {{"momentum 2", [] { nn::BatchNorm1d<double>(3, {.momentum = 2}); }}}, {"momentum"}},
    {"Dropout",
     {{"p -0.1", [] { nn::Dropout<double>(-0.1); }}, {"p 1.5", [] { nn::Dropout<double>(1.5); }},
      {"p NaN", [] { nn::Dropout<double>{nan_}; }}},
     {"p"}},
    {"Embedding", {{"index 5 of 5", [] { nn::Embedding<double>(5, 2).forward(idx({1, 5})); }}}, {"5"}},
    {"Embedding", {{"index -1", [] { nn::Embedding<double>(5, 2).forward(idx({-1})); }}}, {"-1"}},
    {"MLP", {{"one size", [] { nn::MLP<double>({5}); }}, {"no sizes", [] { nn::MLP<double>({}); }}}, {}},
    {"Softplus", {{"beta 0", [] { nn::Softplus<double>(0.0); }}}, {"beta"}},
    {"cross_entropy",
     {{"targets [3] for logits [2,3]", [] { nn::cross_entropy(x23(), idx({0, 1, 2})); }},
      {"target 3 of 3 classes", [] { nn::cross_entropy(x23(), idx({0, 3})); }},
      {"target -2", [] { nn::cross_entropy(x23(), idx({0, -2})); }}},
     {"[2,3]"}},
    {"nll_loss", {{"target 7", [] { nn::nll_loss(x23(), idx({7, 0})); }}}, {"[2,3]"}},
    {"mse_loss", {{"[2,3] vs [3,2]", [] { nn::mse_loss(x23(), leaf(Shape{3, 2})); }}}, {"[2,3]", "[3,2]"}},
    {"Adam", {{"lr -1", [] { optim::Adam<double>({leaf(Shape{2})}, {.lr = -1}); }},
              {"lr NaN", [] { optim::Adam<double>({leaf(Shape{2})}, {.lr = nan_}); }},
              {"beta 1", [] { optim::Adam<double>({leaf(Shape{2})}, {.betas = {0.9, 1.0}}); }}},
     {}},
    {"SGD", {{"nesterov without momentum", [] { optim::SGD<double>({leaf(Shape{2})}, {.nesterov = true}); }},
             {"no parameters", [] { optim::SGD<double>(std::vector<D>{}); }}},
     {}},
};

// ---- convolution and pooling ops, recurrent and attention ops ---------------------------------------

D x3() { return leaf(Shape{2, 3, 8}); }     // [N, C, L]
D w3() { return leaf(Shape{4, 3, 3}); }     // [O, C, K]
D x4() { return leaf(Shape{2, 3, 5, 5}); }  // [N, C, H, W]
D w4() { return leaf(Shape{4, 3, 3, 3}); }  // [O, C, kH, kW]
constexpr std::size_t huge = std::size_t{1} << 62;  // sizes whose products with small numbers overflow

const std::vector<Misuse> conv_misuses = {
    {"conv1d",
     {{"rank-4 input", [] { conv1d(leaf(Shape{2, 3, 5, 5}), w3()); }},
      {"weight for 2 input channels", [] { conv1d(x3(), leaf(Shape{4, 2, 3})); }},
      {"rank-2 weight", [] { conv1d(x3(), leaf(Shape{4, 3})); }},
      {"groups 2 of 3 channels", [] { conv1d(x3(), w3(), D(), {.groups = 2}); }},
      {"groups 0", [] { conv1d(x3(), w3(), D(), {.groups = 0}); }},
      {"stride 0", [] { conv1d(x3(), w3(), D(), {.stride = 0}); }},
      {"dilation 0", [] { conv1d(x3(), w3(), D(), {.dilation = 0}); }},
      {"kernel 3 over length 2", [] { conv1d(leaf(Shape{2, 3, 2}), w3()); }},
      {"empty kernel", [] { conv1d(x3(), leaf(Shape{4, 3, 0})); }},
      {"padding same with stride 2", [] { conv1d(x3(), w3(), D(), {.stride = 2, .padding = "same"}); }},
      {"overflowing dilation", [] { conv1d(x3(), w3(), D(), {.dilation = huge}); }},
      {"overflowing padding", [] { conv1d(x3(), w3(), D(), {.padding = std::size_t(-1) / 2}); }}},
     {"["}},
    {"conv1d", {{"an undefined input", [] { conv1d(D(), w3()); }}}, {"undefined"}},
    {"conv2d", {{"an undefined weight", [] { conv2d(x4(), D()); }}}, {"undefined"}},
    {"conv_transpose2d", {{"an undefined input", [] { conv_transpose2d(D(), w4()); }}}, {"undefined"}},
    {"max_pool1d", {{"an undefined input", [] { max_pool1d(D(), {.kernel_size = 2}); }}}, {"undefined"}},
    {"attention_softmax", {{"an undefined input", [] { attention_softmax(D()); }}}, {"undefined"}},
    {"lstm_cell_state", {{"an undefined c", [] { lstm_cell_state(leaf(Shape{2, 8}), D()); }}}, {"undefined"}},
    {"conv1d", {{"bias [3] for 4 channels", [] { conv1d(x3(), w3(), leaf(Shape{3})); }}}, {"[2,3,8]", "[4,3,3]", "[3]"}},
    {"conv1d", {{"no channels", [] { conv1d(leaf(Shape{2, 0, 8}), leaf(Shape{4, 0, 3})); }}}, {"[2,0,8]", "[4,0,3]"}},
    {"conv2d",
     {{"rank-3 input", [] { conv2d(x3(), w4()); }},
      {"weight for 2 input channels", [] { conv2d(x4(), leaf(Shape{4, 2, 3, 3})); }},
      {"groups 2 of 3 channels", [] { conv2d(x4(), w4(), D(), {.groups = 2}); }},
      {"groups 3 of 4 output channels", [] { conv2d(x4(), leaf(Shape{4, 1, 3, 3}), D(), {.groups = 3}); }},
      {"stride {1, 0}", [] { conv2d(x4(), w4(), D(), {.stride = {1, 0}}); }},
      {"kernel 6 over 5", [] { conv2d(x4(), leaf(Shape{4, 3, 6, 1})); }},
      {"overflowing dilation", [] { conv2d(x4(), w4(), D(), {.dilation = {1, huge}}); }},
      {"overflowing padding", [] { conv2d(x4(), w4(), D(), {.padding = {std::size_t(-1) / 2, 0}}); }}},
     {"["}},
    {"conv2d", {{"bias [4,1]", [] { conv2d(x4(), w4(), leaf(Shape{4, 1})); }}}, {"[2,3,5,5]", "[4,3,3,3]", "[4,1]"}},
    {"conv_transpose1d",
     {{"weight's first axis 4 for 3 channels", [] { conv_transpose1d(x3(), leaf(Shape{4, 2, 3})); }},
      {"groups 2 of 3 channels", [] { conv_transpose1d(x3(), w3(), D(), {.groups = 2}); }},
      {"output_padding 2 with stride 1", [] { conv_transpose1d(x3(), leaf(Shape{3, 2, 3}), D(), {.output_padding = 2}); }},
      {"padding leaves nothing", [] { conv_transpose1d(x3(), leaf(Shape{3, 2, 3}), D(), {.padding = 6}); }},
      {"stride 0", [] { conv_transpose1d(x3(), leaf(Shape{3, 2, 3}), D(), {.stride = 0}); }},
      {"overflowing stride", [] { conv_transpose1d(x3(), leaf(Shape{3, 2, 3}), D(), {.stride = huge}); }},
      {"overflowing dilation", [] { conv_transpose1d(x3(), leaf(Shape{3, 2, 3}), D(), {.dilation = huge}); }},
      {"empty length", [] { conv_transpose1d(leaf(Shape{2, 3, 0}), leaf(Shape{3, 2, 3})); }},
      {"rank-4 input", [] { conv_transpose1d(x4(), leaf(Shape{3, 2, 3})); }}},
     {"["}},
    {"conv_transpose2d",
     {{"weight's first axis 4 for 3 channels", [] { conv_transpose2d(x4(), w4()); }},
      {"rank-3 weight", [] { conv_transpose2d(x4(), leaf(Shape{3, 2, 3})); }},
      {"output_padding {0, 3} with stride 2", [] { conv_transpose2d(x4(), leaf(Shape{3, 2, 3, 3}), D(), {.stride = 2, .output_padding = {0, 3}}); }},
      {"overflowing stride", [] { conv_transpose2d(x4(), leaf(Shape{3, 2, 3, 3}), D(), {.stride = {huge, 1}}); }},
      {"bias [3] for 2 channels", [] { conv_transpose2d(x4(), leaf(Shape{3, 2, 3, 3}), leaf(Shape{3})); }}},
     {"["}},
    {"unfold",
     {{"rank-3 input", [] { unfold(x3(), {.kernel_size = 2}); }},
      {"kernel 0", [] { unfold(x4(), {.kernel_size = 0}); }},
      {"kernel 6 over 5", [] { unfold(x4(), {.kernel_size = 6}); }},
      {"stride 0", [] { unfold(x4(), {.kernel_size = 2, .stride = 0}); }},
      {"overflowing dilation", [] { unfold(x4(), {.kernel_size = 2, .dilation = huge}); }}},
     {"["}},
    {"fold",
     {{"rank-4 input", [] { fold(x4(), {4, 4}, {.kernel_size = 2}); }},
      {"rows not a multiple of the taps", [] { fold(leaf(Shape{1, 6, 9}), {4, 4}, {.kernel_size = 2}); }},
      {"columns do not match", [] { fold(leaf(Shape{1, 8, 8}), {4, 4}, {.kernel_size = 2}); }},
      {"output size 0", [] { fold(leaf(Shape{1, 8, 9}), {0, 4}, {.kernel_size = 2}); }},
      {"kernel 0", [] { fold(leaf(Shape{1, 8, 9}), {4, 4}, {.kernel_size = 0}); }}},
     {"["}},
    {"max_pool1d",
     {{"rank-4 input", [] { max_pool1d(x4(), {.kernel_size = 2}); }},
      {"kernel 0", [] { max_pool1d(x3(), {.kernel_size = 0}); }},
      {"padding 2 of kernel 3", [] { max_pool1d(x3(), {.kernel_size = 3, .padding = 2}); }},
      {"kernel 9 over 8", [] { max_pool1d(x3(), {.kernel_size = 9}); }},
      {"dilation 0", [] { max_pool1d(x3(), {.kernel_size = 2, .dilation = 0}); }},
      {"overflowing dilation", [] { max_pool1d(x3(), {.kernel_size = 3, .dilation = huge}); }},
      {"overflowing kernel and padding", [] { max_pool1d(x3(), {.kernel_size = std::size_t(-1), .padding = std::size_t(-1) / 2}); }}},
     {"["}},
    {"max_pool2d",
     {{"rank-5 input", [] { max_pool2d(leaf(Shape{1, 2, 3, 4, 4}), {.kernel_size = 2}); }},
      {"kernel {2, 0}", [] { max_pool2d(x4(), {.kernel_size = {2, 0}}); }},
      {"padding 2 of kernel 2", [] { max_pool2d(x4(), {.kernel_size = 2, .padding = 2}); }},
      {"kernel 6 over 5", [] { max_pool2d(x4(), {.kernel_size = 6}); }},
      {"overflowing dilation", [] { max_pool2d(x4(), {.kernel_size = 2, .dilation = {huge, 1}}); }},
      {"with indices, kernel 0", [] { max_pool2d_with_indices(x4(), {.kernel_size = 0}); }}},
     {"["}},
    {"avg_pool1d",
     {{"rank-1 input", [] { avg_pool1d(leaf(Shape{8}), {.kernel_size = 2}); }},
      {"kernel 0", [] { avg_pool1d(x3(), {.kernel_size = 0}); }},
      {"padding 2 of kernel 2", [] { avg_pool1d(x3(), {.kernel_size = 2, .padding = 2}); }},
      {"overflowing kernel and padding", [] { avg_pool1d(x3(), {.kernel_size = std::size_t(-1), .padding = std::size_t(-1) / 2}); }}},
     {"["}},
    {"avg_pool2d",
     {{"kernel 6 over 5", [] { avg_pool2d(x4(), {.kernel_size = 6}); }},
      {"kernel {0, 2}", [] { avg_pool2d(x4(), {.kernel_size = {0, 2}}); }},
      {"an empty plane", [] { avg_pool2d(leaf(Shape{2, 3, 0, 5}), {.kernel_size = 2}); }}},
     {"["}},
    {"adaptive_avg_pool2d",
     {{"output {0, 2}", [] { adaptive_avg_pool2d(x4(), {0, 2}); }},
      {"an empty plane", [] { adaptive_avg_pool2d(leaf(Shape{2, 3, 0, 5}), {2, 2}); }},
      {"rank-2 input", [] { adaptive_avg_pool2d(leaf(Shape{5, 5}), {2, 2}); }},
      {"overflowing output size", [] { adaptive_avg_pool2d(x4(), {huge, huge}); }}},
     {"["}},
    {"adaptive_max_pool2d",
     {{"output {2, 0}", [] { adaptive_max_pool2d(x4(), {2, 0}); }},
      {"overflowing output size", [] { adaptive_max_pool2d(x4(), {huge, 4}); }},
      {"with indices, an empty plane", [] { adaptive_max_pool2d_with_indices(leaf(Shape{1, 1, 4, 0}), {1, 1}); }}},
     {"["}},
    {"lstm_cell_state",
     {{"gates [2,8], c [2,3]", [] { lstm_cell_state(leaf(Shape{2, 8}), leaf(Shape{2, 3})); }},
      {"gates [2,8], c [3,2]", [] { lstm_cell_state(leaf(Shape{2, 8}), leaf(Shape{3, 2})); }},
      {"0-d gates", [] { lstm_cell_state(leaf(xt::xarray<double>(1.0)), leaf(xt::xarray<double>(1.0))); }}},
     {"["}},
    {"lstm_cell_output", {{"gates [2,8], c' [2]", [] { lstm_cell_output(leaf(Shape{2, 8}), leaf(Shape{2})); }}}, {"[2,8]", "[2]"}},
    {"gru_cell",
     {{"hw [2,9] for xw [2,6]", [] { gru_cell(leaf(Shape{2, 6}), leaf(Shape{2, 9}), leaf(Shape{2, 2})); }},
      {"h [2,3] for xw [2,6]", [] { gru_cell(leaf(Shape{2, 6}), leaf(Shape{2, 6}), leaf(Shape{2, 3})); }}},
     {"[2,6]"}},
    {"head_scores",
     {{"rank-2 x", [] { head_scores(leaf(Shape{4, 6}), leaf(Shape{1, 4, 6}), 2); }},
      {"0 heads", [] { head_scores(leaf(Shape{1, 4, 6}), leaf(Shape{1, 4, 6}), 0); }},
      {"6 features in 4 heads", [] { head_scores(leaf(Shape{1, 4, 6}), leaf(Shape{1, 4, 6}), 4); }},
      {"batches differ", [] { head_scores(leaf(Shape{1, 4, 6}), leaf(Shape{2, 4, 6}), 2); }}},
     {"["}},
    {"head_mix",
     {{"weights for 3 heads", [] { head_mix(leaf(Shape{1, 3, 4, 5}), leaf(Shape{1, 5, 6}), 2); }},
      {"weights over 4 keys, values 5", [] { head_mix(leaf(Shape{1, 2, 4, 4}), leaf(Shape{1, 5, 6}), 2); }}},
     {"[1,5,6]"}},
    {"attention_softmax",
     {{"0-d scores", [] { attention_softmax(leaf(xt::xarray<double>(1.0))); }},
      {"mask [3] for scores [2,4]", [] { attention_softmax(leaf(Shape{2, 4}), leaf(Shape{3})); }}},
     {"["}},
    {"scaled_dot_product_attention",
     {{"rank-1 query", [] { nn::scaled_dot_product_attention(leaf(Shape{4}), leaf(Shape{5, 4}), leaf(Shape{5, 4})); }},
      {"query features 4, key 3", [] { nn::scaled_dot_product_attention(leaf(Shape{2, 4}), leaf(Shape{5, 3}), leaf(Shape{5, 3})); }},
      {"key length 5, value 6", [] { nn::scaled_dot_product_attention(leaf(Shape{2, 4}), leaf(Shape{5, 4}), leaf(Shape{6, 4})); }},
      {"batches that do not broadcast",
       [] { nn::scaled_dot_product_attention(leaf(Shape{2, 3, 4}), leaf(Shape{3, 5, 4}), leaf(Shape{3, 5, 4})); }},
      {"mask [3,5] for scores [2,5]",
       [] { nn::scaled_dot_product_attention(leaf(Shape{2, 4}), leaf(Shape{5, 4}), leaf(Shape{5, 4}), {.attn_mask = leaf(Shape{3, 5})}); }},
      {"is_causal with a mask",
       [] { nn::scaled_dot_product_attention(leaf(Shape{2, 4}), leaf(Shape{5, 4}), leaf(Shape{5, 4}),
                                             {.attn_mask = leaf(Shape{2, 5}), .is_causal = true}); }},
      {"scale -1", [] { nn::scaled_dot_product_attention(leaf(Shape{2, 4}), leaf(Shape{5, 4}), leaf(Shape{5, 4}), {.scale = -1}); }},
      {"scale NaN", [] { nn::scaled_dot_product_attention(leaf(Shape{2, 4}), leaf(Shape{5, 4}), leaf(Shape{5, 4}), {.scale = nan_}); }},
      {"dropout 1", [] { nn::scaled_dot_product_attention(leaf(Shape{2, 4}), leaf(Shape{5, 4}), leaf(Shape{5, 4}), {.dropout_p = 1}); }}},
     {}},
};

// ---- convolution, pooling, recurrent and attention layers ------------------------------------------

const std::vector<Misuse> layer_misuses = {
    {"Conv2d",
     {{"0 input channels", [] { nn::Conv2d<double>(0, 4, 3); }},
      {"0 output channels", [] { nn::Conv2d<double>(3, 0, 3); }},
      {"groups 2 of 3 input channels", [] { nn::Conv2d<double>(3, 4, 3, {.groups = 2}); }},
      {"groups 2 of 3 output channels", [] { nn::Conv2d<double>(4, 3, 3, {.groups = 2}); }},
      {"groups 0", [] { nn::Conv2d<double>(3, 4, 3, {.groups = 0}); }},
      {"kernel {3, 0}", [] { nn::Conv2d<double>(3, 4, {3, 0}); }}},
     {}},
    {"conv2d", {{"[2,5,8,8] into Conv2d(3, 4, 3)", [] { nn::Conv2d<double>(3, 4, 3).forward(leaf(Shape{2, 5, 8, 8})); }},
                {"[3,8,8] into Conv2d(3, 4, 3)", [] { nn::Conv2d<double>(3, 4, 3).forward(leaf(Shape{3, 8, 8})); }}},
     {"["}},
    {"Conv1d",
     {{"0 input channels", [] { nn::Conv1d<double>(0, 4, 3); }},
      {"kernel 0", [] { nn::Conv1d<double>(3, 4, 0); }},
      {"groups 4 of 6 channels", [] { nn::Conv1d<double>(6, 8, 3, {.groups = 4}); }}},
     {}},
    {"ConvTranspose2d",
     {{"0 output channels", [] { nn::ConvTranspose2d<double>(3, 0, 3); }},
      {"kernel 0", [] { nn::ConvTranspose2d<double>(3, 4, 0); }},
      {"groups 2 of 3 channels", [] { nn::ConvTranspose2d<double>(3, 4, 3, {.groups = 2}); }}},
     {}},
    {"conv_transpose2d",
     {{"[2,4,5,5] into ConvTranspose2d(3, 4, 3)", [] { nn::ConvTranspose2d<double>(3, 4, 3).forward(leaf(Shape{2, 4, 5, 5})); }}},
     {"[2,4,5,5]"}},
    // the pooling layers hold options only; their op checks them on the first forward
    {"max_pool2d", {{"MaxPool2d(0)", [] { nn::MaxPool2d<double>(Size2(0)).forward(x4()); }},
                    {"MaxPool2d(2) on [5,5]", [] { nn::MaxPool2d<double>(2).forward(leaf(Shape{5, 5})); }}},
     {"["}},
    {"avg_pool2d", {{"AvgPool2d(6) on [2,3,5,5]", [] { nn::AvgPool2d<double>(6).forward(x4()); }}}, {"[2,3,5,5]"}},
    {"adaptive_avg_pool2d", {{"AdaptiveAvgPool2d({0, 1})", [] { nn::AdaptiveAvgPool2d<double>({0, 1}).forward(x4()); }}}, {"[2,3,5,5]"}},
    {"adaptive_max_pool2d", {{"AdaptiveMaxPool2d({1, 0})", [] { nn::AdaptiveMaxPool2d<double>({1, 0}).forward(x4()); }}}, {"[2,3,5,5]"}},
    {"RNNCell", {{"input size 0", [] { nn::RNNCell<double>(0, 3); }}, {"hidden size 0", [] { nn::RNNCell<double>(3, 0); }}}, {}},
    {"RNNCell",
     {{"x [2,4] into RNNCell(3, 5)", [] { nn::RNNCell<double>(3, 5).forward(leaf(Shape{2, 4})); }},
      {"h [2,4] for RNNCell(3, 5)", [] { nn::RNNCell<double>(3, 5).forward(leaf(Shape{2, 3}), leaf(Shape{2, 4})); }},
      {"x [1,2,3]", [] { nn::RNNCell<double>(3, 5).forward(leaf(Shape{1, 2, 3})); }}},
     {"["}},
    {"LSTMCell", {{"hidden size 0", [] { nn::LSTMCell<double>(3, 0); }}}, {}},
    {"LSTMCell",
     {{"x [2,4] into LSTMCell(3, 5)", [] { nn::LSTMCell<double>(3, 5).forward(leaf(Shape{2, 4})); }},
      {"c [2,4]", [] { nn::LSTMCell<double>(3, 5).forward(leaf(Shape{2, 3}), {leaf(Shape{2, 5}), leaf(Shape{2, 4})}); }}},
     {"["}},
    {"GRUCell", {{"input size 0", [] { nn::GRUCell<double>(0, 0); }}}, {}},
    {"GRUCell", {{"h [3,5] for x [2,3]", [] { nn::GRUCell<double>(3, 5).forward(leaf(Shape{2, 3}), leaf(Shape{3, 5})); }}}, {"["}},
    {"LSTM",
     {{"0 layers", [] { nn::LSTM<double>(3, 4, {.num_layers = 0}); }},
      {"hidden size 0", [] { nn::LSTM<double>(3, 0); }},
      {"dropout 1.5", [] { nn::LSTM<double>(3, 4, {.dropout = 1.5}); }},
      {"dropout NaN", [] { nn::LSTM<double>(3, 4, {.dropout = nan_}); }},
      {"proj_size 4 of hidden 4", [] { nn::LSTM<double>(3, 4, {.proj_size = 4}); }}},
     {}},
    {"LSTM",
     {{"[5,2,4] into LSTM(3, 4)", [] { nn::LSTM<double>(3, 4).forward(leaf(Shape{5, 2, 4})); }},
      {"rank 4", [] { nn::LSTM<double>(3, 4).forward(leaf(Shape{5, 2, 1, 3})); }},
      {"no time steps", [] { nn::LSTM<double>(3, 4).forward(leaf(Shape{0, 2, 3})); }},
      {"h0 [1,3,4] for batch 2", [] { nn::LSTM<double>(3, 4).forward(leaf(Shape{5, 2, 3}), {leaf(Shape{1, 3, 4}), leaf(Shape{1, 3, 4})}); }},
      {"h0 without c0", [] { nn::LSTM<double>(3, 4).forward(leaf(Shape{5, 2, 3}), {leaf(Shape{1, 2, 4}), D()}); }},
      {"3 lengths for batch 2", [] { nn::LSTM<double>(3, 4).forward(leaf(Shape{5, 2, 3}), {}, {5, 4, 3}); }},
      {"length 0", [] { nn::LSTM<double>(3, 4).forward(leaf(Shape{5, 2, 3}), {}, {5, 0}); }},
      {"length 6 of 5 steps", [] { nn::LSTM<double>(3, 4).forward(leaf(Shape{5, 2, 3}), {}, {6, 5}); }}},
     {"["}},
    {"LSTM", {{"an undefined input", [] { nn::LSTM<double>(3, 4).forward(D()); }}}, {"undefined"}},
    {"GRU",
     {{"[2,5,4] batch_first into GRU(3, 4)", [] { nn::GRU<double>(3, 4, {.batch_first = true}).forward(leaf(Shape{2, 5, 4})); }},
      {"h0 [1,2,4] for 2 layers", [] { nn::GRU<double>(3, 4, {.num_layers = 2}).forward(leaf(Shape{5, 2, 3}), leaf(Shape{1, 2, 4})); }}},
     {"["}},
    {"RNN",
     {{"h0 [2,2,4] for one direction", [] { nn::RNN<double>(3, 4).forward(leaf(Shape{5, 2, 3}), leaf(Shape{2, 2, 4})); }},
      {"unbatched [5,4]", [] { nn::RNN<double>(3, 4).forward(leaf(Shape{5, 4})); }}},
     {"["}},
    {"RNN", {{"dropout -0.5", [] { nn::RNN<double>(3, 4, {.dropout = -0.5}); }}}, {"dropout"}},
    {"time_chunks",
     {{"chunk 0", [] { nn::time_chunks(leaf(Shape{5, 2, 3}), 0); }},
      {"axis 1 of a [5] sequence", [] { nn::time_chunks(leaf(Shape{5}), 2, true); }}},
     {"["}},
    {"MultiheadAttention",
     {{"embed_dim 0", [] { nn::MultiheadAttention<double>(0, 1); }},
      {"0 heads", [] { nn::MultiheadAttention<double>(8, 0); }},
      {"8 features in 3 heads", [] { nn::MultiheadAttention<double>(8, 3); }},
      {"dropout 1", [] { nn::MultiheadAttention<double>(8, 2, {.dropout = 1}); }}},
     {}},
    {"MultiheadAttention",
     {{"query [5,2,7] into embed 8", [] { nn::MultiheadAttention<double>(8, 2).forward(leaf(Shape{5, 2, 7})); }},
      {"rank-4 query", [] { nn::MultiheadAttention<double>(8, 2).forward(leaf(Shape{5, 2, 1, 8})); }},
      {"key batch 3, query batch 2",
       [] { nn::MultiheadAttention<double>(8, 2).forward(leaf(Shape{5, 2, 8}), leaf(Shape{6, 3, 8}), leaf(Shape{6, 3, 8})); }},
      {"key length 6, value length 7",
       [] { nn::MultiheadAttention<double>(8, 2).forward(leaf(Shape{5, 2, 8}), leaf(Shape{6, 2, 8}), leaf(Shape{7, 2, 8})); }},
      {"key features 8 with kdim 4",
       [] { nn::MultiheadAttention<double>(8, 2, {.kdim = 4}).forward(leaf(Shape{5, 2, 8}), leaf(Shape{6, 2, 8}), leaf(Shape{6, 2, 8})); }},
      {"attn_mask [5,5] for 6 keys",
       [] { nn::MultiheadAttention<double>(8, 2).forward(leaf(Shape{5, 2, 8}), leaf(Shape{6, 2, 8}), leaf(Shape{6, 2, 8}),
                                                         {.attn_mask = leaf(Shape{5, 5})}); }},
      {"key_padding_mask [2,5] for 6 keys",
       [] { nn::MultiheadAttention<double>(8, 2).forward(leaf(Shape{5, 2, 8}), leaf(Shape{6, 2, 8}), leaf(Shape{6, 2, 8}),
                                                         {.key_padding_mask = leaf(Shape{2, 5})}); }}},
     {"["}},
    {"TransformerEncoderLayer",
     {{"d_model 0", [] { nn::TransformerEncoderLayer<double>(0, 1); }},
      {"10 features in 3 heads", [] { nn::TransformerEncoderLayer<double>(10, 3, {.dim_feedforward = 16}); }},
      {"dim_feedforward 0", [] { nn::TransformerEncoderLayer<double>(8, 2, {.dim_feedforward = 0}); }},
      {"dropout 1", [] { nn::TransformerEncoderLayer<double>(8, 2, {.dim_feedforward = 16, .dropout = 1}); }}},
     {}},
    {"MultiheadAttention",
     {{"[5,2,6] into TransformerEncoderLayer(8, 2)",
       [] { nn::TransformerEncoderLayer<double>(8, 2, {.dim_feedforward = 16}).forward(leaf(Shape{5, 2, 6})); }},
      {"memory [4,2,6] into TransformerDecoderLayer(8, 2)",
       [] { nn::TransformerDecoderLayer<double>(8, 2, {.dim_feedforward = 16}).forward(leaf(Shape{5, 2, 8}), leaf(Shape{4, 2, 6})); }},
      {"memory batch 3, target batch 2",
       [] { nn::TransformerDecoderLayer<double>(8, 2, {.dim_feedforward = 16}).forward(leaf(Shape{5, 2, 8}), leaf(Shape{4, 3, 8})); }}},
     {"["}},
    {"TransformerDecoderLayer", {{"nhead 0", [] { nn::TransformerDecoderLayer<double>(8, 0); }}}, {}},
    {"TransformerEncoder", {{"0 layers", [] { nn::TransformerEncoder<double>(8, 2, 0); }}}, {}},
    {"TransformerDecoder", {{"0 layers", [] { nn::TransformerDecoder<double>(8, 2, 0); }}}, {}},
    {"SinusoidalPositionalEncoding",
     {{"d_model 0", [] { nn::SinusoidalPositionalEncoding<double>(0); }},
      {"dropout 2", [] { nn::SinusoidalPositionalEncoding<double>(8, 16, {.dropout = 2}); }}},
     {}},
    {"SinusoidalPositionalEncoding",
     {{"17 positions of 16", [] { nn::SinusoidalPositionalEncoding<double>(8, 16).forward(leaf(Shape{2, 17, 8})); }},
      {"features 6 of 8", [] { nn::SinusoidalPositionalEncoding<double>(8, 16).forward(leaf(Shape{2, 5, 6})); }}},
     {"["}},
    {"LearnedPositionalEncoding", {{"max_len 0", [] { nn::LearnedPositionalEncoding<double>(0, 8); }}}, {}},
    {"LearnedPositionalEncoding",
     {{"rank 2", [] { nn::LearnedPositionalEncoding<double>(16, 8).forward(leaf(Shape{5, 8})); }}}, {"[5,8]"}},
};

void sweep(const std::vector<Misuse>& table) {
  for (const auto& m : table) {
    ++tally.ops;
    tally.names.insert(m.op);
    for (const auto& [what, call] : m.calls) {
      std::vector<std::string> fragments = m.fragments;
      fragments.insert(fragments.begin(), m.op);
      refused(std::string(m.op) + ": " + what, call, fragments);
    }
  }
}

}  // namespace

TEST_CASE("unary ops: NaN, ±Inf, ±0, extremes and subnormals give PyTorch's values; empty and 0-d inputs work") {
  for (const auto& op : unary_ops) {
    ++tally.ops;
    tally.names.insert(op.name);
    const std::string name = op.name;
    D x = row(specials);
    D y = accepted(name + " on the special values", [&] { return op.call(x); }, {x});
    REQUIRE(y.shape() == x.shape());
    for (std::size_t i = 0; i < specials.size(); ++i) {
      INFO(name << "(" << specials[i] << ") = " << y.value()(i) << ", expected " << op.ref(specials[i]));
      CHECK(same(y.value()(i), op.ref(specials[i])));
    }
    for (const Shape& shape : {Shape{0}, Shape{3, 0, 2}, Shape{}}) {
      D e = leaf(shape);
      D r = accepted(name + " on " + shape_str(shape), [&] { return op.call(e); }, {e});
      CHECK(r.shape() == shape);
    }
    refused(name + " on an undefined variable", [&] { op.call(D()); }, {name, "undefined"});
  }
}

TEST_CASE("binary ops: every pair of special values as PyTorch computes it; shapes that do not broadcast") {
  for (const auto& op : binary_ops) {
    ++tally.ops;
    tally.names.insert(op.name);
    const std::string name = op.name;
    D a = column(specials), b = row(specials);  // broadcast to every pair
    D y = accepted(name + " on the special values", [&] { return op.call(a, b); }, {a, b});
    REQUIRE(y.shape() == Shape{specials.size(), specials.size()});
    for (std::size_t i = 0; i < specials.size(); ++i)
      for (std::size_t j = 0; j < specials.size(); ++j) {
        INFO(name << "(" << specials[i] << ", " << specials[j] << ") = " << y.value()(i, j) << ", expected "
                  << op.ref(specials[i], specials[j]));
        CHECK(same(y.value()(i, j), op.ref(specials[i], specials[j])));
      }
    D e = leaf(Shape{0, 3}), r3 = leaf(Shape{3});
    CHECK(accepted(name + " [0,3] with [3]", [&] { return op.call(e, r3); }, {e, r3}).shape() == Shape{0, 3});
    refused(name + " [2,3] with [4]", [&] { op.call(x23(), leaf(Shape{4})); }, {name, "[2,3]", "[4]"});
    refused(name + " [2,3] with [3,2]", [&] { op.call(x23(), leaf(Shape{3, 2})); }, {name, "[2,3]", "[3,2]"});
    refused(name + " [0] with [2]", [&] { op.call(leaf(Shape{0}), leaf(Shape{2})); }, {name, "[0]", "[2]"});
    refused(name + " with an undefined variable", [&] { op.call(x23(), D()); }, {name, "undefined"});
  }
}

TEST_CASE("reductions: bad and duplicate axes; NaN, Inf and empty slices give PyTorch's values") {
  for (const auto& op : reductions) {
    ++tally.ops;
    tally.names.insert(op.name);
    const std::string name = op.name;
    for (const Axes& axes : {Axes{2}, Axes{-3}, Axes{0, 0}, Axes{1, -1}, Axes{0, 1, 2}})
      refused(name + " over " + axes_str(axes) + " of [2,3]", [&] { op.call(x23(), axes, false); }, {name, "[2,3]"});
    refused(name + " over axis 0 of a 0-d tensor", [&] { op.call(leaf(xt::xarray<double>(2.0)), {0}, false); },
            {name, "[]"});
    // each row is one slice: specials that PyTorch reduces in a documented way
    const std::vector<std::vector<double>> slices = {
        {1, nan_, 3}, {inf, 1, 2}, {-inf, -inf, -inf}, {inf, -inf, 0}, {1e308, 1e308, -1}, {5e-324, 0, -0.0}};
    xt::xarray<double> v = xt::xarray<double>::from_shape({slices.size(), 3});
    for (std::size_t i = 0; i < slices.size(); ++i) std::copy(slices[i].begin(), slices[i].end(), &v(i, 0));
    D x = leaf(v);
    D y = accepted(name + " over the special rows", [&] { return op.call(x, {1}, false); }, {x});
    REQUIRE(y.shape() == Shape{slices.size()});
    for (std::size_t i = 0; i < slices.size(); ++i) {
      INFO(name << " of row " << i << " = " << y.value()(i) << ", expected " << op.ref(slices[i]));
      CHECK(same(y.value()(i), op.ref(slices[i])));
    }
    D keep = accepted(name + " keepdims", [&] { return op.call(x, {-1}, true); }, {x});
    CHECK(keep.shape() == Shape{slices.size(), 1});
    D all = accepted(name + " over all axes of a 0-d tensor", [&] { return op.call(leaf(xt::xarray<double>(2.0)), {}, false); }, {});
    CHECK(all.shape() == Shape{});
    // empty: [0,3] over axis 1 is an empty result; over axis 0, empty slices
    D e = leaf(Shape{0, 3});
    CHECK(accepted(name + " over the non-empty axis of [0,3]", [&] { return op.call(e, {1}, false); }, {e}).shape() ==
          Shape{0});
    if (op.empty_ok) {
      D r = accepted(name + " over the empty axis of [0,3]", [&] { return op.call(e, {0}, false); }, {e});
      REQUIRE(r.shape() == Shape{3});
      for (double got : r.value()) CHECK(same(got, op.ref({})));
    } else {
      refused(name + " over the empty axis of [0,3]", [&] { op.call(e, {0}, false); }, {name, "[0,3]"});
    }
  }
}

TEST_CASE("softmax and log_softmax: -Inf rows, +Inf, huge values, empty tensors") {
  for (const char* name : {"softmax", "log_softmax"}) {
    ++tally.ops;
    tally.names.insert(name);
    const bool log_form = std::string(name) == "log_softmax";
    auto call = [&](const D& x) { return log_form ? log_softmax(x, -1) : softmax(x, -1); };
    D x = leaf(xt::xarray<double>{{1e308, 1e308}, {-inf, 0}, {5e-324, 0}, {nan_, 1}});
    D y = accepted(std::string(name) + " on special rows", [&] { return call(x); }, {x});
    const double half = log_form ? std::log(0.5) : 0.5;
    CHECK(same(y.value()(0, 0), half));
    CHECK(same(y.value()(0, 1), half));
    CHECK(same(y.value()(1, 0), log_form ? -inf : 0.0));
    CHECK(same(y.value()(1, 1), log_form ? 0.0 : 1.0));
    CHECK(same(y.value()(2, 0), half));
    CHECK(std::isnan(y.value()(3, 0)));
    CHECK(std::isnan(y.value()(3, 1)));
    D e = leaf(Shape{0, 4});
    CHECK(accepted(std::string(name) + " on [0,4]", [&] { return call(e); }, {e}).shape() == Shape{0, 4});
    // a 0-d tensor has no axis -1 (PyTorch treats it as one element): refused, naming the shape
    refused(std::string(name) + " on a 0-d tensor", [&] { call(leaf(xt::xarray<double>(3.0))); }, {name, "[]"});
  }
}

TEST_CASE("shape, selection, linear-algebra ops and factories: every misuse is a tg::Error naming the op and shape") {
  sweep(misuses);
}

TEST_CASE("layers, losses and optimizers: bad sizes, options and inputs are tg::Errors naming the class") {
  sweep(module_misuses);
}

TEST_CASE("convolution, pooling, recurrent and attention ops: every misuse is a tg::Error naming the op and shapes") {
  sweep(conv_misuses);
}

TEST_CASE("convolution, pooling, recurrent and attention layers: bad sizes, options and inputs name the class") {
  sweep(layer_misuses);
}

TEST_CASE("convolution and pooling: empty batches, NaN and ±Inf give PyTorch's values") {
  const std::vector<const char*> names = {"conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
                                          "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
                                          "adaptive_avg_pool2d", "adaptive_max_pool2d"};
  for (const char* name : names) tally.names.insert(name);
  ++tally.ops;
  // an empty batch: an empty result of the right shape, and a backward that runs
  D e4 = leaf(Shape{0, 3, 5, 5}), w = w4(), b = leaf(Shape{4});
  CHECK(accepted("conv2d on [0,3,5,5]", [&] { return conv2d(e4, w, b); }, {e4, w, b}).shape() == Shape{0, 4, 3, 3});
  D e3 = leaf(Shape{0, 3, 8}), wt = leaf(Shape{3, 2, 3});
  CHECK(accepted("conv_transpose1d on [0,3,8]", [&] { return conv_transpose1d(e3, wt); }, {e3, wt}).shape() == Shape{0, 2, 10});
  CHECK(accepted("max_pool2d on [0,3,5,5]", [&] { return max_pool2d(e4, {.kernel_size = 2}); }, {e4}).shape() == Shape{0, 3, 2, 2});
  CHECK(accepted("avg_pool1d on [0,3,8]", [&] { return avg_pool1d(e3, {.kernel_size = 2}); }, {e3}).shape() == Shape{0, 3, 4});
  CHECK(accepted("unfold on [0,3,5,5]", [&] { return unfold(e4, {.kernel_size = 2}); }, {e4}).shape() == Shape{0, 12, 16});
  CHECK(accepted("adaptive_avg_pool2d on [0,3,5,5]", [&] { return adaptive_avg_pool2d(e4, {2, 2}); }, {e4}).shape() ==
        Shape{0, 3, 2, 2});
  // a NaN reaches only the outputs whose window holds it; ±Inf likewise
  xt::xarray<double> v = xt::ones<double>(Shape{1, 1, 4, 4});
  v(0, 0, 0, 0) = nan_;
  v(0, 0, 3, 3) = inf;
  D x = leaf(v), k = leaf(Shape{1, 1, 2, 2});
  D y = accepted("conv2d with NaN and Inf", [&] { return conv2d(x, k); }, {x, k});
  REQUIRE(y.shape() == Shape{1, 1, 3, 3});
  CHECK(std::isnan(y.value()(0, 0, 0, 0)));
  CHECK(same(y.value()(0, 0, 1, 1), 2.0));
  CHECK(same(y.value()(0, 0, 2, 2), inf));
  D m = accepted("max_pool2d with NaN and Inf", [&] { return max_pool2d(x, {.kernel_size = 2}); }, {x});
  CHECK(std::isnan(m.value()(0, 0, 0, 0)));  // a NaN in a window wins, as PyTorch
  CHECK(same(m.value()(0, 0, 0, 1), 1.0));
  CHECK(same(m.value()(0, 0, 1, 1), inf));
  D a = accepted("avg_pool2d with NaN and Inf", [&] { return avg_pool2d(x, {.kernel_size = 2}); }, {x});
  CHECK(std::isnan(a.value()(0, 0, 0, 0)));
  CHECK(same(a.value()(0, 0, 1, 0), 1.0));
  CHECK(same(a.value()(0, 0, 1, 1), inf));
  D ninf = leaf(xt::xarray<double>{{{-inf, -inf}, {-inf, -inf}}});
  CHECK(same(accepted("max_pool2d of -Inf", [&] { return max_pool2d(ninf, {.kernel_size = 2}); }, {ninf}).value()(0, 0, 0), -inf));
  // an output larger than the input: overlapping windows, as PyTorch
  D small = leaf(xt::xarray<double>{{{{1, 2}, {3, 4}}}});
  D up = accepted("adaptive_avg_pool2d [2,2] -> [3,3]", [&] { return adaptive_avg_pool2d(small, {3, 3}); }, {small});
  REQUIRE(up.shape() == Shape{1, 1, 3, 3});
  CHECK(same(up.value()(0, 0, 0, 0), 1.0));
  CHECK(same(up.value()(0, 0, 1, 1), 2.5));
  CHECK(same(up.value()(0, 0, 2, 2), 4.0));
  // fold after unfold with non-overlapping patches is the identity
  D z = leaf(xt::xarray<double>{{{{1, 2, 3, 4}, {5, nan_, 7, 8}, {9, 10, inf, 12}, {13, 14, 15, -inf}}}});
  D back = accepted("fold(unfold(x)) with NaN and Inf", [&] { return fold(unfold(z, {.kernel_size = 2, .stride = 2}), {4, 4},
                                                                            {.kernel_size = 2, .stride = 2}); }, {z});
  for (std::size_t i = 0; i < 16; ++i) CHECK(same(back.value().flat(i), z.value().flat(i)));
}

TEST_CASE("recurrent and attention ops: ±Inf gates, empty batches and fully masked rows give the documented values") {
  for (const char* name : {"lstm_cell_state", "lstm_cell_output", "gru_cell", "attention_softmax", "head_scores",
                           "head_mix", "scaled_dot_product_attention", "LSTM", "MultiheadAttention"})
    tally.names.insert(name);
  ++tally.ops;
  // gates (i, f, g, o) at ±Inf saturate: sigmoid(+Inf) = 1, sigmoid(-Inf) = 0, tanh(±Inf) = ±1
  D gates = leaf(xt::xarray<double>{{inf, -inf, inf, -inf}, {-inf, inf, -inf, inf}, {nan_, 0, 0, 0}});
  D c = column({0.5, 0.5, 0.5});
  D c2 = accepted("lstm_cell_state on ±Inf gates", [&] { return lstm_cell_state(gates, c); }, {gates, c});
  CHECK(same(c2.value()(0, 0), 1.0));  // 0 * 0.5 + 1 * tanh(inf)
  CHECK(same(c2.value()(1, 0), 0.5));  // 1 * 0.5 + 0 * tanh(-inf)
  CHECK(std::isnan(c2.value()(2, 0)));
  for (double g : gates.grad().value()) CHECK((std::isnan(g) || std::isfinite(g)));
  D h2 = accepted("lstm_cell_output on ±Inf gates", [&] { return lstm_cell_output(gates, c); }, {gates, c});
  CHECK(same(h2.value()(0, 0), 0.0));
  CHECK(same(h2.value()(1, 0), std::tanh(0.5)));
  D eg = leaf(Shape{0, 8}), ec = leaf(Shape{0, 2});
  CHECK(accepted("lstm_cell_state on an empty batch", [&] { return lstm_cell_state(eg, ec); }, {eg, ec}).shape() == Shape{0, 2});
  D xw = leaf(Shape{0, 6}), hw = leaf(Shape{0, 6}), h = leaf(Shape{0, 2});
  CHECK(accepted("gru_cell on an empty batch", [&] { return gru_cell(xw, hw, h); }, {xw, hw, h}).shape() == Shape{0, 2});
  // a row whose keys are all masked attends to nothing: weights and output 0 (documented)
  D scores = leaf(Shape{2, 3});
  D mask = leaf(xt::xarray<double>{{0, -inf, 0}, {-inf, -inf, -inf}});
  D p = accepted("attention_softmax with a fully masked row", [&] { return attention_softmax(scores, mask); }, {scores, mask});
  CHECK(same(p.value()(0, 0), 0.5));
  CHECK(same(p.value()(0, 1), 0.0));
  for (std::size_t j = 0; j < 3; ++j) CHECK(same(p.value()(1, j), 0.0));
  D q = leaf(Shape{2, 4}), k = leaf(Shape{3, 4}), v = leaf(Shape{3, 5});
  D o = accepted("scaled_dot_product_attention with a fully masked query",
                 [&] { return nn::scaled_dot_product_attention(q, k, v, {.attn_mask = mask}); }, {q, k, v});
  REQUIRE(o.shape() == Shape{2, 5});
  for (std::size_t j = 0; j < 5; ++j) CHECK(same(o.value()(1, j), 0.0));
  // no keys: every query attends to nothing; no queries: an empty result
  D k0 = leaf(Shape{0, 4}), v0 = leaf(Shape{0, 5});
  D none = accepted("scaled_dot_product_attention over 0 keys", [&] { return nn::scaled_dot_product_attention(q, k0, v0); }, {q, k0, v0});
  REQUIRE(none.shape() == Shape{2, 5});
  for (double got : none.value()) CHECK(same(got, 0.0));
  D q0 = leaf(Shape{0, 4});
  CHECK(accepted("scaled_dot_product_attention of 0 queries", [&] { return nn::scaled_dot_product_attention(q0, k, v); }, {q0, k, v})
            .shape() == Shape{0, 5});
  // NaN in one sequence stays in that sequence
  xt::xarray<double> seq = xt::zeros<double>(Shape{4, 2, 3});
  seq(1, 0, 2) = nan_;
  D s = leaf(seq);
  nn::LSTM<double> lstm(3, 4);
  D out = accepted("LSTM with a NaN in sequence 0", [&] { return lstm.forward(s); }, {s});
  REQUIRE(out.shape() == Shape{4, 2, 4});
  CHECK(std::isfinite(out.value()(0, 0, 0)));
  CHECK(std::isnan(out.value()(3, 0, 0)));
  for (std::size_t t = 0; t < 4; ++t) CHECK(std::isfinite(out.value()(t, 1, 3)));
  nn::MultiheadAttention<double> mha(8, 2);
  D qe = leaf(Shape{0, 2, 8});
  CHECK(accepted("MultiheadAttention on 0 queries", [&] { return mha.forward(qe); }, {qe}).shape() == Shape{0, 2, 8});
}

TEST_CASE("the counts (printed for the README's reliability section)") {
  MESSAGE("bad-input sweep: " << tally.names.size() << " ops, layers, losses and optimizers in " << tally.ops
                              << " table rows, " << tally.inputs << " inputs ("
                              << tally.refused << " refused with tg::Error, " << tally.accepted
                              << " accepted and checked against a reference), 0 crashes");
  CHECK(tally.ops > 50);
}
