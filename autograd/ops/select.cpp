// Selection ops: narrow/slice, index_select, gather/scatter_add, concat/stack/split, one_hot.
// Each derivative is its partner op: narrow <-> embed, index_select <-> index_add,
// gather <-> scatter_add, concat <-> narrow.
#include <mutex>
#include <numeric>
#include <thread>

#include "../core/axes.hpp"
#include "detail/derivatives.hpp"
#include "fused.hpp"
#include "select.hpp"
#include "shape.hpp"
#include "instantiate.hpp"

namespace tg {

namespace {

/// x viewed as [outer, size, inner] around one axis.
struct AxisView {
  std::size_t outer = 1, size = 1, inner = 1;
  AxisView(const Shape& s, std::size_t axis) : size(s[axis]) {
    for (std::size_t i = 0; i < axis; ++i) outer *= s[i];
    for (std::size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  }
};

Shape with_axis(const Shape& s, std::size_t axis, std::size_t size) {
  Shape out = s;
  out[axis] = size;
  return out;
}

/// Elements [start, start + length) of x along axis.
template <class T>
xt::xarray<T> window_of(const xt::xarray<T>& x, std::size_t axis, std::size_t start, std::size_t length) {
  const AxisView v(x.shape(), axis);
  xt::xarray<T> out = xt::empty<T>(with_axis(x.shape(), axis, length));
  for (std::size_t o = 0; o < v.outer; ++o)
    std::copy_n(x.data() + (o * v.size + start) * v.inner, length * v.inner, out.data() + o * length * v.inner);
  return out;
}

/// Writes g into [start, start + g's length) along axis of `full`.
template <class T>
void write_window(const xt::xarray<T>& g, std::size_t axis, std::size_t start, xt::xarray<T>& full) {
  const AxisView v(g.shape(), axis);
  const std::size_t n = full.shape()[axis];
  for (std::size_t o = 0; o < v.outer; ++o)
    std::copy_n(g.data() + o * v.size * v.inner, v.size * v.inner, full.data() + (o * n + start) * v.inner);
}

/// The inverse of narrow: g placed at [start, start + length) of a zero tensor whose axis has `full` elements.
template <class T>
Variable<T> embed(const Variable<T>& g, std::size_t axis, std::size_t start, std::size_t full) {
  xt::xarray<T> out = xt::zeros<T>(with_axis(g.shape(), axis, full));
  write_window(g.value(), axis, start, out);
  const auto length = static_cast<std::int64_t>(g.shape()[axis]);
  return make_op<T>("embed", std::move(out), {g}, [axis, start, length](const GradContext<T>& c) -> Grads<T> {
    return {narrow(c.grad, static_cast<std::int64_t>(axis), static_cast<std::int64_t>(start), length)};
  });
}

/// What split's pieces share for their gradients. Cut into pieces, x gets one gradient: the
/// pieces' gradients side by side. Each piece's derivative writes its window of one buffer,
/// which the split node (the pieces' common input) passes on whole, instead of one zero-padded
/// tensor of x's size per piece, all added up (a [T·B, 4H] tensor cut into T steps cost T times
/// its size). The buffer lives in the running pass's pending gradient of the split node: the
/// first piece to run in a pass makes it and hands it to the engine; while the pass holds it
/// (two handles: this one and the pass's) the later pieces of the same thread write into it
/// and return nothing. A buffer held by this alone belongs to a pass that is over (or gone by
/// an error), and another thread's live buffer is left alone: such a piece makes its own
/// zero-padded gradient, as before, so the result is right in every case.
template <class T>
struct SplitGradient {
  std::mutex mutex;
  Variable<T> buffer;
  std::thread::id owner;
};

/// Where a piece of split sits in x, and the gradient its siblings share.
template <class T>
struct SplitPiece {
  std::size_t axis, start;
  std::shared_ptr<SplitGradient<T>> gathered;
};

/// A piece of split: x's window [start, start + length) along axis, recorded as a function of
/// the split node `hub`, whose gradient `gathered` collects. Recorded (create_graph), its
/// derivative is the zero-padded embed.
template <class T>
Variable<T> split_piece(const Variable<T>& x, const Variable<T>& hub, std::size_t axis, std::size_t start, std::size_t length,
                        std::shared_ptr<SplitGradient<T>> gathered) {
  return detail::make_fused_op<T>(
      "split", window_of(x.value(), axis, start, length), {hub}, SplitPiece<T>{axis, start, std::move(gathered)},
      [](const GradContext<T>& c, const SplitPiece<T>& piece) -> Grads<T> {
        return {embed(c.grad, piece.axis, piece.start, c.in[0].shape()[piece.axis])};
      },
      [](const GradContext<T>& c, const SplitPiece<T>& piece) -> Grads<T> {
        std::lock_guard<std::mutex> lock(piece.gathered->mutex);
        Variable<T>& buffer = piece.gathered->buffer;
        const auto self = std::this_thread::get_id();
        const bool held_by_pass = buffer.defined() && buffer.use_count() == 2;
        if (held_by_pass && piece.gathered->owner == self) {
          write_window(c.grad.value(), piece.axis, piece.start, buffer.node()->value);
          return {Variable<T>()};
        }
        xt::xarray<T> g = xt::zeros<T>(c.in[0].shape());
        write_window(c.grad.value(), piece.axis, piece.start, g);
        Variable<T> fresh(std::move(g));
        if (!held_by_pass) {
          buffer = fresh;
          piece.gathered->owner = self;
        }
        return {fresh};
      });
}

void check_index_range(const char* op, const IndexArray& index, std::size_t limit, const Shape& x_shape, std::size_t axis) {
  for (auto i : index)
    TG_CHECK(i >= 0 && static_cast<std::size_t>(i) < limit, op,
             "index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) + " of size " +
                 std::to_string(limit) + " (tensor " + shape_str(x_shape) + ")");
}

/// out = zeros with `full` elements on axis; out[.., index[j], ..] += g[.., j, ..]. The inverse of index_select.
template <class T>
Variable<T> index_add(const Variable<T>& g, std::size_t axis, const IndexArray& index, std::size_t full) {
  const AxisView v(g.shape(), axis);
  xt::xarray<T> out = xt::zeros<T>(with_axis(g.shape(), axis, full));
  const T* src = g.value().data();
  for (std::size_t o = 0; o < v.outer; ++o)
    for (std::size_t j = 0; j < v.size; ++j) {
      T* dst = out.data() + (o * full + static_cast<std::size_t>(index(j))) * v.inner;
      const T* s = src + (o * v.size + j) * v.inner;
      for (std::size_t i = 0; i < v.inner; ++i) dst[i] += s[i];
    }
  return make_op<T>("index_add", std::move(out), {g}, [axis, index](const GradContext<T>& c) -> Grads<T> {
    return {index_select(c.grad, static_cast<std::int64_t>(axis), index)};
  });
}

/// Visits every element of `index` (rank r) with the flat offset it addresses in a tensor of
/// shape `target` when its own value replaces the coordinate on `axis`; f(flat index position, target offset).
template <class F>
void for_each_indexed(const IndexArray& index, const Shape& target, std::size_t axis, F f) {
  const std::size_t r = index.dimension();
  Shape stride(r, 1), pos(r, 0);  // (svector: std::vector here trips GCC 12's -Wfree-nonheap-object)
  for (std::size_t d = r; d-- > 1;) stride[d - 1] = stride[d] * target[d];
  std::size_t base = 0;  // offset of pos with the axis coordinate left out
  for (std::size_t e = 0, n = index.size(); e < n; ++e) {
    f(e, base + static_cast<std::size_t>(index.data()[e]) * stride[axis]);
    for (std::size_t d = r; d-- > 0;) {
      if (d != axis) base += stride[d];
      if (++pos[d] < index.shape()[d]) break;
      if (d != axis) base -= stride[d] * index.shape()[d];
      pos[d] = 0;
    }
  }
}

void check_gather_index(const char* op, const IndexArray& index, const Shape& x_shape, std::size_t axis) {
  TG_CHECK(index.dimension() == x_shape.size(), op,
           "index of shape " + shape_str(index.shape()) + " must have the rank of the tensor " + shape_str(x_shape));
  for (std::size_t d = 0; d < x_shape.size(); ++d)
    TG_CHECK(d == axis || index.shape()[d] <= x_shape[d], op,
             "index of shape " + shape_str(index.shape()) + " is larger than the tensor " + shape_str(x_shape) +
                 " on axis " + std::to_string(d));
  check_index_range(op, index, x_shape[axis], x_shape, axis);
}

}  // namespace

template <class T>
Variable<T> narrow(const Variable<T>& x, std::int64_t axis, std::int64_t start, std::int64_t length) {
  const std::size_t a = normalize_axis("narrow", axis, x.shape());
  const auto n = static_cast<std::int64_t>(x.shape()[a]);
  const std::int64_t given = start;
  if (start < 0) start += n;  // (no overflow: n >= 0)
  TG_CHECK(start >= 0 && start <= n && length >= 0, "narrow",
           "start " + std::to_string(given) + " and length " + std::to_string(length) + " are out of range for axis " +
               std::to_string(axis) + " of " + shape_str(x.shape()) + " (size " + std::to_string(n) + ")");
  // length <= n - start rather than start + length <= n, which overflows for huge lengths
  TG_CHECK(length <= n - start, "narrow",
           "start " + std::to_string(given) + " + length " + std::to_string(length) + " exceeds axis " +
               std::to_string(axis) + " of size " + std::to_string(n) + " (shape " + shape_str(x.shape()) + ")");
  if (start == 0 && length == n) return copy_op("narrow", x);
  const auto s = static_cast<std::size_t>(start), len = static_cast<std::size_t>(length);
  return make_op<T>("narrow", window_of(x.value(), a, s, len), {x}, [a, s](const GradContext<T>& c) -> Grads<T> {
    return {embed(c.grad, a, s, c.in[0].shape()[a])};
  });
}

template <class T>
Variable<T> slice(const Variable<T>& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step) {
  const std::size_t a = normalize_axis("slice", axis, x.shape());
  TG_CHECK(step > 0, "slice", "step must be positive, got " + std::to_string(step) + " (tensor " + shape_str(x.shape()) + ")");
  const auto n = static_cast<std::int64_t>(x.shape()[a]);
  auto clip = [n](std::int64_t i) { return std::clamp<std::int64_t>(i < 0 ? i + n : i, 0, n); };
  start = clip(start);
  stop = std::max(clip(stop), start);
  if (step == 1) return narrow(x, axis, start, stop - start);
  // the count ceil((stop - start) / step), written so that no step overflows. (Not xt::arange:
  // its stop - start + step - 1 overflows for huge steps, and for integers it returns nothing
  // when step > stop - start, where x[0:3:5] is x[0].)
  const std::int64_t count = stop == start ? 0 : (stop - start - 1) / step + 1;
  IndexArray index = xt::empty<Index>(Shape{static_cast<std::size_t>(count)});
  for (std::int64_t j = 0; j < count; ++j) index(j) = start + j * step;
  return index_select(x, axis, index);
}

template <class T>
Variable<T> index_select(const Variable<T>& x, std::int64_t axis, const IndexArray& index) {
  const std::size_t a = normalize_axis("index_select", axis, x.shape());
  TG_CHECK(index.dimension() == 1, "index_select",
           "index must be 1-D, got shape " + shape_str(index.shape()) + " (tensor " + shape_str(x.shape()) + ")");
  check_index_range("index_select", index, x.shape()[a], x.shape(), a);
  const AxisView v(x.shape(), a);
  xt::xarray<T> out = xt::empty<T>(with_axis(x.shape(), a, index.size()));
  for (std::size_t o = 0; o < v.outer; ++o)
    for (std::size_t j = 0; j < index.size(); ++j)
      std::copy_n(x.value().data() + (o * v.size + static_cast<std::size_t>(index(j))) * v.inner, v.inner,
                  out.data() + (o * index.size() + j) * v.inner);
  return make_op<T>("index_select", std::move(out), {x}, [a, index](const GradContext<T>& c) -> Grads<T> {
    return {index_add(c.grad, a, index, c.in[0].shape()[a])};
  });
}

template <class T>
Variable<T> gather(const Variable<T>& x, std::int64_t axis, const IndexArray& index) {
  const std::size_t a = normalize_axis("gather", axis, x.shape());
  check_gather_index("gather", index, x.shape(), a);
  xt::xarray<T> out = xt::empty<T>(Shape(index.shape().begin(), index.shape().end()));
  const T* src = x.value().data();
  T* dst = out.data();
  for_each_indexed(index, x.shape(), a, [&](std::size_t e, std::size_t offset) { dst[e] = src[offset]; });
  return make_op<T>("gather", std::move(out), {x}, [a, index](const GradContext<T>& c) -> Grads<T> {
    return {scatter_add(zeros_like(c.in[0]), static_cast<std::int64_t>(a), index, c.grad)};
  });
}

template <class T>
Variable<T> scatter_add(const Variable<T>& x, std::int64_t axis, const IndexArray& index, const Variable<T>& src) {
  const std::size_t a = normalize_axis("scatter_add", axis, x.shape());
  check_gather_index("scatter_add", index, x.shape(), a);
  TG_CHECK(src.dim() == index.dimension(), "scatter_add",
           "src of shape " + shape_str(src.shape()) + " must have the rank of index " + shape_str(index.shape()));
  for (std::size_t d = 0; d < src.dim(); ++d)
    TG_CHECK(index.shape()[d] <= src.shape()[d], "scatter_add",
             "index of shape " + shape_str(index.shape()) + " is larger than src " + shape_str(src.shape()));
  xt::xarray<T> out = x.value();
  // src is addressed with index's shape inside src's (possibly larger) shape
  std::vector<std::size_t> src_stride(src.dim(), 1), pos(src.dim(), 0);
  for (std::size_t d = src.dim(); d-- > 1;) src_stride[d - 1] = src_stride[d] * src.shape()[d];
  const T* s = src.value().data();
  T* dst = out.data();
  std::size_t src_offset = 0;
  for_each_indexed(index, x.shape(), a, [&](std::size_t, std::size_t offset) {
    dst[offset] += s[src_offset];
    for (std::size_t d = src.dim(); d-- > 0;) {
      src_offset += src_stride[d];
      if (++pos[d] < index.shape()[d]) break;
      src_offset -= src_stride[d] * index.shape()[d];
      pos[d] = 0;
    }
  });
  return make_op<T>("scatter_add", std::move(out), {x, src}, [a, index](const GradContext<T>& c) -> Grads<T> {
    Variable<T> gsrc;
    if (c.needs(1)) {
      gsrc = gather(c.grad, static_cast<std::int64_t>(a), index);
      if (gsrc.shape() != c.in[1].shape()) {  // src larger than index: the rest of src gets no gradient
        Variable<T> padded = gsrc;
        for (std::size_t d = 0; d < padded.dim(); ++d)
          if (padded.shape()[d] != c.in[1].shape()[d]) padded = embed(padded, d, 0, c.in[1].shape()[d]);
        gsrc = padded;
      }
    }
    return {c.needs(0) ? c.grad : Variable<T>(), gsrc};
  });
}

template <class T>
Variable<T> concat(const std::vector<Variable<T>>& xs, std::int64_t axis) {
  TG_CHECK(!xs.empty(), "concat", "no tensors to join");
  const Shape& first = xs[0].shape();
  TG_CHECK(!first.empty(), "concat", "cannot join 0-dimensional tensors of shape [] (use stack)");
  const std::size_t a = normalize_axis("concat", axis, first);
  std::size_t total = 0;
  for (const auto& x : xs) {
    bool same = x.dim() == first.size();
    for (std::size_t d = 0; same && d < first.size(); ++d) same = d == a || x.shape()[d] == first[d];
    TG_CHECK(same, "concat",
             "shapes " + shape_str(first) + " and " + shape_str(x.shape()) + " differ outside axis " + std::to_string(axis));
    total += x.shape()[a];
  }
  if (xs.size() == 1) return copy_op("concat", xs[0]);
  const AxisView v(first, a);
  xt::xarray<T> out = xt::empty<T>(with_axis(first, a, total));
  std::vector<std::int64_t> offsets;
  std::size_t offset = 0;
  for (const auto& x : xs) {
    const std::size_t n = x.shape()[a];
    for (std::size_t o = 0; o < v.outer; ++o)
      std::copy_n(x.value().data() + o * n * v.inner, n * v.inner, out.data() + (o * total + offset) * v.inner);
    offsets.push_back(static_cast<std::int64_t>(offset));
    offset += n;
  }
  return make_op<T>("concat", std::move(out), std::vector<Variable<T>>(xs), [a, offsets](const GradContext<T>& c) -> Grads<T> {
    Grads<T> grads;
    for (std::size_t i = 0; i < c.in.size(); ++i)
      grads.push_back(c.needs(i) ? narrow(c.grad, static_cast<std::int64_t>(a), offsets[i],
                                          static_cast<std::int64_t>(c.in[i].shape()[a]))
                                 : Variable<T>());
    return grads;
  });
}

template <class T>
Variable<T> stack(const std::vector<Variable<T>>& xs, std::int64_t axis) {
  TG_CHECK(!xs.empty(), "stack", "no tensors to stack");
  for (const auto& x : xs)
    TG_CHECK(x.shape() == xs[0].shape(), "stack", "shapes " + shape_str(xs[0].shape()) + " and " + shape_str(x.shape()) + " differ");
  const std::size_t a = normalize_axis("stack", axis, xs[0].shape(), xs[0].dim() + 1);
  std::vector<Variable<T>> expanded;
  for (const auto& x : xs) expanded.push_back(unsqueeze(x, static_cast<std::int64_t>(a)));
  return expanded.size() == 1 ? expanded[0] : concat(expanded, static_cast<std::int64_t>(a));
}

template <class T>
std::vector<Variable<T>> split(const Variable<T>& x, const std::vector<std::int64_t>& sizes, std::int64_t axis) {
  const std::size_t a = normalize_axis("split", axis, x.shape());
  const auto n = static_cast<std::int64_t>(x.shape()[a]);
  std::int64_t total = 0;
  for (auto s : sizes) {
    TG_CHECK(s >= 0, "split", "negative size in " + axes_str(sizes) + " (tensor " + shape_str(x.shape()) + ")");
    // s <= n - total rather than total + s <= n: huge sizes would wrap the running total
    TG_CHECK(s <= n - total, "split",
             "sizes " + axes_str(sizes) + " add up to more than axis " + std::to_string(axis) + " of " +
                 shape_str(x.shape()) + ", which has " + std::to_string(n));
    total += s;
  }
  TG_CHECK(total == n, "split",
           "sizes " + axes_str(sizes) + " add up to " + std::to_string(total) + ", axis " + std::to_string(axis) + " of " +
               shape_str(x.shape()) + " has " + std::to_string(n));
  std::vector<Variable<T>> parts;
  if (!is_grad_enabled() || !x.requires_grad() || sizes.size() < 2) {
    std::int64_t start = 0;
    for (auto s : sizes) {
      parts.push_back(narrow(x, axis, start, s));
      start += s;
    }
    return parts;
  }
  // The pieces' common input: a node whose gradient is the pieces' gradients gathered (see
  // SplitGradient), passed on to x unchanged. Its value is never read (the pieces are cut from
  // x), so it is left uninitialised, except that anomaly mode checks every value for NaN.
  auto gathered = std::make_shared<SplitGradient<T>>();
  xt::xarray<T> placeholder = is_anomaly_enabled() ? xt::zeros<T>(x.shape()) : xt::empty<T>(x.shape());
  Variable<T> hub = make_op<T>("split", std::move(placeholder), {x}, [gathered](const GradContext<T>& c) -> Grads<T> {
    std::lock_guard<std::mutex> lock(gathered->mutex);
    if (gathered->buffer.same_node(c.grad)) gathered->buffer = Variable<T>();  // this pass is done with it
    return {c.grad};
  });
  std::size_t start = 0;
  for (auto s : sizes) {
    parts.push_back(split_piece(x, hub, a, start, static_cast<std::size_t>(s), gathered));
    start += static_cast<std::size_t>(s);
  }
  return parts;
}

template <class T>
Variable<T> one_hot(const IndexArray& labels, std::int64_t num_classes) {
  TG_CHECK(num_classes > 0, "one_hot",
           "num_classes must be positive, got " + std::to_string(num_classes) + " (labels " + shape_str(labels.shape()) + ")");
  Shape shape(labels.shape().begin(), labels.shape().end());
  shape.push_back(static_cast<std::size_t>(num_classes));
  TG_CHECK(detail::checked_numel(shape).has_value(), "one_hot",
           std::to_string(num_classes) + " classes for labels " + shape_str(labels.shape()) +
               ": the result's sizes multiply past 2^63 (xtensor's signed strides)");
  xt::xarray<T> out = xt::zeros<T>(shape);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const Index l = labels.data()[i];
    TG_CHECK(l >= 0 && l < num_classes, "one_hot",
             "label " + std::to_string(l) + " is out of range for " + std::to_string(num_classes) + " classes (labels " +
                 shape_str(labels.shape()) + ")");
    out.data()[i * static_cast<std::size_t>(num_classes) + static_cast<std::size_t>(l)] = T(1);
  }
  return Variable<T>(std::move(out));
}

TG_INSTANTIATE_OPS(narrow, slice, index_select, gather, scatter_add, split, one_hot)
// concat and stack: the std::vector forms (the initializer_list ones are inline in select.hpp)
TG_INSTANTIATE_OVERLOAD(concat, Variable<T>(const std::vector<Variable<T>>&, std::int64_t))
TG_INSTANTIATE_OVERLOAD(stack, Variable<T>(const std::vector<Variable<T>>&, std::int64_t))

}  // namespace tg
