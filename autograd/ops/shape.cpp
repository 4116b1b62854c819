// Shape ops that rearrange or broadcast: reshape, expand/sum_to, permute and friends.
// (Selection ops — narrow, gather, concat, ... — are in select.cpp.)
#include "shape.hpp"

#include <algorithm>
#include <numeric>

#include <xtensor/xmanipulation.hpp>

#include "../core/axes.hpp"
#include "../kernels/loops.hpp"
#include "instantiate.hpp"
#include "detail/derivatives.hpp"

namespace tg {

namespace {
std::size_t count(const Shape& s) {
  return std::accumulate(s.begin(), s.end(), std::size_t(1), std::multiplies<>());
}

/// The same numbers under another shape (a copy: xarray values own their storage).
template <class T>
xt::xarray<T> reshaped(const xt::xarray<T>& x, const Shape& shape) {
  xt::xarray<T> out = detail::empty_array<T>(shape);
  std::copy(x.data(), x.data() + x.size(), out.data());
  return out;
}

/// Reshape to an exact shape (shared by reshape and the ops built on it): always a new node,
/// also to the same shape; its derivative reshapes g back, or passes it through when the
/// shapes agree.
template <class T>
Variable<T> reshape_to(const Variable<T>& x, const Shape& shape) {
  return make_op<T>("reshape", reshaped(x.value(), shape), {x}, [](const GradContext<T>& c) -> Grads<T> {
    const Shape& back = c.in[0].shape();
    return {c.grad.shape() == back ? c.grad : reshape_to(c.grad, back)};
  });
}
}  // namespace

template <class T>
Variable<T> reshape(const Variable<T>& x, const std::vector<std::int64_t>& shape) {
  Shape target(shape.size());
  int inferred = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      TG_CHECK(inferred < 0, "reshape",
               "cannot reshape " + shape_str(x.shape()) + " to " + axes_str(shape) + ": only one size may be -1");
      inferred = static_cast<int>(i);
      target[i] = 1;  // counted as 1 in the known product
    } else {
      TG_CHECK(shape[i] >= 0, "reshape",
               "cannot reshape " + shape_str(x.shape()) + " to " + axes_str(shape) + ": negative size");
      target[i] = static_cast<std::size_t>(shape[i]);
    }
  }
  const auto product = detail::checked_numel(target);
  TG_CHECK(product.has_value(), "reshape",
           "cannot reshape " + shape_str(x.shape()) + " to " + axes_str(shape) + ": the sizes multiply past 2^63 (xtensor's signed strides)");
  const std::size_t known = *product;
  if (inferred >= 0) {
    TG_CHECK(known != 0 && x.numel() % known == 0, "reshape",
             "cannot reshape " + shape_str(x.shape()) + " (" + std::to_string(x.numel()) + " elements) to " +
                 axes_str(shape));
    target[inferred] = x.numel() / known;
  }
  TG_CHECK(count(target) == x.numel(), "reshape",
           "cannot reshape " + shape_str(x.shape()) + " (" + std::to_string(x.numel()) + " elements) to " +
               axes_str(shape) + " (" + std::to_string(count(target)) + " elements)");
  return reshape_to(x, target);
}

template <class T>
Variable<T> expand(const Variable<T>& x, const Shape& shape) {
  TG_CHECK(x.dim() <= shape.size() && broadcast_shapes("expand", x.shape(), shape) == shape, "expand",
           "cannot broadcast " + shape_str(x.shape()) + " to " + shape_str(shape));
  TG_CHECK(detail::checked_numel(shape).has_value(), "expand",
           "cannot broadcast " + shape_str(x.shape()) + " to " + shape_str(shape) + ": the sizes multiply past 2^63 (xtensor's signed strides)");
  if (x.shape() == shape) return copy_op("expand", x);
  return make_op<T>("expand", kernels::broadcast_to(x.value(), shape), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {sum_to(c.grad, c.in[0].shape())}; });
}

template <class T>
Variable<T> sum_to(const Variable<T>& x, const Shape& shape) {
  if (x.shape() == shape) return copy_op("sum_to", x);
  TG_CHECK(shape.size() <= x.dim() && broadcast_shapes("sum_to", shape, x.shape()) == x.shape(), "sum_to",
           "cannot sum " + shape_str(x.shape()) + " down to " + shape_str(shape) + " (it does not broadcast to it)");
  const std::size_t lead = x.dim() - shape.size();
  std::vector<std::size_t> axes;
  for (std::size_t i = 0; i < x.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) axes.push_back(i);
  xt::xarray<T> summed = kernels::sum(x.value(), axes, true);
  return make_op<T>("sum_to", reshaped(summed, shape), {x},
                    [](const GradContext<T>& c) -> Grads<T> { return {expand(c.grad, c.in[0].shape())}; });
}

namespace {
/// x with its axes in the order perm, as blocked copies. Output axes that stay neighbours in x
/// are merged first, so [B,L,H,E] -> [B,H,L,E] is a walk over runs of E contiguous numbers;
/// when the output's last axis is strided in x, each 2-D slab (the axis contiguous in x by the
/// output's last axis) is copied in 16x16 tiles, so reads and writes both stay in cache lines.
/// (A materialised xt::transpose steps through strided indices one element at a time.)
template <class T>
xt::xarray<T> permuted(const xt::xarray<T>& x, const std::vector<std::size_t>& perm) {
  const std::size_t nd = perm.size();
  Shape out_shape(nd);
  std::vector<std::size_t> in_stride(x.dimension());
  for (std::size_t i = x.dimension(), st = 1; i-- > 0; st *= x.shape()[i]) in_stride[i] = st;
  for (std::size_t i = 0; i < nd; ++i) out_shape[i] = x.shape()[perm[i]];
  xt::xarray<T> out = xt::empty<T>(out_shape);
  if (out.size() == 0) return out;
  // merged output axes (size, stride in x), size-1 axes dropped
  std::vector<std::size_t> size, stride;
  for (std::size_t i = 0; i < nd; ++i) {
    const std::size_t n = out_shape[i], st = in_stride[perm[i]];
    if (n == 1) continue;
    if (!size.empty() && stride.back() == st * n) {
      size.back() *= n;
      stride.back() = st;
    } else {
      size.push_back(n);
      stride.push_back(st);
    }
  }
  const T* src = x.data();
  T* dst = out.data();
  if (size.empty()) {
    dst[0] = src[0];
    return out;
  }
  const std::size_t m = size.size();
  std::vector<std::size_t> out_stride(m);
  for (std::size_t i = m, st = 1; i-- > 0; st *= size[i]) out_stride[i] = st;
  if (stride[m - 1] == 1) {  // the last axis stays contiguous: copy runs
    const std::size_t run = size[m - 1], rows = out.size() / run;
    kernels::Odometer<1> walk({size.data(), m - 1}, {{{stride.data(), m - 1}}});
    for (std::size_t r = 0; r < rows; ++r, walk.next()) std::copy_n(src + walk.offset(0), run, dst + r * run);
    return out;
  }
  // the axis j contiguous in x (stride 1) and the output's last axis form 2-D slabs
  const std::size_t j = static_cast<std::size_t>(std::find(stride.begin(), stride.end(), 1) - stride.begin());
  const std::size_t rows = size[j], cols = size[m - 1];
  const std::size_t col_step = stride[m - 1], row_step = out_stride[j];
  std::vector<std::size_t> outer_size, outer_in, outer_out;
  for (std::size_t i = 0; i + 1 < m; ++i)
    if (i != j) outer_size.push_back(size[i]), outer_in.push_back(stride[i]), outer_out.push_back(out_stride[i]);
  const std::size_t slabs = out.size() / (rows * cols);
  kernels::Odometer<2> walk({outer_size.data(), outer_size.size()}, {{outer_in, outer_out}});
  constexpr std::size_t B = 16;
  for (std::size_t s = 0; s < slabs; ++s, walk.next()) {
    const T* in = src + walk.offset(0);
    T* o = dst + walk.offset(1);
    for (std::size_t i0 = 0; i0 < rows; i0 += B)
      for (std::size_t c0 = 0; c0 < cols; c0 += B)
        for (std::size_t i = i0; i < std::min(i0 + B, rows); ++i)
          for (std::size_t c = c0; c < std::min(c0 + B, cols); ++c) o[i * row_step + c] = in[i + c * col_step];
  }
  return out;
}
}  // namespace

template <class T>
Variable<T> permute(const Variable<T>& x, const Axes& axes) {
  TG_CHECK(axes.size() == x.dim(), "permute",
           "axes " + axes_str(axes) + " do not list the " + std::to_string(x.dim()) + " axes of " + shape_str(x.shape()));
  std::vector<std::size_t> perm(axes.size());
  std::vector<bool> seen(axes.size(), false);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    perm[i] = normalize_axis("permute", axes[i], x.shape());
    TG_CHECK(!seen[perm[i]], "permute", "axes " + axes_str(axes) + " name an axis of " + shape_str(x.shape()) + " twice");
    seen[perm[i]] = true;
  }
  bool identity = true;
  for (std::size_t i = 0; i < perm.size(); ++i) identity = identity && perm[i] == i;
  if (identity) return copy_op("permute", x);
  Axes inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<std::int64_t>(i);
  return make_op<T>("permute", permuted(x.value(), perm), {x},
                    [inverse](const GradContext<T>& c) -> Grads<T> { return {permute(c.grad, inverse)}; });
}

template <class T>
Variable<T> transpose(const Variable<T>& x, std::int64_t axis0, std::int64_t axis1) {
  TG_CHECK(x.dim() >= 2 || (axis0 == -2 && axis1 == -1 && x.dim() < 2), "transpose",
           "axes " + std::to_string(axis0) + " and " + std::to_string(axis1) + " for a tensor of shape " +
               shape_str(x.shape()));
  // as torch.t(): vectors and scalars are their own transpose (a new node all the same)
  if (x.dim() < 2) return copy_op("transpose", x);
  const std::size_t a = normalize_axis("transpose", axis0, x.shape());
  const std::size_t b = normalize_axis("transpose", axis1, x.shape());
  Axes perm(x.dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[a], perm[b]);
  return permute(x, perm);
}

template <class T>
Variable<T> flatten(const Variable<T>& x, std::int64_t start, std::int64_t end) {
  if (x.dim() == 0) return reshape_to(x, Shape{1});
  const std::size_t s = normalize_axis("flatten", start, x.shape());
  const std::size_t e = normalize_axis("flatten", end, x.shape());
  TG_CHECK(s <= e, "flatten",
           "start axis " + std::to_string(start) + " comes after end axis " + std::to_string(end) + " of " +
               shape_str(x.shape()));
  Shape shape;
  for (std::size_t i = 0; i < s; ++i) shape.push_back(x.shape()[i]);
  // checked: an empty tensor's other sizes may be anything, and their product may not fit
  const auto merged = detail::checked_numel(Shape(x.shape().begin() + s, x.shape().begin() + e + 1));
  TG_CHECK(merged.has_value(), "flatten",
           "axes " + std::to_string(start) + " to " + std::to_string(end) + " of " + shape_str(x.shape()) +
               " multiply past 2^63 (xtensor's signed strides)");
  shape.push_back(*merged);
  for (std::size_t i = e + 1; i < x.dim(); ++i) shape.push_back(x.shape()[i]);
  return reshape_to(x, shape);
}

template <class T>
Variable<T> squeeze(const Variable<T>& x, const Axes& axes) {
  std::vector<bool> drop(x.dim(), false);
  if (axes.empty()) {
    for (std::size_t i = 0; i < x.dim(); ++i) drop[i] = x.shape()[i] == 1;
  } else {
    for (const std::size_t i : normalize_axes("squeeze", axes, x.shape())) {  // refuses duplicates too
      TG_CHECK(x.shape()[i] == 1, "squeeze",
               "axis " + std::to_string(i) + " of " + shape_str(x.shape()) + " has size " + std::to_string(x.shape()[i]) +
                   ", not 1");
      drop[i] = true;
    }
  }
  Shape shape;
  for (std::size_t i = 0; i < x.dim(); ++i)
    if (!drop[i]) shape.push_back(x.shape()[i]);
  return reshape_to(x, shape);
}

template <class T>
Variable<T> unsqueeze(const Variable<T>& x, std::int64_t axis) {
  const std::size_t a = normalize_axis("unsqueeze", axis, x.shape(), x.dim() + 1);
  Shape shape;  // (built by push_back: svector::insert of a size-1 axis trips GCC 12's -Warray-bounds)
  for (std::size_t i = 0; i <= x.dim(); ++i) shape.push_back(i == a ? 1 : x.shape()[i - (i > a)]);
  return reshape_to(x, shape);
}

TG_INSTANTIATE_OPS(reshape, expand, sum_to, permute, transpose, flatten, squeeze, unsqueeze)

}  // namespace tg
