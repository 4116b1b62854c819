// The primitives of multi-head attention: per-head GEMMs on column blocks (leading dimensions,
// no copies), the masked softmax, and softmax's derivative as one pass.
#include "attention.hpp"

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <cmath>
#include <limits>
#include <vector>

#include "../kernels/gemm.hpp"
#include "../kernels/loops.hpp"
#include "../core/detail/parallel.hpp"
#include "../kernels/softmax_rows.hpp"
#include "reduce.hpp"
#include "shape.hpp"
#include "instantiate.hpp"
#include "detail/derivatives.hpp"

namespace tg {

namespace {

/// B, rows and D of a [B, rows, D] operand whose D splits into `heads` blocks, or of a
/// [rows, B, D] one (seq_first, PyTorch's default layout), and where its matrices lie: batch b's
/// row i starts at b * batch_stride + i * row_stride.
struct HeadView {
  std::size_t batch, rows, width, batch_stride, row_stride;
};

template <class T>
HeadView head_view(const char* op, const char* role, const Variable<T>& x, std::size_t heads, bool seq_first) {
  TG_CHECK(x.dim() == 3, op,
           std::string(role) + " " + shape_str(x.shape()) + " must be " + (seq_first ? "[length, batch, features]" : "[batch, length, features]"));
  TG_CHECK(heads > 0 && x.shape()[2] % heads == 0, op,
           std::string(role) + " " + shape_str(x.shape()) + ": its " + std::to_string(x.shape()[2]) +
               " features do not split into " + std::to_string(heads) + " heads");
  const std::size_t d = x.shape()[2];
  if (seq_first) return {x.shape()[1], x.shape()[0], d, d, x.shape()[1] * d};
  return {x.shape()[0], x.shape()[1], d, x.shape()[1] * d, d};
}

/// body(b, h) for every batch entry and head, spread over the library's threads, each GEMM on
/// the thread that runs it (a GEMM inside a parallel loop runs inline). One head's GEMM (128 x
/// 128 x 32 in W6) is below OpenBLAS's small-matrix threshold and so runs on one thread anyway:
/// spreading the heads is the only way these products use both cores. The sizes (leading dimensions included) are checked first,
/// since the bodies must not throw.
template <class Body>
void for_each_head(const char* op, std::size_t batch, std::size_t heads, std::initializer_list<std::size_t> gemm_sizes,
                   Body&& body) {
  const std::size_t largest = std::max(gemm_sizes);
  kernels::check_gemm_sizes(op, largest, largest, largest);
  detail::parallel_tasks(batch * heads, [&](std::size_t task) { body(task / heads, task % heads); });
}

/// Does nothing to a finished block of scores (head_scores).
struct KeepScores {
  template <class T>
  void operator()(std::size_t, std::size_t, T*) const {}
};

/// The scores of every head, each [L, S] block handed to finish(b, h, block) right after its
/// GEMM, on the same thread, while it is still in cache.
template <class T, class Finish = KeepScores>
xt::xarray<T> head_scores_value(const char* op, const Variable<T>& x, const Variable<T>& y, std::size_t heads, T scale,
                                bool seq_first, Finish finish = {}) {
  const HeadView vx = head_view(op, "x", x, heads, seq_first);
  const HeadView vy = head_view(op, "y", y, heads, seq_first);
  TG_CHECK(vx.batch == vy.batch && vx.width == vy.width, op,
           "x " + shape_str(x.shape()) + " and y " + shape_str(y.shape()) + " differ in batch or features");
  const std::size_t e = vx.width / heads, l = vx.rows, s = vy.rows;
  xt::xarray<T> out = xt::empty<T>(Shape{vx.batch, heads, l, s});
  if (out.size() == 0) return out;
  const T* px = x.value().data();
  const T* py = y.value().data();
  for_each_head(op, vx.batch, heads, {l, s, e, vx.row_stride, vy.row_stride}, [&](std::size_t b, std::size_t h) {
    T* block = out.data() + (b * heads + h) * l * s;
    if (e == 0) {
      std::fill_n(block, l * s, T(0));
    } else {
      // y_h^T copied to [e, s] first: OpenBLAS 0.3.21 takes x y^T (a row-major "nt" GEMM) down its
      // general path, packing both operands and zeroing the block before the kernel, but x y^T
      // with y^T given takes its small-matrix kernel, faster for one head's product even with
      // the copy (its 16 KB stays in this thread's cache).
      thread_local std::vector<T> y_transposed;
      y_transposed.resize(e * s);
      const T* yh = py + b * vy.batch_stride + h * e;
      for (std::size_t d = 0; d < e; ++d)
        for (std::size_t j = 0; j < s; ++j) y_transposed[d * s + j] = yh[j * vy.row_stride + d];
      kernels::gemm(false, false, l, s, e, scale, px + b * vx.batch_stride + h * e, vx.row_stride, y_transposed.data(), s, T(0),
                    block, s);
    }
    finish(b, h, block);
  });
  return out;
}

template <class T>
xt::xarray<T> head_mix_value(const Variable<T>& a, const Variable<T>& v, std::size_t heads, bool ta, T scale, bool seq_first) {
  const HeadView vv = head_view("head_mix", "v", v, heads, seq_first);
  TG_CHECK(a.dim() == 4 && a.shape()[0] == vv.batch && a.shape()[1] == heads, "head_mix",
           "weights " + shape_str(a.shape()) + " must be [batch " + std::to_string(vv.batch) + ", heads " +
               std::to_string(heads) + ", L, S] for values " + shape_str(v.shape()));
  const std::size_t r = a.shape()[2], c = a.shape()[3];
  const std::size_t l = ta ? c : r, s = ta ? r : c;
  TG_CHECK(s == vv.rows, "head_mix",
           "weights " + shape_str(a.shape()) + (ta ? "^T" : "") + " cover " + std::to_string(s) + " keys, values " +
               shape_str(v.shape()) + " hold " + std::to_string(vv.rows));
  const std::size_t d = vv.width, e = d / heads;
  xt::xarray<T> out = xt::empty<T>(seq_first ? Shape{l, vv.batch, d} : Shape{vv.batch, l, d});
  if (out.size() == 0) return out;
  if (s == 0) {
    std::fill(out.begin(), out.end(), T(0));
    return out;
  }
  const std::size_t out_batch_stride = seq_first ? d : l * d, out_row_stride = seq_first ? vv.batch * d : d;
  const T* pa = a.value().data();
  const T* pv = v.value().data();
  for_each_head("head_mix", vv.batch, heads, {l, e, s, c, vv.row_stride, out_row_stride}, [&](std::size_t b, std::size_t h) {
    kernels::gemm(ta, false, l, e, s, scale, pa + (b * heads + h) * r * c, c, pv + b * vv.batch_stride + h * e, vv.row_stride,
                  T(0), out.data() + b * out_batch_stride + h * e, out_row_stride);
  });
  return out;
}

}  // namespace

/// d/dx = scale g y (per head), d/dy = scale g^T x: both head_mix.
template <class T>
Variable<T> head_scores(const Variable<T>& x, const Variable<T>& y, std::size_t heads, Scalar<T> scale, bool seq_first) {
  return make_op<T>("head_scores", head_scores_value<T>("head_scores", x, y, heads, scale, seq_first), {x, y},
                    [heads, scale, seq_first](const GradContext<T>& c) -> Grads<T> {
                      Variable<T> gx, gy;
                      if (c.needs(0)) gx = head_mix(c.grad, c.in[1], heads, false, scale, seq_first);
                      if (c.needs(1)) gy = head_mix(c.grad, c.in[0], heads, true, scale, seq_first);
                      return {gx, gy};
                    });
}

/// With A = op(a): dA = scale g v^T (head_scores of g and v; of v and g for the transpose),
/// dv = scale A^T g (head_mix with the flag flipped).
template <class T>
Variable<T> head_mix(const Variable<T>& a, const Variable<T>& v, std::size_t heads, bool transpose_a, Scalar<T> scale,
                     bool seq_first) {
  return make_op<T>("head_mix", head_mix_value(a, v, heads, transpose_a, scale, seq_first), {a, v},
                    [heads, transpose_a, scale, seq_first](const GradContext<T>& c) -> Grads<T> {
                      Variable<T> ga, gv;
                      if (c.needs(0))
                        ga = transpose_a ? head_scores(c.in[1], c.grad, heads, scale, seq_first)
                                         : head_scores(c.grad, c.in[1], heads, scale, seq_first);
                      if (c.needs(1)) gv = head_mix(c.in[0], c.grad, heads, !transpose_a, scale, seq_first);
                      return {ga, gv};
                    });
}

template <class T>
Variable<T> attention_softmax(const Variable<T>& scores, const Variable<T>& mask) {
  TG_CHECK(scores.dim() >= 1, "attention_softmax", "scores " + shape_str(scores.shape()) + " need a last axis");
  const bool masked = mask.defined();
  if (masked)
    TG_CHECK(broadcastable_to(mask.shape(), scores.shape()), "attention_softmax",
             "mask " + shape_str(mask.shape()) + " does not broadcast to the scores " + shape_str(scores.shape()));
  xt::xarray<T> value = xt::empty<T>(scores.shape());
  const std::size_t n = scores.shape().back();
  if (n > 0 && value.size() > 0) {
    if (masked) {
      const xt::xarray<T> sum = kernels::map2<T>("attention_softmax", scores.value(), mask.value(), std::plus<T>());
      kernels::softmax_rows(sum.data(), value.data(), value.size() / n, n, true);
    } else {
      kernels::softmax_rows(scores.value().data(), value.data(), value.size() / n, n, true);
    }
  }
  auto derivative = [](const GradContext<T>& c) -> Grads<T> {
    Variable<T> g = softmax_backward(c.grad, c.out);
    if (c.in.size() == 1) return {g};
    return {g, c.needs(1) ? detail::sum_to_or_same(g, c.in[1].shape()) : Variable<T>()};
  };
  if (masked) return make_op<T>("attention_softmax", std::move(value), {scores, mask}, derivative);
  return make_op<T>("attention_softmax", std::move(value), {scores}, derivative);
}

/// ds = softmax_backward(g, out), then as head_scores: d/dx = scale ds y, d/dy = scale ds^T x
/// (head_mix), and d/dmask = ds summed to the mask's shape.
template <class T>
Variable<T> head_attention_weights(const Variable<T>& x, const Variable<T>& y, std::size_t heads, Scalar<T> scale,
                                   const Variable<T>& mask, bool seq_first) {
  const char* op = "head_attention_weights";
  const bool masked = mask.defined();
  std::vector<std::size_t> mask_strides;
  if (masked) {
    const HeadView vx = head_view(op, "x", x, heads, seq_first), vy = head_view(op, "y", y, heads, seq_first);
    const Shape scores{vx.batch, heads, vx.rows, vy.rows};
    TG_CHECK(broadcastable_to(mask.shape(), scores), op,
             "mask " + shape_str(mask.shape()) + " does not broadcast to the scores " + shape_str(scores));
    mask_strides = kernels::broadcast_strides(mask.shape(), scores);
  }
  const T* pm = masked ? mask.value().data() : nullptr;
  // the mask added and the softmax taken per block, right after the block's GEMM
  auto softmax_block = [&](std::size_t b, std::size_t h, T* block) {
    const std::size_t l = x.shape()[seq_first ? 0 : 1], s = y.shape()[seq_first ? 0 : 1];
    for (std::size_t i = 0; i < l; ++i) {
      T* row = block + i * s;
      if (masked) {
        const T* m = pm + b * mask_strides[0] + h * mask_strides[1] + i * mask_strides[2];
        const std::size_t step = mask_strides[3];
        for (std::size_t j = 0; j < s; ++j) row[j] += m[j * step];
      }
      if (s > 0) kernels::softmax_row(row, row, s, true);
    }
  };
  xt::xarray<T> value = head_scores_value<T>(op, x, y, heads, scale, seq_first, softmax_block);
  auto derivative = [heads, scale, seq_first](const GradContext<T>& c) -> Grads<T> {
    const Variable<T> ds = softmax_backward(c.grad, c.out);
    Grads<T> grads(c.in.size());
    if (c.needs(0)) grads[0] = head_mix(ds, c.in[1], heads, false, scale, seq_first);
    if (c.needs(1)) grads[1] = head_mix(ds, c.in[0], heads, true, scale, seq_first);
    if (c.in.size() == 3 && c.needs(2)) grads[2] = detail::sum_to_or_same(ds, c.in[2].shape());
    return grads;
  };
  if (masked) return make_op<T>(op, std::move(value), {x, y, mask}, std::move(derivative));
  return make_op<T>(op, std::move(value), {x, y}, std::move(derivative));
}

TG_INSTANTIATE_OPS(head_scores, head_mix, attention_softmax, head_attention_weights)

}  // namespace tg
