// Reductions and the softmax family.
#include "reduce.hpp"

#include "../axes.hpp"
#include "elementwise.hpp"
#include "kernels.hpp"
#include "shape.hpp"

namespace tg {

namespace {
/// The gradient of a reduction, g, brought back to x's shape: re-insert the reduced axes
/// as size 1 (if keepdims was off), then broadcast.
template <class T>
Variable<T> unreduce(const Variable<T>& g, const Shape& x_shape, const std::vector<std::size_t>& axes) {
  const Shape kept = kernels::reduced_shape(x_shape, axes, true);
  std::vector<std::int64_t> as_kept(kept.begin(), kept.end());
  return expand(reshape(g, as_kept), x_shape);
}
}  // namespace

template <class T>
Variable<T> sum(const Variable<T>& x, const Axes& axes, bool keepdims) {
  auto ax = normalize_axes("sum", axes, x.dim());
  return make_op<T>("sum", kernels::sum(x.value(), ax, keepdims), {x}, [ax](const GradContext<T>& c) -> Grads<T> {
    return {unreduce(c.grad, c.in[0].shape(), ax)};
  });
}

template <class T>
Variable<T> mean(const Variable<T>& x, const Axes& axes, bool keepdims) {
  auto ax = normalize_axes("mean", axes, x.dim());
  std::size_t n = 1;
  for (auto a : ax) n *= x.shape()[a];
  TG_CHECK(n > 0, "mean", "mean over axes " + axes_str(axes) + " of " + shape_str(x.shape()) + ", which are empty");
  return sum(x, axes, keepdims) * (T(1) / static_cast<T>(n));
}

#define TG_INSTANTIATE(T)                                                     \
  template Variable<T> sum(const Variable<T>&, const Axes&, bool);            \
  template Variable<T> mean(const Variable<T>&, const Axes&, bool);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg
