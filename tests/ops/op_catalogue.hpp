#pragma once
// The op catalogue (as PyTorch's OpInfo): one entry per public op of autograd/ops, saying how to
// call it from a list of double inputs and a few numbers (Params), whether it has a first and a
// second derivative, and sample inputs to check them on. tests/ops/test_op_catalogue.cpp checks
// every entry against tg::gradcheck / tg::gradgradcheck and demands an entry for every op the
// library registers (TG_INSTANTIATE_OPS); the ops fuzz target (tests/fuzz/targets.hpp) draws its
// ops from here. Header-only, so the fuzz programs need nothing else.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace tg::catalogue {

using D = Variable<double>;

/// What one op call takes besides its input variables (the fuzz target decodes them from its
/// bytes; a sample sets them by hand). Options structs are built from these fields: see count().
struct Params {
  std::int64_t axis = 0, axis2 = 0, axis3 = 0;
  Axes axes;
  bool flag = false, flag2 = false;
  double s = 0, s2 = 0;
  std::vector<std::int64_t> sizes;
  IndexArray index;
};

/// Inputs and Params on which an op's derivatives are checked.
struct Sample {
  std::vector<D> inputs;
  Params params;
};

struct OpInfo {
  std::string name;     // the registered op (the public function's name)
  std::string variant;  // which overload or form, when an op has several entries ("" otherwise)
  std::size_t arity;    // how many input variables `call` reads
  bool has_gradient;    // false: comparisons, argmax, sign, one_hot, the factories (run, not gradchecked)
  bool twice_differentiable;  // gradgradcheck holds on the samples
  bool smooth;  // differentiable everywhere on small positive, tie-free inputs whatever the Params (the fuzz gradcheck)
  std::function<D(const std::vector<D>&, const Params&)> call;
  std::vector<Sample> samples;
  bool factory = false;  // a Variable factory of variable.hpp, not an op: here for the fuzz target only

  std::string label() const { return variant.empty() ? name : name + " (" + variant + ")"; }
};

/// A count for an options field from a Params number, clamped into [lo, hi], so the fuzz target
/// reaches an op's size checks rather than an allocation the system refuses.
inline std::size_t count(std::int64_t v, std::int64_t lo, std::int64_t hi) {
  return static_cast<std::size_t>(std::clamp(v, lo, hi));
}

inline Shape to_shape(const std::vector<std::int64_t>& sizes) {
  Shape s;
  for (auto v : sizes) s.push_back(static_cast<std::size_t>(v));
  return s;
}

/// A sample input: distinct values in [lo, hi] (no ties for max, maximum or pooling), the same
/// every run; `stream` varies them between the inputs of one sample.
inline D input(const Shape& shape, int stream = 0, double lo = 0.5, double hi = 2.0, bool requires_grad = true) {
  xt::xarray<double> v = xt::xarray<double>::from_shape(shape);
  double u = 0.1 + 0.37 * stream;
  for (auto& x : v) {
    u += 0.6180339887498949;  // the golden ratio's fractional part: well spread, never repeating
    u -= static_cast<double>(static_cast<long long>(u));
    x = lo + (hi - lo) * u;
  }
  return D(std::move(v), requires_grad);
}

/// A constant (no gradient wanted) input with the given values.
inline D constant(xt::xarray<double> values) { return D(std::move(values), false); }

inline Params with(std::function<void(Params&)> set) {
  Params p;
  set(p);
  return p;
}

// Each builder serves the 1-d and the 2-d options struct (SpatialSize converts from one count).
template <class Options>  // Conv1dOptions, Conv2dOptions
Options conv_options(const Params& p) {
  return {.stride = count(p.axis, 1, 3), .padding = count(p.axis2, 0, 2), .dilation = count(p.axis3, 1, 2),
          .groups = p.flag ? 2u : 1u};
}
template <class Options>  // ConvTranspose1dOptions, ConvTranspose2dOptions
Options conv_transpose_options(const Params& p) {
  return {.stride = count(p.axis, 1, 3), .padding = count(p.axis2, 0, 2), .output_padding = p.flag2 ? 1u : 0u,
          .groups = p.flag ? 2u : 1u, .dilation = count(p.axis3, 1, 2)};
}
inline UnfoldOptions unfold_options(const Params& p) {
  return {.kernel_size = count(p.axis, 1, 3), .dilation = count(p.axis3, 1, 2), .padding = count(p.axis2, 0, 1),
          .stride = p.flag ? 2u : 1u};
}
inline Size2 output_size(const Params& p) {
  return {p.sizes.size() > 0 ? count(p.sizes[0], 0, 6) : 1, p.sizes.size() > 1 ? count(p.sizes[1], 0, 6) : 1};
}
template <class Options>  // MaxPool1dOptions, MaxPool2dOptions
Options max_pool_options(const Params& p) {
  return {.kernel_size = count(p.axis, 1, 3), .stride = count(p.axis2, 0, 2), .padding = count(p.axis3, 0, 1),
          .dilation = p.flag2 ? 2u : 1u, .ceil_mode = p.flag};
}
template <class Options>  // AvgPool1dOptions, AvgPool2dOptions
Options avg_pool_options(const Params& p) {
  return {.kernel_size = count(p.axis, 1, 3), .stride = count(p.axis2, 0, 2), .padding = count(p.axis3, 0, 1),
          .ceil_mode = p.flag, .count_include_pad = p.flag2};
}
inline Size2 adaptive_size(const Params& p) { return {count(p.axis, 1, 3), count(p.axis2, 1, 3)}; }
inline std::size_t heads(const Params& p) { return count(p.axis3, 1, 4); }

using Call = std::function<D(const std::vector<D>&, const Params&)>;

/// An op differentiable twice, checked on one sample of fresh inputs of these shapes.
inline OpInfo twice(std::string name, std::size_t arity, bool smooth, Call call, std::vector<Sample> samples) {
  return {std::move(name), "", arity, true, true, smooth, std::move(call), std::move(samples)};
}
/// A sample of fresh inputs of the given shapes (streams 0, 1, 2, ...) and Params.
inline Sample shapes(std::vector<Shape> input_shapes, Params params = {}) {
  Sample s{{}, std::move(params)};
  int stream = 0;
  for (const auto& shape : input_shapes) s.inputs.push_back(input(shape, stream++));
  return s;
}
/// An op with no gradient: it must run on its samples and return a result that records nothing.
inline OpInfo no_gradient(std::string name, std::size_t arity, Call call, std::vector<Sample> samples,
                          bool smooth = false) {
  return {std::move(name), "", arity, false, false, smooth, std::move(call), std::move(samples)};
}

/// Every public op, grouped as autograd/ops' files, then the factories the fuzz target drives.
inline const std::vector<OpInfo>& op_catalogue() {
  using S = std::vector<Sample>;
  static const std::vector<OpInfo> catalogue = [] {
    std::vector<OpInfo> c;
    // ---- elementwise.hpp ----------------------------------------------------------------------
    const S binary = {shapes({{2, 3}, {3}}), shapes({{2, 1}, {1, 3}})};  // broadcasting either way
    const S unary = {shapes({{2, 3}})};
    c.push_back(twice("add", 2, true, [](auto& in, auto&) { return in[0] + in[1]; }, binary));
    c.push_back(twice("sub", 2, true, [](auto& in, auto&) { return in[0] - in[1]; }, binary));
    c.push_back(twice("mul", 2, true, [](auto& in, auto&) { return in[0] * in[1]; }, binary));
    c.push_back(twice("div", 2, true, [](auto& in, auto&) { return in[0] / in[1]; }, binary));
    c.push_back(twice("neg", 1, true, [](auto& in, auto&) { return -in[0]; }, unary));
    c.push_back(twice("add_scalar", 1, true, [](auto& in, auto& p) { return in[0] + p.s; },
                      {shapes({{2, 3}}, with([](Params& p) { p.s = 0.7; }))}));
    c.push_back(twice("mul_scalar", 1, true, [](auto& in, auto& p) { return in[0] * p.s; },
                      {shapes({{2, 3}}, with([](Params& p) { p.s = -1.3; }))}));
    c.push_back(twice("reciprocal", 1, true, [](auto& in, auto&) { return reciprocal(in[0]); }, unary));
    OpInfo pow_scalar = twice("pow", 1, true, [](auto& in, auto& p) { return pow(in[0], p.s); },
                              {shapes({{2, 3}}, with([](Params& p) { p.s = 2.7; })),
                               shapes({{2, 3}}, with([](Params& p) { p.s = 2; })),      // multiplications
                               shapes({{2, 3}}, with([](Params& p) { p.s = 0.5; }))});  // sqrt
    pow_scalar.variant = "scalar exponent";
    c.push_back(pow_scalar);
    OpInfo pow_tensor = twice("pow", 2, true, [](auto& in, auto&) { return pow(in[0], in[1]); }, binary);
    pow_tensor.variant = "tensor exponent";
    c.push_back(pow_tensor);
    c.push_back(twice("exp", 1, true, [](auto& in, auto&) { return exp(in[0]); }, unary));
    c.push_back(twice("log", 1, true, [](auto& in, auto&) { return log(in[0]); }, unary));
    c.push_back(twice("sqrt", 1, true, [](auto& in, auto&) { return sqrt(in[0]); }, unary));
    c.push_back(twice("erf", 1, true, [](auto& in, auto&) { return erf(in[0]); }, unary));
    c.push_back(twice("abs", 1, true, [](auto& in, auto&) { return abs(in[0]); }, unary));
    c.push_back(twice("sin", 1, true, [](auto& in, auto&) { return sin(in[0]); }, unary));
    c.push_back(twice("cos", 1, true, [](auto& in, auto&) { return cos(in[0]); }, unary));
    // smooth: its gradient is 0 wherever it is defined, which the fuzz gradcheck confirms
    c.push_back(no_gradient("sign", 1, [](auto& in, auto&) { return sign(in[0]); }, unary, true));
    c.push_back(twice("tanh", 1, true, [](auto& in, auto&) { return tanh(in[0]); }, unary));
    c.push_back(twice("sigmoid", 1, true, [](auto& in, auto&) { return sigmoid(in[0]); }, unary));
    c.push_back(twice("relu", 1, true, [](auto& in, auto&) { return relu(in[0]); },
                      {shapes({{2, 3}}), {{input({2, 3}, 0, -2.0, -0.5)}, {}}}));  // both sides of the kink
    c.push_back(twice("leaky_relu", 1, true, [](auto& in, auto& p) { return leaky_relu(in[0], p.s); },
                      {{{input({2, 3}, 0, -1.5, 1.5)}, with([](Params& p) { p.s = 0.1; })}}));
    c.push_back(twice("elu", 1, true, [](auto& in, auto& p) { return elu(in[0], p.s); },
                      {{{input({2, 3}, 0, -1.5, 1.5)}, with([](Params& p) { p.s = 1.2; })}}));
    c.push_back(twice("softplus", 1, true, [](auto& in, auto&) { return softplus(in[0]); }, unary));
    c.push_back(twice("clamp", 1, false, [](auto& in, auto& p) { return clamp(in[0], p.s, p.s2); },
                      {shapes({{3, 4}}, with([](Params& p) { p.s = 0.8, p.s2 = 1.6; }))}));
    c.push_back(twice("maximum", 2, false, [](auto& in, auto&) { return maximum(in[0], in[1]); }, binary));
    c.push_back(twice("minimum", 2, false, [](auto& in, auto&) { return minimum(in[0], in[1]); }, binary));
    c.push_back(twice("where", 3, false, [](auto& in, auto&) { return where(in[0], in[1], in[2]); },
                      {{{constant({{1.0, 0.0, 1.0}, {0.0, 0.0, 1.0}}), input({2, 3}, 1), input({3}, 2)}, {}}}));
    const S compare = {{{input({2, 3}), constant({1.0, 1.25, 1.5})}, {}}};
    c.push_back(no_gradient("lt", 2, [](auto& in, auto&) { return lt(in[0], in[1]); }, compare));
    c.push_back(no_gradient("le", 2, [](auto& in, auto&) { return le(in[0], in[1]); }, compare));
    c.push_back(no_gradient("gt", 2, [](auto& in, auto&) { return gt(in[0], in[1]); }, compare));
    c.push_back(no_gradient("ge", 2, [](auto& in, auto&) { return ge(in[0], in[1]); }, compare));
    c.push_back(no_gradient("eq", 2, [](auto& in, auto&) { return eq(in[0], in[1]); }, compare));
    c.push_back(no_gradient("ne", 2, [](auto& in, auto&) { return ne(in[0], in[1]); }, compare));

    // ---- reduce.hpp ---------------------------------------------------------------------------
    const S reduce = {shapes({{2, 3, 4}}, with([](Params& p) { p.axes = {1}; })),
                      shapes({{2, 3, 4}}, with([](Params& p) { p.axes = {0, -1}, p.flag = true; })),
                      shapes({{2, 3}})};  // every axis
    c.push_back(twice("sum", 1, true, [](auto& in, auto& p) { return sum(in[0], p.axes, p.flag); }, reduce));
    c.push_back(twice("mean", 1, true, [](auto& in, auto& p) { return mean(in[0], p.axes, p.flag); }, reduce));
    c.push_back(twice("max", 1, false, [](auto& in, auto& p) { return max(in[0], p.axes, p.flag); }, reduce));
    c.push_back(twice("min", 1, false, [](auto& in, auto& p) { return min(in[0], p.axes, p.flag); }, reduce));
    c.push_back(twice("logsumexp", 1, true, [](auto& in, auto& p) { return logsumexp(in[0], p.axes, p.flag); },
                      reduce));
    c.push_back(twice("norm", 1, true, [](auto& in, auto& p) { return norm(in[0], p.axes, p.flag); }, reduce));
    const S along_axis = {shapes({{2, 3, 4}}, with([](Params& p) { p.axis = 1; })),
                          shapes({{2, 3, 4}}, with([](Params& p) { p.axis = -1, p.flag = true; }))};
    c.push_back(no_gradient("argmax", 1,
                            [](auto& in, auto& p) { return D(xt::cast<double>(argmax(in[0], p.axis, p.flag))); },
                            along_axis));
    c.push_back(no_gradient("argmin", 1,
                            [](auto& in, auto& p) { return D(xt::cast<double>(argmin(in[0], p.axis, p.flag))); },
                            along_axis));
    c.push_back(twice("softmax", 1, true, [](auto& in, auto& p) { return softmax(in[0], p.axis); }, along_axis));
    c.push_back(twice("log_softmax", 1, true, [](auto& in, auto& p) { return log_softmax(in[0], p.axis); },
                      along_axis));
    c.push_back(twice("softmax_backward", 2, true, [](auto& in, auto&) { return softmax_backward(in[0], in[1]); },
                      {{{input({3, 5}, 0, -1.0, 1.0), softmax(input({3, 5}, 1), -1).detach().set_requires_grad(true)},
                        {}}}));

    // ---- shape.hpp ----------------------------------------------------------------------------
    c.push_back(twice("reshape", 1, true, [](auto& in, auto& p) { return reshape(in[0], p.sizes); },
                      {shapes({{2, 3, 4}}, with([](Params& p) { p.sizes = {4, -1}; }))}));
    c.push_back(twice("expand", 1, true, [](auto& in, auto& p) { return expand(in[0], to_shape(p.sizes)); },
                      {shapes({{3, 1}}, with([](Params& p) { p.sizes = {2, 3, 4}; }))}));
    c.push_back(twice("sum_to", 1, true, [](auto& in, auto& p) { return sum_to(in[0], to_shape(p.sizes)); },
                      {shapes({{2, 3, 4}}, with([](Params& p) { p.sizes = {3, 1}; }))}));
    c.push_back(twice("permute", 1, true, [](auto& in, auto& p) { return permute(in[0], p.axes); },
                      {shapes({{2, 3, 4}}, with([](Params& p) { p.axes = {2, 0, 1}; }))}));
    c.push_back(twice("transpose", 1, true, [](auto& in, auto& p) { return transpose(in[0], p.axis, p.axis2); },
                      {shapes({{2, 3, 4}}, with([](Params& p) { p.axis = 0, p.axis2 = 2; }))}));
    c.push_back(twice("flatten", 1, true, [](auto& in, auto& p) { return flatten(in[0], p.axis, p.axis2); },
                      {shapes({{2, 3, 4}}, with([](Params& p) { p.axis = 1, p.axis2 = 2; }))}));
    c.push_back(twice("squeeze", 1, true, [](auto& in, auto& p) { return squeeze(in[0], p.axes); },
                      {shapes({{2, 1, 3}}, with([](Params& p) { p.axes = {1}; }))}));
    c.push_back(twice("unsqueeze", 1, true, [](auto& in, auto& p) { return unsqueeze(in[0], p.axis); },
                      {shapes({{2, 3}}, with([](Params& p) { p.axis = 1; }))}));

    // ---- select.hpp ---------------------------------------------------------------------------
    c.push_back(twice("narrow", 1, true, [](auto& in, auto& p) { return narrow(in[0], p.axis, p.axis2, p.axis3); },
                      {shapes({{4, 3}}, with([](Params& p) { p.axis = 0, p.axis2 = 1, p.axis3 = 2; }))}));
    c.push_back(twice("slice", 1, true,
                      [](auto& in, auto& p) {
                        return slice(in[0], p.axis, p.axis2, p.axis3, p.sizes.empty() ? 1 : p.sizes[0]);
                      },
                      {shapes({{5, 3}}, with([](Params& p) { p.axis = 0, p.axis2 = 0, p.axis3 = 5, p.sizes = {2}; }))}));
    c.push_back(twice("index_select", 1, true, [](auto& in, auto& p) { return index_select(in[0], p.axis, p.index); },
                      {shapes({{4, 3}}, with([](Params& p) { p.index = IndexArray{2, 0, 2}; }))}));
    const IndexArray gather_index = {{0, 2}, {1, 1}, {3, 0}};
    c.push_back(twice("gather", 1, true, [](auto& in, auto& p) { return gather(in[0], p.axis, p.index); },
                      {shapes({{3, 4}}, with([&](Params& p) { p.axis = 1, p.index = gather_index; }))}));
    c.push_back(twice("scatter_add", 2, true,
                      [](auto& in, auto& p) { return scatter_add(in[0], p.axis, p.index, in[1]); },
                      {shapes({{3, 4}, {3, 2}}, with([&](Params& p) { p.axis = 1, p.index = gather_index; }))}));
    c.push_back(twice("concat", 2, true, [](auto& in, auto& p) { return concat(std::vector<D>{in[0], in[1]}, p.axis); },
                      {shapes({{2, 3}, {1, 3}})}));
    c.push_back(twice("stack", 2, true, [](auto& in, auto& p) { return stack(std::vector<D>{in[0], in[1]}, p.axis); },
                      {shapes({{2, 3}, {2, 3}}, with([](Params& p) { p.axis = 1; }))}));
    c.push_back(twice("split", 1, true,
                      [](auto& in, auto& p) {
                        auto parts = split(in[0], p.sizes, p.axis);
                        return parts.empty() ? sum(in[0]) : parts[static_cast<std::size_t>(p.axis2) % parts.size()];
                      },
                      {shapes({{5, 3}}, with([](Params& p) { p.sizes = {2, 3}, p.axis2 = 1; }))}));
    c.push_back(no_gradient("one_hot", 0, [](auto&, auto& p) { return one_hot<double>(p.index, p.axis); },
                            {{{}, with([](Params& p) { p.index = IndexArray{0, 2, 1}, p.axis = 3; })}}));

    // ---- linalg.hpp ---------------------------------------------------------------------------
    c.push_back(twice("matmul", 2, true,
                      [](auto& in, auto& p) {
                        return matmul(in[0], in[1], {.transpose_a = p.flag, .transpose_b = p.flag2});
                      },
                      {shapes({{2, 3}, {3, 4}}),
                       shapes({{3, 2}, {4, 3}}, with([](Params& p) { p.flag = p.flag2 = true; })),
                       shapes({{2, 2, 3}, {3}})}));  // batched by a vector
    c.push_back(twice("linear", 3, true, [](auto& in, auto&) { return linear(in[0], in[1], in[2]); },
                      {shapes({{2, 3}, {4, 3}, {4}})}));

    // ---- recurrent.hpp: [batch, gates x hidden] -----------------------------------------------
    c.push_back(twice("lstm_cell_state", 2, true, [](auto& in, auto&) { return lstm_cell_state(in[0], in[1]); },
                      {{{input({2, 12}, 0, -1.5, 1.5), input({2, 3}, 1, -1.0, 1.0)}, {}}}));
    c.push_back(twice("lstm_cell_output", 2, true, [](auto& in, auto&) { return lstm_cell_output(in[0], in[1]); },
                      {{{input({2, 12}, 0, -1.5, 1.5), input({2, 3}, 1, -1.0, 1.0)}, {}}}));
    c.push_back(twice("gru_cell", 3, true, [](auto& in, auto&) { return gru_cell(in[0], in[1], in[2]); },
                      {{{input({2, 9}, 0, -1.5, 1.5), input({2, 9}, 1, -1.5, 1.5), input({2, 3}, 2, -1.0, 1.0)}, {}}}));

    // ---- normalization.hpp: layer_norm over weight's trailing axes, batch_norm per channel ------
    // Not smooth for the fuzz target: on its inputs a row or channel of two near-equal values has
    // a variance near 0, where central differences of 1/sqrt(var + eps) mean nothing.
    c.push_back(twice("layer_norm", 3, false, [](auto& in, auto&) { return layer_norm(in[0], in[1], in[2]); },
                      {{{input({2, 3, 4}, 0, -1.5, 1.5), input({4}, 1, 0.5, 1.5), input({4}, 2, -1.0, 1.0)}, {}},
                       {{input({2, 3, 4}, 3, -1.5, 1.5), input({3, 4}, 4, 0.5, 1.5), input({3, 4}, 5, -1.0, 1.0)}, {}}}));
    c.push_back(twice("batch_norm", 3, false, [](auto& in, auto&) { return batch_norm(in[0], in[1], in[2]); },
                      {{{input({3, 2, 4}, 6, -1.5, 1.5), input({2}, 7, 0.5, 1.5), input({2}, 8, -1.0, 1.0)}, {}},
                       {{input({2, 3, 2, 2}, 9, -1.5, 1.5), input({3}, 10, 0.5, 1.5), input({3}, 11, -1.0, 1.0)}, {}}}));

    // ---- attention.hpp: [B, L, D] with Params.axis3 heads, scale s, seq_first flag ------------
    const Params two_heads = with([](Params& p) { p.axis3 = 2, p.s = 0.6; });
    c.push_back(twice("head_scores", 2, true,
                      [](auto& in, auto& p) { return head_scores(in[0], in[1], heads(p), p.s, p.flag); },
                      {shapes({{2, 3, 4}, {2, 5, 4}}, two_heads),
                       shapes({{3, 2, 4}, {5, 2, 4}}, with([](Params& p) { p.axis3 = 2, p.s = 0.6, p.flag = true; }))}));
    c.push_back(twice("head_mix", 2, true,
                      [](auto& in, auto& p) { return head_mix(in[0], in[1], heads(p), p.flag2, p.s, p.flag); },
                      {shapes({{2, 2, 3, 5}, {2, 5, 4}}, two_heads),
                       shapes({{2, 2, 5, 3}, {2, 5, 4}},
                              with([](Params& p) { p.axis3 = 2, p.s = 0.6, p.flag2 = true; }))}));
    c.push_back(twice("attention_softmax", 2, true, [](auto& in, auto&) { return attention_softmax(in[0], in[1]); },
                      {shapes({{2, 2, 3, 5}, {3, 5}})}));  // the mask broadcast over batch and heads
    c.push_back(twice("head_attention_weights", 3, true,
                      [](auto& in, auto& p) {
                        return head_attention_weights(in[0], in[1], heads(p), p.s, in[2], p.flag);
                      },
                      {shapes({{2, 3, 4}, {2, 5, 4}, {3, 5}}, two_heads)}));

    // ---- conv.hpp: stride axis, padding axis2, dilation axis3, groups 2 if flag ---------------
    const Params plain = with([](Params& p) { p.axis = 1, p.axis2 = 0, p.axis3 = 1; });
    const Params strided = with([](Params& p) { p.axis = 2, p.axis2 = 1, p.axis3 = 2, p.flag = true; });
    c.push_back(twice("conv1d", 3, true,
                      [](auto& in, auto& p) { return conv1d(in[0], in[1], in[2], conv_options<Conv1dOptions>(p)); },
                      {shapes({{2, 2, 6}, {3, 2, 3}, {3}}, plain), shapes({{1, 4, 7}, {2, 2, 2}, {2}}, strided)}));
    c.push_back(twice("conv2d", 3, true,
                      [](auto& in, auto& p) { return conv2d(in[0], in[1], in[2], conv_options<Conv2dOptions>(p)); },
                      {shapes({{1, 2, 4, 4}, {3, 2, 2, 2}, {3}}, plain),
                       shapes({{1, 4, 5, 5}, {2, 2, 2, 2}, {2}}, strided)}));
    c.push_back(twice("conv_transpose1d", 3, true,
                      [](auto& in, auto& p) {
                        return conv_transpose1d(in[0], in[1], in[2], conv_transpose_options<ConvTranspose1dOptions>(p));
                      },
                      {shapes({{2, 2, 4}, {2, 3, 3}, {3}}, plain), shapes({{1, 4, 3}, {4, 1, 2}, {2}}, strided)}));
    c.push_back(twice("conv_transpose2d", 3, true,
                      [](auto& in, auto& p) {
                        return conv_transpose2d(in[0], in[1], in[2], conv_transpose_options<ConvTranspose2dOptions>(p));
                      },
                      {shapes({{1, 2, 3, 3}, {2, 3, 2, 2}, {3}}, plain),
                       shapes({{1, 4, 2, 2}, {4, 1, 2, 2}, {2}}, strided)}));
    // unfold and fold: kernel axis, padding axis2, dilation axis3, stride 2 if flag; fold's output size from sizes
    c.push_back(twice("unfold", 1, true, [](auto& in, auto& p) { return unfold(in[0], unfold_options(p)); },
                      {shapes({{1, 2, 4, 4}}, with([](Params& p) { p.axis = 2, p.axis2 = 1, p.axis3 = 1; }))}));
    c.push_back(twice("fold", 1, true, [](auto& in, auto& p) { return fold(in[0], output_size(p), unfold_options(p)); },
                      {shapes({{1, 4, 9}}, with([](Params& p) { p.axis = 2, p.axis3 = 1, p.sizes = {4, 4}; }))}));

    // ---- pool.hpp: kernel axis, stride axis2 (0: the kernel), padding axis3, ceil_mode flag ---
    const Params window = with([](Params& p) { p.axis = 2, p.axis2 = 1; });
    const Params padded = with([](Params& p) { p.axis = 3, p.axis2 = 2, p.axis3 = 1, p.flag = true; });
    const S pool1d = {shapes({{2, 2, 6}}, window), shapes({{1, 2, 7}}, padded)};
    const S pool2d = {shapes({{1, 2, 4, 4}}, window), shapes({{1, 2, 5, 5}}, padded)};
    using MaxPool1d = MaxPool1dOptions;
    using MaxPool2d = MaxPool2dOptions;
    c.push_back(twice("max_pool1d", 1, false,
                      [](auto& in, auto& p) { return max_pool1d(in[0], max_pool_options<MaxPool1d>(p)); }, pool1d));
    c.push_back(twice("max_pool2d", 1, false,
                      [](auto& in, auto& p) { return max_pool2d(in[0], max_pool_options<MaxPool2d>(p)); }, pool2d));
    c.push_back(twice("max_pool1d_with_indices", 1, false,
                      [](auto& in, auto& p) {
                        return max_pool1d_with_indices(in[0], max_pool_options<MaxPool1d>(p)).output;
                      },
                      pool1d));
    c.push_back(twice("max_pool2d_with_indices", 1, false,
                      [](auto& in, auto& p) {
                        return max_pool2d_with_indices(in[0], max_pool_options<MaxPool2d>(p)).output;
                      },
                      pool2d));
    c.push_back(twice("avg_pool1d", 1, true,
                      [](auto& in, auto& p) { return avg_pool1d(in[0], avg_pool_options<AvgPool1dOptions>(p)); },
                      pool1d));
    c.push_back(twice("avg_pool2d", 1, true,
                      [](auto& in, auto& p) { return avg_pool2d(in[0], avg_pool_options<AvgPool2dOptions>(p)); },
                      pool2d));
    const S adaptive = {shapes({{1, 2, 5, 4}}, with([](Params& p) { p.axis = 2, p.axis2 = 3; }))};
    c.push_back(twice("adaptive_avg_pool2d", 1, true,
                      [](auto& in, auto& p) { return adaptive_avg_pool2d(in[0], adaptive_size(p)); }, adaptive));
    c.push_back(twice("adaptive_max_pool2d", 1, false,
                      [](auto& in, auto& p) { return adaptive_max_pool2d(in[0], adaptive_size(p)); }, adaptive));
    c.push_back(twice("adaptive_max_pool2d_with_indices", 1, false,
                      [](auto& in, auto& p) {
                        return adaptive_max_pool2d_with_indices(in[0], adaptive_size(p)).output;
                      },
                      adaptive));

    // ---- factories (variable.hpp): not ops (no tape node, no derivative), fuzzed all the same --
    const auto factory = [](std::string name, Call call, Params params) {
      OpInfo info = no_gradient(std::move(name), 0, std::move(call), {{{}, std::move(params)}});
      info.factory = true;
      return info;
    };
    c.push_back(factory("zeros", [](auto&, auto& p) { return zeros<double>(to_shape(p.sizes)); },
                        with([](Params& p) { p.sizes = {2, 3}; })));
    c.push_back(factory("full", [](auto&, auto& p) { return full<double>(to_shape(p.sizes), p.s); },
                        with([](Params& p) { p.sizes = {2}, p.s = 1.5; })));
    c.push_back(factory("arange", [](auto&, auto& p) { return arange<double>(p.s, p.s2, static_cast<double>(p.axis)); },
                        with([](Params& p) { p.s = 0, p.s2 = 3, p.axis = 1; })));
    return c;
  }();
  return catalogue;
}

}  // namespace tg::catalogue
