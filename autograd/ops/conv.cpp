// Convolutions as im2col + GEMM. Three primitives share one geometry (ConvShape): the
// convolution, its adjoint in the input (conv_transpose) and its adjoint in the weight; each
// one's derivative is written with the other two, so gradients of every order stay convolutions.
#include "conv.hpp"

#include <algorithm>
#include <vector>

#include "../core/detail/buffers.hpp"
#include "../core/detail/numel.hpp"
#include "../kernels/gemm.hpp"
#include "../kernels/im2col.hpp"
#include "../core/detail/parallel.hpp"
#include "fused.hpp"
#include "reduce.hpp"
#include "instantiate.hpp"

namespace tg {

namespace {

/// A convolution of an input [N, C, (H,) W] with a weight [O, C/groups, (kH,) kW] into an
/// output [N, O, (H_out,) W_out]; 1-d convolutions are the 2-d ones with H = kH = 1.
struct ConvShape {
  kernels::PatchGeometry patches;  // of one input image, all C channels
  std::size_t batch = 0, out_channels = 0, groups = 1;
  Shape input_shape, weight_shape, output_shape;

  std::size_t group_rows() const { return patches.rows() / groups; }  // C/groups * taps
  std::size_t group_out() const { return out_channels / groups; }
  std::size_t output_image_size() const { return out_channels * patches.positions(); }
};

/// Per-thread scratch reused across calls, so steady-state training allocates no column
/// buffers (a fresh multi-megabyte buffer per call costs page faults every step).
template <class T>
T* scratch(std::size_t size) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

/// How many ranges of samples a batch is split into: with several samples they are spread
/// over the library's threads and every GEMM runs on its own thread, so one image's im2col,
/// GEMM and bias stay in that core's cache and the work between GEMMs runs on both cores
/// (one GEMM per chunk of samples, itself split over the threads, would leave the
/// work between GEMMs, im2col, copies and bias, on one core). One sample: one range, its
/// GEMMs split over the threads.
std::size_t sample_parts(const ConvShape& s) {
  const std::size_t threads = detail::parallel_threads();
  return threads == 1 ? std::min<std::size_t>(s.batch, 1) : std::min(s.batch, 4 * threads);
}

/// body(n0, n1, part) for `parts` ranges [n0, n1) of the batch.
template <class Body>
void over_samples(const ConvShape& s, std::size_t parts, const char* op, Body&& body) {
  kernels::check_gemm_sizes(op, s.patches.rows(), s.patches.positions(), s.out_channels);
  if (parts <= 1) {
    if (s.batch > 0) body(std::size_t(0), s.batch, std::size_t(0));
    return;
  }
  detail::parallel_tasks(parts, [&](std::size_t part) { body(s.batch * part / parts, s.batch * (part + 1) / parts, part); });
}

/// image[c, :] += bias[c] for an image of `channels` planes of `plane` values.
template <class T>
void add_per_channel(T* image, const T* bias, std::size_t channels, std::size_t plane) {
  for (std::size_t c = 0; c < channels; ++c, image += plane) {
    const T b = bias[c];
    for (std::size_t i = 0; i < plane; ++i) image[i] += b;
  }
}

/// out = conv(x, w) + bias: per sample and group, one GEMM [O/g, rows/g] x [rows/g, L] straight
/// into the sample's NCHW output.
template <class T>
xt::xarray<T> convolve_value(const ConvShape& s, const T* x, const T* w, const T* bias, const char* op) {
  xt::xarray<T> out = detail::empty_array<T>(s.output_shape);
  const auto& p = s.patches;
  const std::size_t L = p.positions(), G = s.groups, rows = s.group_rows(), og = s.group_out();
  T* const po = out.data();
  over_samples(s, sample_parts(s), op, [&](std::size_t n0, std::size_t n1, std::size_t) {
    T* cols = p.is_identity() ? nullptr : scratch<T>(p.rows() * L);
    for (std::size_t n = n0; n < n1; ++n) {
      const T* xn = x + n * p.image_size();
      T* on = po + n * s.output_image_size();
      if (cols) kernels::im2col(p, xn, cols);
      const T* c = cols ? cols : xn;  // 1x1: the image is its own column matrix
      for (std::size_t g = 0; g < G; ++g) kernels::gemm(false, false, og, L, rows, w + g * og * rows, c + g * rows * L, on + g * og * L);
      if (bias) add_per_channel(on, bias, s.out_channels, L);
    }
  });
  return out;
}

/// One sample's share of conv's adjoint in x: cols = W_g^T g_g per group, then col2im into dn
/// (a 1x1 convolution, cols null: the GEMM writes dn itself).
template <class T>
void input_grad_of_sample(const ConvShape& s, const T* w, const T* gn, T* cols, T* dn) {
  const auto& p = s.patches;
  const std::size_t L = p.positions(), rows = s.group_rows(), og = s.group_out();
  T* c = cols ? cols : dn;
  for (std::size_t g = 0; g < s.groups; ++g) kernels::gemm(true, false, rows, L, og, w + g * og * rows, gn + g * og * L, c + g * rows * L);
  if (cols) {
    std::fill_n(dn, p.image_size(), T(0));
    kernels::col2im_add(p, cols, dn);
  }
}

/// One sample's share of conv's adjoint in w: dw_g = g_g cols_g^T per group, onto dw unless
/// `first` (cols: scratch for the sample's columns; null for a 1x1 convolution, the image is its
/// own column matrix).
template <class T>
void add_weight_grad_of_sample(const ConvShape& s, const T* xn, const T* gn, T* cols, T* dw, bool first) {
  const auto& p = s.patches;
  const std::size_t L = p.positions(), rows = s.group_rows(), og = s.group_out();
  if (cols) kernels::im2col(p, xn, cols);
  const T* c = cols ? cols : xn;
  for (std::size_t g = 0; g < s.groups; ++g)
    kernels::gemm(false, true, og, rows, L, T(1), gn + g * og * L, L, c + g * rows * L, L, first ? T(0) : T(1), dw + g * og * rows, rows);
}

/// The adjoint of convolve in x (conv_transpose): per sample and group cols = W_g^T g_g (one
/// GEMM), then col2im; plus bias per input channel.
template <class T>
xt::xarray<T> input_grad_value(const ConvShape& s, const T* grad, const T* w, const T* bias, const char* op) {
  xt::xarray<T> out = detail::empty_array<T>(s.input_shape);
  const auto& p = s.patches;
  const std::size_t plane = p.height * p.width;
  T* const po = out.data();
  over_samples(s, sample_parts(s), op, [&](std::size_t n0, std::size_t n1, std::size_t) {
    T* cols = p.is_identity() ? nullptr : scratch<T>(p.rows() * p.positions());
    for (std::size_t n = n0; n < n1; ++n) {
      T* dn = po + n * p.image_size();
      input_grad_of_sample(s, w, grad + n * s.output_image_size(), cols, dn);
      if (bias) add_per_channel(dn, bias, p.channels, plane);
    }
  });
  return out;
}

/// The first-order backward of convolve in one pass over the samples, for what is wanted of dx,
/// dw and dbias: per sample, the bias's row sums and the weight's GEMM read the output gradient
/// while it is in cache, and the column buffer of the weight's GEMM then takes W^T g for col2im.
/// The same arithmetic as input_grad_value and weight_grad_value (equal to the bit); the bias
/// sums per sample, then per range of samples.
template <class T>
struct ConvGrads {
  xt::xarray<T> input, weight, bias;
};
template <class T>
ConvGrads<T> convolve_grads_value(const ConvShape& s, const T* x, const T* w, const T* grad, bool want_input, bool want_weight,
                                  bool want_bias, const char* op) {
  ConvGrads<T> r;
  const auto& p = s.patches;
  const std::size_t L = p.positions(), O = s.out_channels;
  if (want_input) r.input = detail::empty_array<T>(s.input_shape);
  if (want_weight) r.weight = xt::zeros<T>(s.weight_shape);
  if (want_bias) r.bias = xt::zeros<T>(Shape{O});
  const std::size_t wsize = want_weight ? r.weight.size() : 0, bsize = want_bias ? O : 0, parts = sample_parts(s);
  std::vector<T> partials(parts > 1 ? parts * (wsize + bsize) : 0);
  over_samples(s, parts, op, [&](std::size_t n0, std::size_t n1, std::size_t part) {
    T* dw = parts > 1 ? partials.data() + part * (wsize + bsize) : r.weight.data();
    T* db = parts > 1 ? partials.data() + part * (wsize + bsize) + wsize : r.bias.data();
    T* cols = p.is_identity() ? nullptr : scratch<T>(p.rows() * L);
    for (std::size_t n = n0; n < n1; ++n) {
      const T* gn = grad + n * s.output_image_size();
      if (want_bias)
        for (std::size_t o = 0; o < O; ++o) {
          const T* row = gn + o * L;
          T acc = 0;
#pragma omp simd reduction(+ : acc)
          for (std::size_t l = 0; l < L; ++l) acc += row[l];
          db[o] += acc;
        }
      if (want_weight) add_weight_grad_of_sample(s, x + n * p.image_size(), gn, cols, dw, n == n0);
      if (want_input) input_grad_of_sample(s, w, gn, cols, r.input.data() + n * p.image_size());
    }
  });
  if (parts > 1)
    for (std::size_t part = 0; part < parts; ++part) {
      const T* q = partials.data() + part * (wsize + bsize);
      T* pw = r.weight.data();
      for (std::size_t i = 0; i < wsize; ++i) pw[i] += q[i];
      T* pb = r.bias.data();
      for (std::size_t i = 0; i < bsize; ++i) pb[i] += q[wsize + i];
    }
  return r;
}

/// The adjoint of convolve in w: dW_g = sum over samples of g_g cols_g^T, one GEMM per sample
/// and group accumulated into a partial sum per range of samples, the partials added at the end.
template <class T>
xt::xarray<T> weight_grad_value(const ConvShape& s, const T* x, const T* grad, const char* op) {
  return convolve_grads_value<T>(s, x, nullptr, grad, false, true, false, op).weight;
}

template <class T>
Variable<T> conv_input_grad(const Variable<T>& grad, const Variable<T>& w, const ConvShape& s, const char* op);
template <class T>
Variable<T> conv_weight_grad(const Variable<T>& x, const Variable<T>& grad, const ConvShape& s);

/// The per-channel sum of a [N, C, ...] gradient: a bias's gradient.
template <class T>
Variable<T> channel_sum(const Variable<T>& g) {
  Axes axes{0};
  for (std::size_t a = 2; a < g.dim(); ++a) axes.push_back(static_cast<std::int64_t>(a));
  return sum(g, axes);
}

/// What both forms of conv's derivative need: the geometry and the op's name for errors.
struct ConvOp {
  ConvShape shape;
  const char* name;
};

/// conv(x, w) (+ bias). d/dx = conv_input_grad(g, w), d/dw = conv_weight_grad(x, g), d/dbias = sum of g per channel;
/// when nothing records, the three in one pass (convolve_grads_value).
template <class T>
Variable<T> convolve(const Variable<T>& x, const Variable<T>& w, const Variable<T>& bias, const ConvShape& s, const char* op) {
  auto value = convolve_value(s, x.value().data(), w.value().data(), bias.defined() ? bias.value().data() : nullptr, op);
  const auto in_ops = [](const GradContext<T>& c, const ConvOp& conv) -> Grads<T> {
    Grads<T> grads{c.needs(0) ? conv_input_grad(c.grad, c.in[1], conv.shape, conv.name) : Variable<T>(),
                   c.needs(1) ? conv_weight_grad(c.in[0], c.grad, conv.shape) : Variable<T>()};
    if (c.in.size() == 3) grads.push_back(c.needs(2) ? channel_sum(c.grad) : Variable<T>());
    return grads;
  };
  const auto raw = [](const GradContext<T>& c, const ConvOp& conv) -> Grads<T> {
    const bool bias = c.in.size() == 3;
    auto v = convolve_grads_value(conv.shape, c.in[0].value().data(), c.in[1].value().data(), c.grad.value().data(), c.needs(0),
                                  c.needs(1), bias && c.needs(2), conv.name);
    const auto wrap = [](bool wanted, xt::xarray<T>& value) { return wanted ? Variable<T>(std::move(value)) : Variable<T>(); };
    Grads<T> grads{wrap(c.needs(0), v.input), wrap(c.needs(1), v.weight)};
    if (bias) grads.push_back(wrap(c.needs(2), v.bias));
    return grads;
  };
  if (bias.defined()) return detail::make_fused_op<T>(op, std::move(value), {x, w, bias}, ConvOp{s, op}, in_ops, raw);
  return detail::make_fused_op<T>(op, std::move(value), {x, w}, ConvOp{s, op}, in_ops, raw);
}

/// conv's adjoint in its input (conv_transpose) (+ bias per input channel). Linear in both:
/// <conv_input_grad(g, w), V> = <g, conv(V, w)>, so d/dg = conv(V, w) and d/dw = conv_weight_grad(V, g).
template <class T>
Variable<T> conv_input_grad(const Variable<T>& grad, const Variable<T>& w, const Variable<T>& bias, const ConvShape& s,
                            const char* op) {
  auto value = input_grad_value(s, grad.value().data(), w.value().data(), bias.defined() ? bias.value().data() : nullptr, op);
  auto derivative = [s, op](const GradContext<T>& c) -> Grads<T> {
    Grads<T> grads{c.needs(0) ? convolve(c.grad, c.in[1], Variable<T>(), s, op) : Variable<T>(),
                   c.needs(1) ? conv_weight_grad(c.grad, c.in[0], s) : Variable<T>()};
    if (c.in.size() == 3) grads.push_back(c.needs(2) ? channel_sum(c.grad) : Variable<T>());
    return grads;
  };
  if (bias.defined()) return make_op<T>(op, std::move(value), {grad, w, bias}, derivative);
  return make_op<T>(op, std::move(value), {grad, w}, derivative);
}

template <class T>
Variable<T> conv_input_grad(const Variable<T>& grad, const Variable<T>& w, const ConvShape& s, const char* op) {
  return conv_input_grad(grad, w, Variable<T>(), s, op);
}

/// conv's adjoint in its weight. <conv_weight_grad(x, g), U> = <g, conv(x, U)>, so
/// d/dx = conv_input_grad(g, U) and d/dg = conv(x, U).
template <class T>
Variable<T> conv_weight_grad(const Variable<T>& x, const Variable<T>& grad, const ConvShape& s) {
  return make_op<T>("conv_weight_grad", weight_grad_value(s, x.value().data(), grad.value().data(), "conv_weight_grad"), {x, grad},
                    [s](const GradContext<T>& c) -> Grads<T> {
                      return {c.needs(0) ? conv_input_grad(c.in[1], c.grad, s, "conv_weight_grad") : Variable<T>(),
                              c.needs(1) ? convolve(c.in[0], c.grad, Variable<T>(), s, "conv_weight_grad") : Variable<T>()};
                    });
}

// ---- geometry from the user's options, with the checks --------------------------------------

/// The user's spatial settings of one convolution, per axis (1-d: only the last axis is used).
struct Spatial {
  std::size_t kernel[2] = {1, 1}, stride[2] = {1, 1}, dilation[2] = {1, 1};
  std::size_t pad_before[2] = {0, 0}, pad_after[2] = {0, 0};
};

std::string describe(const char* what, const Shape& shape) { return std::string(what) + " " + shape_str(shape); }

/// Output size of a convolution along one axis; a tg::Error when the (dilated) kernel does
/// not fit in the padded input.
std::size_t conv_out_size(const char* op, const std::string& shapes, std::size_t size, const Spatial& sp, int axis) {
  // sizes beyond 2^62 would wrap here or in the kernels' signed offsets
  constexpr std::size_t limit = std::size_t{1} << 62;
  std::size_t padded = 0, span = 0;
  const bool overflow = __builtin_add_overflow(size, sp.pad_before[axis], &padded) ||
                        __builtin_add_overflow(padded, sp.pad_after[axis], &padded) ||
                        __builtin_mul_overflow(sp.dilation[axis], sp.kernel[axis] - 1, &span) || ++span > limit || padded > limit;
  TG_CHECK(!overflow, op,
           shapes + ": padding " + std::to_string(sp.pad_before[axis]) + ", kernel size " + std::to_string(sp.kernel[axis]) +
               " and dilation " + std::to_string(sp.dilation[axis]) + " overflow the sizes");
  TG_CHECK(padded >= span, op,
           shapes + ": the kernel spans " + std::to_string(span) + " (size " + std::to_string(sp.kernel[axis]) + ", dilation " +
               std::to_string(sp.dilation[axis]) + ") but the padded input is only " + std::to_string(padded) + " long");
  return (padded - span) / sp.stride[axis] + 1;
}

/// The output [N, O, H_out, W_out] and one sample's columns [C kH kW, H_out W_out] must have an
/// element count that does not overflow (a wrapped count would allocate too little).
void check_output_size(const char* op, const std::string& shapes, const Shape& output, const Shape& columns) {
  TG_CHECK(detail::checked_numel(output) && detail::checked_numel(columns), op,
           shapes + ": the output " + shape_str(output) + " or its columns " + shape_str(columns) + " would overflow the element count");
}

void check_positive(const char* op, const std::string& shapes, const char* what, const std::size_t* values, std::size_t spatial) {
  for (std::size_t a = 0; a < spatial; ++a)
    TG_CHECK(values[2 - spatial + a] > 0, op, shapes + ": " + what + " must be positive, got 0");
}

/// The geometry of conv(input, weight) for a [N, C, (H,) W] input: spatial = 1 or 2.
ConvShape conv_shape(const char* op, const Shape& input, const Shape& weight, std::size_t spatial, std::size_t groups,
                     const Spatial& sp) {
  const std::string shapes = describe("input", input) + ", weight " + shape_str(weight);
  TG_CHECK(input.size() == spatial + 2, op, shapes + ": the input must be [N, C" + (spatial == 2 ? ", H, W]" : ", L]"));
  TG_CHECK(weight.size() == spatial + 2, op, shapes + ": the weight must be [O, C/groups" + (spatial == 2 ? ", kH, kW]" : ", K]"));
  TG_CHECK(groups > 0, op, shapes + ": groups must be positive");
  check_positive(op, shapes, "stride", sp.stride, spatial);
  check_positive(op, shapes, "dilation", sp.dilation, spatial);
  const std::size_t C = input[1], O = weight[0];
  TG_CHECK(C > 0 && O > 0, op, shapes + ": channel counts must be positive");
  TG_CHECK(C % groups == 0, op, shapes + ": " + std::to_string(C) + " input channels are not divisible by groups " + std::to_string(groups));
  TG_CHECK(O % groups == 0, op, shapes + ": " + std::to_string(O) + " output channels are not divisible by groups " + std::to_string(groups));
  TG_CHECK(weight[1] * groups == C, op,
           shapes + ": the weight expects " + std::to_string(weight[1] * groups) + " input channels (" + std::to_string(weight[1]) +
               " per group x " + std::to_string(groups) + " groups), the input has " + std::to_string(C));
  for (std::size_t a = 2; a < weight.size(); ++a) TG_CHECK(weight[a] > 0, op, shapes + ": the kernel has an empty axis");
  ConvShape s;
  const std::size_t H = spatial == 2 ? input[2] : 1, W = input.back();
  const std::size_t Ho = conv_out_size(op, shapes, H, sp, 0), Wo = conv_out_size(op, shapes, W, sp, 1);
  check_output_size(op, shapes, Shape{input[0], O, Ho, Wo}, Shape{C, sp.kernel[0], sp.kernel[1], Ho, Wo});
  s.patches = {C, H, W, sp.kernel[0], sp.kernel[1], sp.stride[0], sp.stride[1], sp.pad_before[0], sp.pad_before[1],
               sp.dilation[0], sp.dilation[1], Ho, Wo};
  s.batch = input[0];
  s.out_channels = O;
  s.groups = groups;
  s.input_shape = input;
  s.weight_shape = weight;
  s.output_shape = spatial == 2 ? Shape{input[0], O, Ho, Wo} : Shape{input[0], O, Wo};
  return s;
}

template <class T>
void check_bias(const char* op, const Variable<T>& bias, std::size_t channels, const Shape& input, const Shape& weight) {
  if (!bias.defined()) return;
  TG_CHECK(bias.dim() == 1 && bias.shape()[0] == channels, op,
           "input " + shape_str(input) + ", weight " + shape_str(weight) + ": bias " + shape_str(bias.shape()) + " must be [" +
               std::to_string(channels) + "]");
}

/// Spatial settings of conv1d/conv2d, with "same"/"valid" resolved against the weight's kernel.
template <std::size_t N>
Spatial conv_spatial(const char* op, const Shape& input, const Shape& weight, const SpatialSize<N>& stride,
                     const ConvPadding<N>& padding, const SpatialSize<N>& dilation) {
  Spatial sp;
  for (std::size_t a = 0; a < N; ++a) {
    const std::size_t axis = 2 - N + a;  // 1-d settings sit on the last (width) axis
    sp.kernel[axis] = weight.size() == N + 2 ? weight[2 + a] : 1;
    sp.stride[axis] = stride[a];
    sp.dilation[axis] = dilation[a];
    if (padding.mode == PaddingMode::sizes) {
      sp.pad_before[axis] = sp.pad_after[axis] = padding.size[a];
    } else if (padding.mode == PaddingMode::same) {
      TG_CHECK(stride[a] == 1, op, "input " + shape_str(input) + ", weight " + shape_str(weight) +
                                       ": padding \"same\" needs stride 1, got " + std::to_string(stride[a]));
      const std::size_t total = dilation[a] * (sp.kernel[axis] - (sp.kernel[axis] > 0 ? 1 : 0));
      sp.pad_before[axis] = total / 2;
      sp.pad_after[axis] = total - total / 2;
    }
  }
  return sp;
}

/// The geometry of the convolution whose input gradient conv_transpose(input, weight) is:
/// the transpose's input is that convolution's output, its output the convolution's input.
template <std::size_t N>
ConvShape transpose_shape(const char* op, const Shape& input, const Shape& weight, const SpatialSize<N>& stride,
                          const SpatialSize<N>& padding, const SpatialSize<N>& output_padding, const SpatialSize<N>& dilation,
                          std::size_t groups) {
  const std::string shapes = describe("input", input) + ", weight " + shape_str(weight);
  TG_CHECK(input.size() == N + 2, op, shapes + ": the input must be [N, C" + (N == 2 ? ", H, W]" : ", L]"));
  TG_CHECK(weight.size() == N + 2, op, shapes + ": the weight must be [C, O/groups" + (N == 2 ? ", kH, kW]" : ", K]"));
  TG_CHECK(groups > 0, op, shapes + ": groups must be positive");
  TG_CHECK(input[1] % groups == 0, op,
           shapes + ": " + std::to_string(input[1]) + " input channels are not divisible by groups " + std::to_string(groups));
  TG_CHECK(weight[0] == input[1], op,
           shapes + ": the weight's first axis " + std::to_string(weight[0]) + " must equal the input channels " + std::to_string(input[1]));
  Shape conv_input{input[0], weight[1] * groups};
  for (std::size_t a = 0; a < N; ++a) {
    TG_CHECK(stride[a] > 0 && dilation[a] > 0, op, shapes + ": stride and dilation must be positive");
    TG_CHECK(output_padding[a] < stride[a] || output_padding[a] < dilation[a], op,
             shapes + ": output_padding " + std::to_string(output_padding[a]) + " must be smaller than the stride " +
                 std::to_string(stride[a]) + " or the dilation " + std::to_string(dilation[a]));
    const std::size_t k = weight[2 + a];
    TG_CHECK(input[2 + a] > 0 && k > 0, op, shapes + ": the output would be empty along axis " + std::to_string(2 + a));
    // (input - 1) stride + dilation (k - 1) + output_padding + 1 - 2 padding, each step checked
    std::size_t grown = 0, span = 0, full = 0, pads = 0;
    const bool overflow = __builtin_mul_overflow(input[2 + a] - 1, stride[a], &grown) ||
                          __builtin_mul_overflow(dilation[a], k - 1, &span) || __builtin_add_overflow(grown, span, &full) ||
                          __builtin_add_overflow(full, output_padding[a] + 1, &full) ||
                          __builtin_mul_overflow(padding[a], std::size_t{2}, &pads) || full > (std::size_t{1} << 62);
    TG_CHECK(!overflow, op,
             shapes + ": stride " + std::to_string(stride[a]) + ", dilation " + std::to_string(dilation[a]) + " and padding " +
                 std::to_string(padding[a]) + " overflow the output size along axis " + std::to_string(2 + a));
    TG_CHECK(full > pads, op,
             shapes + ": the output would be empty along axis " + std::to_string(2 + a) + " (padding " + std::to_string(padding[a]) + ")");
    conv_input.push_back(full - pads);
  }
  check_output_size(op, shapes, conv_input, Shape{});
  Spatial sp;
  for (std::size_t a = 0; a < N; ++a) {
    const std::size_t axis = 2 - N + a;
    sp.kernel[axis] = weight[2 + a];
    sp.stride[axis] = stride[a];
    sp.dilation[axis] = dilation[a];
    sp.pad_before[axis] = sp.pad_after[axis] = padding[a];
  }
  // the convolution maps conv_input [N, C_out, ...] to [N, C_in, ...] with the same weight
  ConvShape s = conv_shape(op, conv_input, weight, N, groups, sp);
  // output_padding adds positions after the last window: the window count is the transpose's input size
  s.patches.out_w = input.back();
  if (N == 2) s.patches.out_h = input[2];
  s.output_shape = input;
  return s;
}

kernels::PatchGeometry unfold_geometry(const char* op, const std::string& shapes, std::size_t batch, std::size_t channels,
                                       std::size_t H, std::size_t W, const UnfoldOptions& o) {
  Spatial sp;
  for (int a = 0; a < 2; ++a) {
    sp.kernel[a] = o.kernel_size[a];
    sp.stride[a] = o.stride[a];
    sp.dilation[a] = o.dilation[a];
    sp.pad_before[a] = sp.pad_after[a] = o.padding[a];
    TG_CHECK(sp.kernel[a] > 0 && sp.stride[a] > 0 && sp.dilation[a] > 0, op,
             shapes + ": kernel_size, stride and dilation must be positive");
  }
  const std::size_t Ho = conv_out_size(op, shapes, H, sp, 0), Wo = conv_out_size(op, shapes, W, sp, 1);
  check_output_size(op, shapes, Shape{batch, channels, H, W}, Shape{batch, channels, sp.kernel[0], sp.kernel[1], Ho, Wo});
  return {channels, H, W, sp.kernel[0], sp.kernel[1], sp.stride[0], sp.stride[1], sp.pad_before[0], sp.pad_before[1],
          sp.dilation[0], sp.dilation[1], Ho, Wo};
}

/// unfold/fold of a batch: per sample im2col (or col2im) between [C, H, W] and [C k, L].
template <class T>
Variable<T> unfold_batch(const Variable<T>& x, const kernels::PatchGeometry& p, std::size_t batch);
template <class T>
Variable<T> fold_batch(const Variable<T>& cols, const kernels::PatchGeometry& p, std::size_t batch) {
  xt::xarray<T> out = xt::zeros<T>(Shape{batch, p.channels, p.height, p.width});
  for (std::size_t n = 0; n < batch; ++n)
    kernels::col2im_add(p, cols.value().data() + n * p.rows() * p.positions(), out.data() + n * p.image_size());
  return make_op<T>("fold", std::move(out), {cols}, [p, batch](const GradContext<T>& c) -> Grads<T> {
    return {unfold_batch(c.grad, p, batch)};
  });
}
template <class T>
Variable<T> unfold_batch(const Variable<T>& x, const kernels::PatchGeometry& p, std::size_t batch) {
  xt::xarray<T> out = xt::empty<T>(Shape{batch, p.rows(), p.positions()});
  for (std::size_t n = 0; n < batch; ++n)
    kernels::im2col(p, x.value().data() + n * p.image_size(), out.data() + n * p.rows() * p.positions());
  return make_op<T>("unfold", std::move(out), {x}, [p, batch](const GradContext<T>& c) -> Grads<T> {
    return {fold_batch(c.grad, p, batch)};
  });
}

}  // namespace

template <class T>
Variable<T> conv1d(const Variable<T>& input, const Variable<T>& weight, const Variable<T>& bias, const Conv1dOptions& options) {
  const ConvShape s = conv_shape("conv1d", input.shape(), weight.shape(), 1, options.groups,
                                 conv_spatial<1>("conv1d", input.shape(), weight.shape(), options.stride, options.padding, options.dilation));
  check_bias("conv1d", bias, s.out_channels, input.shape(), weight.shape());
  return convolve(input, weight, bias, s, "conv1d");
}

template <class T>
Variable<T> conv2d(const Variable<T>& input, const Variable<T>& weight, const Variable<T>& bias, const Conv2dOptions& options) {
  const ConvShape s = conv_shape("conv2d", input.shape(), weight.shape(), 2, options.groups,
                                 conv_spatial<2>("conv2d", input.shape(), weight.shape(), options.stride, options.padding, options.dilation));
  check_bias("conv2d", bias, s.out_channels, input.shape(), weight.shape());
  return convolve(input, weight, bias, s, "conv2d");
}

template <class T>
Variable<T> conv_transpose1d(const Variable<T>& input, const Variable<T>& weight, const Variable<T>& bias,
                             const ConvTranspose1dOptions& o) {
  const ConvShape s = transpose_shape<1>("conv_transpose1d", input.shape(), weight.shape(), o.stride, o.padding, o.output_padding,
                                         o.dilation, o.groups);
  check_bias("conv_transpose1d", bias, s.input_shape[1], input.shape(), weight.shape());
  return conv_input_grad(input, weight, bias, s, "conv_transpose1d");
}

template <class T>
Variable<T> conv_transpose2d(const Variable<T>& input, const Variable<T>& weight, const Variable<T>& bias,
                             const ConvTranspose2dOptions& o) {
  const ConvShape s = transpose_shape<2>("conv_transpose2d", input.shape(), weight.shape(), o.stride, o.padding, o.output_padding,
                                         o.dilation, o.groups);
  check_bias("conv_transpose2d", bias, s.input_shape[1], input.shape(), weight.shape());
  return conv_input_grad(input, weight, bias, s, "conv_transpose2d");
}

template <class T>
Variable<T> unfold(const Variable<T>& input, const UnfoldOptions& options) {
  const Shape& in = input.shape();
  const std::string shapes = describe("input", in);
  TG_CHECK(in.size() == 4, "unfold", shapes + ": the input must be [N, C, H, W]");
  return unfold_batch(input, unfold_geometry("unfold", shapes, in[0], in[1], in[2], in[3], options), in[0]);
}

template <class T>
Variable<T> fold(const Variable<T>& input, const Size2& output_size, const UnfoldOptions& options) {
  const Shape& in = input.shape();
  const std::string shapes = describe("input", in) + ", output_size [" + std::to_string(output_size[0]) + "," +
                             std::to_string(output_size[1]) + "]";
  TG_CHECK(in.size() == 3, "fold", shapes + ": the input must be [N, C kH kW, L]");
  const std::size_t taps = options.kernel_size[0] * options.kernel_size[1];
  TG_CHECK(taps > 0 && in[1] % taps == 0, "fold",
           shapes + ": " + std::to_string(in[1]) + " rows are not a multiple of the kernel's " + std::to_string(taps) + " taps");
  const auto p = unfold_geometry("fold", shapes, in[0], in[1] / taps, output_size[0], output_size[1], options);
  TG_CHECK(in[2] == p.positions(), "fold",
           shapes + ": " + std::to_string(in[2]) + " columns, but the output size has " + std::to_string(p.positions()) + " patches");
  return fold_batch(input, p, in[0]);
}

TG_INSTANTIATE_OPS(conv1d, conv2d, conv_transpose1d, conv_transpose2d, unfold, fold)

}  // namespace tg
