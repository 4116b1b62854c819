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

TEST_CASE("the counts (printed for the README's reliability section)") {
  MESSAGE("bad-input sweep: " << tally.names.size() << " ops, layers, losses and optimizers in " << tally.ops
                              << " table rows, " << tally.inputs << " inputs ("
                              << tally.refused << " refused with tg::Error, " << tally.accepted
                              << " accepted and checked against a reference), 0 crashes");
  CHECK(tally.ops > 50);
}
