#pragma once
// Convolutions over [N, C, L] (1-d) and [N, C, H, W] (2-d) inputs, as torch.nn.functional's:
// conv1d/conv2d (stride, padding by numbers or "same"/"valid", dilation, groups), their
// transposes, and unfold/fold (im2col/col2im). Each is im2col + one GEMM per batch chunk. The
// derivatives are convolutions again (conv's input gradient is conv_transpose, its weight
// gradient a GEMM of the gradient with the unfolded input), so all differentiate twice.
#include <array>
#include <cstddef>
#include <string_view>

#include "../core/variable.hpp"

namespace tg {

/// A size per spatial axis, given as one number for every axis or as {h, w}.
template <std::size_t N>
struct SpatialSize {
  std::array<std::size_t, N> v{};
  SpatialSize(std::size_t all = 0) { v.fill(all); }  // implicit: .stride = 2
  SpatialSize(std::size_t h, std::size_t w)
    requires(N == 2)
      : v{h, w} {}
  std::size_t operator[](std::size_t axis) const { return v[axis]; }
  bool operator==(const SpatialSize&) const = default;
};
using Size1 = SpatialSize<1>;
using Size2 = SpatialSize<2>;

enum class PaddingMode {
  sizes,  // the given number of zeros before and after each axis
  valid,  // no padding
  same,   // the output as large as the input (stride 1 only); an odd total puts the extra zero after, as PyTorch
};

/// A convolution's padding: zeros on both sides of each axis (one number or {h, w}), or
/// "valid" or "same".
template <std::size_t N>
struct ConvPadding {
  SpatialSize<N> size = 0;
  PaddingMode mode = PaddingMode::sizes;
  ConvPadding(std::size_t all = 0) : size(all) {}
  ConvPadding(std::size_t h, std::size_t w)
    requires(N == 2)
      : size(h, w) {}
  template <std::size_t M>  // a string literal, so that 0 stays a number
  ConvPadding(const char (&name)[M]) : mode(parse(name)) {}

 private:
  static PaddingMode parse(std::string_view name) {
    if (name == "same") return PaddingMode::same;
    if (name == "valid") return PaddingMode::valid;
    throw Error("conv: padding \"" + std::string(name) + "\" is neither \"same\" nor \"valid\" (or numbers)");
  }
};

struct Conv1dOptions {
  Size1 stride = 1;
  ConvPadding<1> padding = 0;
  Size1 dilation = 1;
  std::size_t groups = 1;  // channels split into groups convolved separately (groups = C: depthwise)
};
struct Conv2dOptions {
  Size2 stride = 1;
  ConvPadding<2> padding = 0;
  Size2 dilation = 1;
  std::size_t groups = 1;
};
struct ConvTranspose1dOptions {
  Size1 stride = 1;
  Size1 padding = 0;         // dilation * (kernel - 1) - padding zeros around the input, as PyTorch
  Size1 output_padding = 0;  // extra size on the end of the output (smaller than stride or dilation)
  std::size_t groups = 1;
  Size1 dilation = 1;
};
struct ConvTranspose2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;
  std::size_t groups = 1;
  Size2 dilation = 1;
};
struct UnfoldOptions {
  Size2 kernel_size = 1;
  Size2 dilation = 1;
  Size2 padding = 0;
  Size2 stride = 1;
};

/// y[n, o, l] = bias[o] + sum over c in o's group and taps k of weight[o, c, k] x[n, c, l*stride - pad + k*dilation]:
/// input [N, C, L], weight [O, C/groups, K], bias [O] or undefined; output [N, O, L_out].
template <class T>
Variable<T> conv1d(const Variable<T>& input, const Variable<T>& weight, const Variable<T>& bias = Variable<T>(),
                   const Conv1dOptions& options = {});
/// The same over two axes: input [N, C, H, W], weight [O, C/groups, kH, kW]; output [N, O, H_out, W_out],
/// H_out = (H + 2 pad - dilation (kH - 1) - 1) / stride + 1.
template <class T>
Variable<T> conv2d(const Variable<T>& input, const Variable<T>& weight, const Variable<T>& bias = Variable<T>(),
                   const Conv2dOptions& options = {});
/// The adjoint of conv1d in its input (the gradient of conv1d, a "deconvolution"): input [N, C, L],
/// weight [C, O/groups, K], output [N, O, (L - 1) stride - 2 pad + dilation (K - 1) + output_padding + 1].
template <class T>
Variable<T> conv_transpose1d(const Variable<T>& input, const Variable<T>& weight, const Variable<T>& bias = Variable<T>(),
                             const ConvTranspose1dOptions& options = {});
/// The same over two axes: input [N, C, H, W], weight [C, O/groups, kH, kW].
template <class T>
Variable<T> conv_transpose2d(const Variable<T>& input, const Variable<T>& weight, const Variable<T>& bias = Variable<T>(),
                             const ConvTranspose2dOptions& options = {});
/// im2col: the sliding kH x kW patches of [N, C, H, W] as columns, [N, C kH kW, L] (L patches,
/// row c kH kW + i kW + j holding tap (i, j) of channel c); gradient: fold.
template <class T>
Variable<T> unfold(const Variable<T>& input, const UnfoldOptions& options);
/// col2im, the adjoint of unfold: sums the columns [N, C kH kW, L] back into [N, C, H, W] of
/// output_size {H, W} (overlapping taps add up); gradient: unfold.
template <class T>
Variable<T> fold(const Variable<T>& input, const Size2& output_size, const UnfoldOptions& options);

}  // namespace tg
