// Convolutions as im2col + GEMM. Three primitives share one geometry (ConvShape): the
// convolution, its adjoint in the input (conv_transpose) and its adjoint in the weight; each
// one's derivative is written with the other two, so gradients of every order stay convolutions.
#include "conv.hpp"

#include <algorithm>
#include <vector>

#include "../detail/numel.hpp"
#include "../kernels/gemm.hpp"
#include "../kernels/im2col.hpp"
#include "reduce.hpp"
#include "ops.def"

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

/// Samples per chunk: as many as keep the chunk's column matrix within 256 Ki elements (one GEMM
/// per chunk and group instead of one per sample), at least one. A compromise measured on W4
/// (shared/BENCHMARKS.md): smaller chunks stay in L2 and cost the least CPU time (4 Mi-element
/// chunks took 25 % more), larger ones make fewer, bigger GEMMs whose two OpenBLAS threads meet
/// less often (one sample per GEMM was 20-40 % slower in wall time with 2 threads).
constexpr std::size_t chunk_elements = std::size_t(1) << 18;
std::size_t chunk_samples(const ConvShape& s) {
  const std::size_t per_sample = std::max<std::size_t>(s.patches.rows() * s.patches.positions(), 1);
  return std::clamp<std::size_t>(chunk_elements / per_sample, 1, std::max<std::size_t>(s.batch, 1));
}

/// Per-thread scratch reused across calls, so steady-state training allocates no column
/// buffers (a fresh multi-megabyte buffer per call costs page faults every step).
template <class T>
T* scratch(std::size_t slot, std::size_t size) {
  thread_local std::vector<T> buffers[2];
  auto& b = buffers[slot];
  if (b.size() < size) b.resize(size);
  return b.data();
}

/// The column matrix of samples [n0, n0 + count) of x: [rows, count * positions], sample j's
/// columns at j * positions.
template <class T>
void im2col_chunk(const ConvShape& s, const T* x, std::size_t n0, std::size_t count, T* cols) {
  const auto& p = s.patches;
  const std::size_t L = p.positions();
  for (std::size_t j = 0; j < count; ++j) kernels::im2col(p, x + (n0 + j) * p.image_size(), cols + j * L, count * L);
}

/// out = conv(x, w) + bias: per chunk and group, one GEMM [O/g, rows/g] x [rows/g, count L].
template <class T>
xt::xarray<T> convolve_value(const ConvShape& s, const T* x, const T* w, const T* bias) {
  xt::xarray<T> out = xt::empty<T>(s.output_shape);
  const auto& p = s.patches;
  const std::size_t L = p.positions(), G = s.groups, rows = s.group_rows(), og = s.group_out();
  const std::size_t chunk = chunk_samples(s);
  const bool identity = p.is_identity();
  for (std::size_t n0 = 0; n0 < s.batch; n0 += chunk) {
    const std::size_t count = std::min(chunk, s.batch - n0);
    if (identity) {  // 1x1: the image is its own column matrix, one GEMM per sample
      for (std::size_t j = 0; j < count; ++j)
        for (std::size_t g = 0; g < G; ++g)
          kernels::gemm(false, false, og, L, rows, w + g * og * rows, x + (n0 + j) * p.image_size() + g * rows * L,
                        out.data() + (n0 + j) * s.output_image_size() + g * og * L);
    } else {
      T* cols = scratch<T>(0, p.rows() * count * L);
      im2col_chunk(s, x, n0, count, cols);
      const std::size_t ld = count * L;
      if (count == 1) {
        for (std::size_t g = 0; g < G; ++g)
          kernels::gemm(false, false, og, L, rows, T(1), w + g * og * rows, rows, cols + g * rows * L, L, T(0),
                        out.data() + n0 * s.output_image_size() + g * og * L, L);
      } else {
        // [O, count L] product, then each sample's [O, L] block moved to its place in NCHW
        T* product = scratch<T>(1, s.out_channels * ld);
        for (std::size_t g = 0; g < G; ++g)
          kernels::gemm(false, false, og, ld, rows, T(1), w + g * og * rows, rows, cols + g * rows * ld, ld, T(0),
                        product + g * og * ld, ld);
        for (std::size_t j = 0; j < count; ++j)
          for (std::size_t o = 0; o < s.out_channels; ++o)
            std::copy_n(product + o * ld + j * L, L, out.data() + (n0 + j) * s.output_image_size() + o * L);
      }
    }
  }
  if (bias) {
    T* po = out.data();
    for (std::size_t n = 0; n < s.batch; ++n)
      for (std::size_t o = 0; o < s.out_channels; ++o, po += L) {
        const T b = bias[o];
        for (std::size_t l = 0; l < L; ++l) po[l] += b;
      }
  }
  return out;
}

/// The gradient's samples [n0, n0 + count) laid out as [O, count L]: sample j's [O, L] block at
/// column j L (the layout of a chunk's GEMM).
template <class T>
void gather_chunk(const ConvShape& s, const T* grad, std::size_t n0, std::size_t count, T* out) {
  const std::size_t L = s.patches.positions(), ld = count * L;
  for (std::size_t j = 0; j < count; ++j)
    for (std::size_t o = 0; o < s.out_channels; ++o)
      std::copy_n(grad + (n0 + j) * s.output_image_size() + o * L, L, out + o * ld + j * L);
}

/// The adjoint of convolve in x (conv_transpose): per chunk and group, cols = W_g^T g_g (one GEMM),
/// then col2im per sample; plus bias per input channel.
template <class T>
xt::xarray<T> input_grad_value(const ConvShape& s, const T* grad, const T* w, const T* bias) {
  xt::xarray<T> out = xt::zeros<T>(s.input_shape);
  const auto& p = s.patches;
  const std::size_t L = p.positions(), G = s.groups, rows = s.group_rows(), og = s.group_out();
  const std::size_t chunk = chunk_samples(s);
  for (std::size_t n0 = 0; n0 < s.batch; n0 += chunk) {
    const std::size_t count = std::min(chunk, s.batch - n0), ld = count * L;
    if (p.is_identity()) {  // 1x1: the columns are the image, one GEMM per sample straight into it
      for (std::size_t j = 0; j < count; ++j)
        for (std::size_t g = 0; g < G; ++g)
          kernels::gemm(true, false, rows, L, og, w + g * og * rows, grad + (n0 + j) * s.output_image_size() + g * og * L,
                        out.data() + (n0 + j) * p.image_size() + g * rows * L);
      continue;
    }
    const T* gc = grad + n0 * s.output_image_size();
    if (count > 1) {
      T* gathered = scratch<T>(1, s.out_channels * ld);
      gather_chunk(s, grad, n0, count, gathered);
      gc = gathered;
    }
    T* cols = scratch<T>(0, p.rows() * ld);
    for (std::size_t g = 0; g < G; ++g)
      kernels::gemm(true, false, rows, ld, og, T(1), w + g * og * rows, rows, gc + g * og * ld, ld, T(0), cols + g * rows * ld, ld);
    for (std::size_t j = 0; j < count; ++j) kernels::col2im_add(p, cols + j * L, out.data() + (n0 + j) * p.image_size(), ld);
  }
  if (bias) {
    const std::size_t plane = p.height * p.width;
    T* po = out.data();
    for (std::size_t n = 0; n < s.batch; ++n)
      for (std::size_t c = 0; c < p.channels; ++c, po += plane) {
        const T b = bias[c];
        for (std::size_t i = 0; i < plane; ++i) po[i] += b;
      }
  }
  return out;
}

/// The adjoint of convolve in w: dW_g = sum over samples of g_g cols_g^T, one GEMM per chunk
/// and group with the gradient's chunk laid out as [O, count L].
template <class T>
xt::xarray<T> weight_grad_value(const ConvShape& s, const T* x, const T* grad) {
  xt::xarray<T> out = xt::zeros<T>(s.weight_shape);
  const auto& p = s.patches;
  const std::size_t L = p.positions(), G = s.groups, rows = s.group_rows(), og = s.group_out();
  const std::size_t chunk = chunk_samples(s);
  for (std::size_t n0 = 0; n0 < s.batch; n0 += chunk) {
    const std::size_t count = std::min(chunk, s.batch - n0);
    const std::size_t ld = count * L;
    const T* cols;
    const T* gc;
    if (count == 1) {
      gc = grad + n0 * s.output_image_size();
      if (p.is_identity()) {
        cols = x + n0 * p.image_size();
      } else {
        T* buffer = scratch<T>(0, p.rows() * L);
        kernels::im2col(p, x + n0 * p.image_size(), buffer);
        cols = buffer;
      }
    } else {
      T* buffer = scratch<T>(0, p.rows() * ld);
      im2col_chunk(s, x, n0, count, buffer);
      cols = buffer;
      T* gathered = scratch<T>(1, s.out_channels * ld);
      gather_chunk(s, grad, n0, count, gathered);
      gc = gathered;
    }
    for (std::size_t g = 0; g < G; ++g)
      kernels::gemm(false, true, og, rows, ld, T(1), gc + g * og * ld, ld, cols + g * rows * ld, ld, n0 == 0 ? T(0) : T(1),
                    out.data() + g * og * rows, rows);
  }
  return out;
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

/// conv(x, w) (+ bias). d/dx = conv_input_grad(g, w), d/dw = conv_weight_grad(x, g), d/dbias = sum of g per channel.
template <class T>
Variable<T> convolve(const Variable<T>& x, const Variable<T>& w, const Variable<T>& bias, const ConvShape& s, const char* op) {
  auto value = convolve_value(s, x.value().data(), w.value().data(), bias.defined() ? bias.value().data() : nullptr);
  auto derivative = [s, op](const GradContext<T>& c) -> Grads<T> {
    Grads<T> grads{c.needs(0) ? conv_input_grad(c.grad, c.in[1], s, op) : Variable<T>(),
                   c.needs(1) ? conv_weight_grad(c.in[0], c.grad, s) : Variable<T>()};
    if (c.in.size() == 3) grads.push_back(c.needs(2) ? channel_sum(c.grad) : Variable<T>());
    return grads;
  };
  if (bias.defined()) return make_op<T>(op, std::move(value), {x, w, bias}, derivative);
  return make_op<T>(op, std::move(value), {x, w}, derivative);
}

/// conv's adjoint in its input (conv_transpose) (+ bias per input channel). Linear in both:
/// <conv_input_grad(g, w), V> = <g, conv(V, w)>, so d/dg = conv(V, w) and d/dw = conv_weight_grad(V, g).
template <class T>
Variable<T> conv_input_grad(const Variable<T>& grad, const Variable<T>& w, const Variable<T>& bias, const ConvShape& s,
                            const char* op) {
  auto value = input_grad_value(s, grad.value().data(), w.value().data(), bias.defined() ? bias.value().data() : nullptr);
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
  return make_op<T>("conv_weight_grad", weight_grad_value(s, x.value().data(), grad.value().data()), {x, grad},
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

TG_INSTANTIATE_OPS(TG_CONV_OPS)

}  // namespace tg
