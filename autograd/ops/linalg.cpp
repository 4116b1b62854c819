// matmul: numpy.matmul semantics on top of cblas ?gemm, transposes as GEMM flags.
#include "linalg.hpp"

#include <algorithm>

#include "../kernels/gemm.hpp"
#include "../kernels/loops.hpp"
#include "shape.hpp"
#include "instantiate.hpp"
#include "detail/derivatives.hpp"

namespace tg {

namespace {

std::size_t product(const Shape& s, std::size_t from, std::size_t to) {
  std::size_t p = 1;
  for (std::size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

Shape leading(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

/// Value of op(a) @ op(b) for operands of rank >= 2 whose leading (batch) axes broadcast.
template <class T>
xt::xarray<T> matmul_value(const xt::xarray<T>& a, const xt::xarray<T>& b, bool ta, bool tb) {
  const std::size_t ra = a.dimension(), rb = b.dimension();
  const std::size_t m = ta ? a.shape()[ra - 1] : a.shape()[ra - 2];
  const std::size_t k = ta ? a.shape()[ra - 2] : a.shape()[ra - 1];
  const std::size_t kb = tb ? b.shape()[rb - 1] : b.shape()[rb - 2];
  const std::size_t n = tb ? b.shape()[rb - 2] : b.shape()[rb - 1];
  if (k != kb)
    throw Error("matmul: " + shape_str(a.shape()) + (ta ? "^T" : "") + " x " + shape_str(b.shape()) + (tb ? "^T" : "") +
                ": inner sizes " + std::to_string(k) + " and " + std::to_string(kb) + " differ");
  if (rb == 2 && !ta) {  // a stack of matrices times one matrix: a single GEMM over all rows
    Shape shape(a.shape().begin(), a.shape().end() - 1);
    shape.push_back(n);
    xt::xarray<T> out = detail::empty_array<T>(shape);
    const std::size_t rows = product(a.shape(), 0, ra - 1);
    if (out.size() > 0 && k > 0) kernels::gemm(false, tb, rows, n, k, a.data(), b.data(), out.data());
    else std::fill(out.begin(), out.end(), T(0));
    return out;
  }
  const Shape batch = broadcast_shapes("matmul", leading(a.shape()), leading(b.shape()));
  Shape shape = batch;
  shape.push_back(m);
  shape.push_back(n);
  xt::xarray<T> out = detail::empty_array<T>(shape);
  if (out.size() == 0) return out;
  if (k == 0) {
    std::fill(out.begin(), out.end(), T(0));
    return out;
  }
  // Walk the batch with broadcast strides (in matrices) for a and b.
  const std::size_t nb = batch.size();
  const auto sa = kernels::broadcast_strides(leading(a.shape()), batch);
  const auto sb = kernels::broadcast_strides(leading(b.shape()), batch);
  const std::size_t count = product(batch, 0, nb);
  const std::size_t size_a = m * k, size_b = k * n, size_c = m * n;
  kernels::Odometer<2> walk({batch.data(), nb}, {{sa, sb}});
  for (std::size_t i = 0; i < count; ++i, walk.next())
    kernels::gemm(ta, tb, m, n, k, a.data() + walk.offset(0) * size_a, b.data() + walk.offset(1) * size_b,
                  out.data() + i * size_c);
  return out;
}

template <class T>
Variable<T> matmul_nd(const Variable<T>& a, const Variable<T>& b, bool ta, bool tb);

/// a^T b with every leading axis folded into the rows: a [..., m] and b [..., n] of one leading
/// shape (rank >= 2) give [m, n], one GEMM reading both in place (a reshape to [rows, m] would
/// copy). The weight gradient of linear and of a stack of matrices times one matrix.
/// d/da = b g^T, d/db = a g: each a stack times one matrix.
template <class T>
Variable<T> folded_matmul(const Variable<T>& a, const Variable<T>& b) {
  const std::size_t m = a.shape().back(), n = b.shape().back(), rows = product(a.shape(), 0, a.dim() - 1);
  xt::xarray<T> out = detail::empty_array<T>(Shape{m, n});
  if (out.size() > 0 && rows > 0) kernels::gemm(true, false, m, n, rows, a.value().data(), b.value().data(), out.data());
  else std::fill(out.begin(), out.end(), T(0));
  return make_op<T>("matmul", std::move(out), {a, b}, [](const GradContext<T>& c) -> Grads<T> {
    Variable<T> ga, gb;
    if (c.needs(0)) ga = matmul_nd(c.in[1], c.grad, false, true);
    if (c.needs(1)) gb = matmul_nd(c.in[0], c.grad, false, false);
    return {ga, gb};
  });
}

/// op(a) @ op(b) for rank >= 2. Derivatives (A = op(a), B = op(b), G = dL/dC):
///   dL/dA = G B^T,  dL/dB = A^T G, each expressed as another flagged matmul of the stored
///   operands, then summed over broadcast batch axes.
template <class T>
Variable<T> matmul_nd(const Variable<T>& a, const Variable<T>& b, bool ta, bool tb) {
  return make_op<T>("matmul", matmul_value(a.value(), b.value(), ta, tb), {a, b}, [ta, tb](const GradContext<T>& c) -> Grads<T> {
    const auto& a = c.in[0];
    const auto& b = c.in[1];
    const auto& g = c.grad;
    Variable<T> ga, gb;
    if (c.needs(0)) ga = detail::sum_to_or_same(ta ? matmul_nd(b, g, tb, true) : matmul_nd(g, b, false, !tb), a.shape());
    if (c.needs(1)) {
      if (b.dim() == 2 && a.dim() > 2 && !ta) {
        // fold the batch into rows: one GEMM instead of a batch of GEMMs and a sum
        gb = tb ? folded_matmul(g, a) : folded_matmul(a, g);
      } else {
        gb = detail::sum_to_or_same(tb ? matmul_nd(g, a, true, ta) : matmul_nd(a, g, !ta, false), b.shape());
      }
    }
    return {ga, gb};
  });
}

}  // namespace

template <class T>
Variable<T> matmul(const Variable<T>& a, const Variable<T>& b, MatmulOptions options) {
  TG_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul",
           "operands of shape " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + ": scalars cannot be multiplied by matmul (use *)");
  TG_CHECK(!(options.transpose_a && a.dim() == 1) && !(options.transpose_b && b.dim() == 1), "matmul",
           "a transpose flag on a 1-D operand (" + shape_str(a.shape()) + " x " + shape_str(b.shape()) + ")");
  // Shapes are checked here, as the user gave them: past this point vectors are promoted
  // to matrices and a message would quote [1,k] for a [k].
  const bool ta = options.transpose_a, tb = options.transpose_b;
  const Shape &sa = a.shape(), &sb = b.shape();
  const std::size_t ra = sa.size(), rb = sb.size();
  const std::size_t ka = ra == 1 ? sa[0] : ta ? sa[ra - 2] : sa[ra - 1];
  const std::size_t kb = rb == 1 ? sb[0] : tb ? sb[rb - 1] : sb[rb - 2];
  const auto operands = [&] {
    return shape_str(sa) + (ta ? "^T" : "") + " x " + shape_str(sb) + (tb ? "^T" : "");
  };
  TG_CHECK(ka == kb, "matmul",
           operands() + ": inner sizes " + std::to_string(ka) + " and " + std::to_string(kb) + " differ");
  if (ra > 2 || rb > 2) {
    const Shape lead_a(sa.begin(), sa.end() - std::min<std::size_t>(ra, 2));
    const Shape lead_b(sb.begin(), sb.end() - std::min<std::size_t>(rb, 2));
    for (std::size_t i = 1; i <= std::min(lead_a.size(), lead_b.size()); ++i) {
      const std::size_t da = lead_a[lead_a.size() - i], db = lead_b[lead_b.size() - i];
      TG_CHECK(da == db || da == 1 || db == 1, "matmul",
               operands() + ": batch shapes " + shape_str(lead_a) + " and " + shape_str(lead_b) + " do not broadcast");
    }
  }
  if (a.dim() >= 2 && b.dim() >= 2) return matmul_nd(a, b, ta, tb);
  // vectors: a as a row [1,k], b as a column [k,1], the added axis removed afterwards
  const auto k = [](const Variable<T>& v) { return static_cast<std::int64_t>(v.shape()[0]); };
  Variable<T> a2 = a.dim() == 1 ? reshape(a, {1, k(a)}) : a;
  Variable<T> b2 = b.dim() == 1 ? reshape(b, {k(b), 1}) : b;
  Variable<T> out = matmul_nd(a2, b2, ta, tb);
  Axes drop;
  if (a.dim() == 1) drop.push_back(-2);
  if (b.dim() == 1) drop.push_back(-1);
  return squeeze(out, drop);
}

namespace {
/// Does `from` broadcast to exactly `to` (NumPy rules, no axis of `to` grown)?
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (std::size_t i = 0; i < from.size(); ++i) {
    const std::size_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
    if (f != t && f != 1) return false;
  }
  return true;
}
}  // namespace

template <class T>
Variable<T> linear(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias) {
  const auto shapes = [&] {
    return "input " + shape_str(x.shape()) + ", weight " + shape_str(weight.shape()) +
           (bias.defined() ? ", bias " + shape_str(bias.shape()) : std::string());
  };
  TG_CHECK(weight.dim() == 2, "linear", shapes() + ": the weight must be a matrix [out, in]");
  TG_CHECK(x.dim() >= 1 && x.shape().back() == weight.shape()[1], "linear",
           shapes() + ": the input's last axis must be the weight's in = " + std::to_string(weight.shape()[1]));
  const std::size_t in = weight.shape()[1], out = weight.shape()[0];
  Shape shape(x.shape().begin(), x.shape().end() - 1);
  shape.push_back(out);
  const std::size_t rows = product(x.shape(), 0, x.dim() - 1);
  xt::xarray<T> value;
  if (bias.defined()) {
    TG_CHECK(broadcasts_to(bias.shape(), shape), "linear", shapes() + ": the bias does not broadcast to the result " + shape_str(shape));
    value = bias.shape() == shape ? xt::xarray<T>(bias.value()) : kernels::broadcast_to(bias.value(), shape);
  } else {
    value = xt::zeros<T>(shape);
  }
  if (value.size() > 0 && in > 0)
    kernels::gemm(false, true, rows, out, in, x.value().data(), weight.value().data(), value.data(), /*accumulate=*/true);
  // dx = g W, dW = g^T x with the leading axes folded into rows (one GEMM each), db = g summed to b's shape.
  auto derivative = [rows](const GradContext<T>& c) -> Grads<T> {
    const auto& x = c.in[0];
    const auto& g = c.grad;
    Grads<T> grads(c.in.size());
    if (c.needs(0)) grads[0] = matmul(g, c.in[1]);
    if (c.needs(1))
      grads[1] = x.dim() >= 2 ? folded_matmul(g, x)
                              : matmul(detail::reshape_or_same(g, Shape{rows, g.shape().back()}),
                                       detail::reshape_or_same(x, Shape{rows, x.shape().back()}), {.transpose_a = true});
    if (c.in.size() == 3 && c.needs(2)) grads[2] = detail::sum_to_or_same(g, c.in[2].shape());
    return grads;
  };
  if (bias.defined()) return make_op<T>("linear", std::move(value), {x, weight, bias}, std::move(derivative));
  return make_op<T>("linear", std::move(value), {x, weight}, std::move(derivative));
}

TG_INSTANTIATE_OPS(matmul, linear)

}  // namespace tg
