// Factories: new leaves filled with constants, ranges or random numbers.
#include "variable.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "detail/numel.hpp"

namespace tg {

namespace {
/// An uninitialised array of shape, made by the factory `op`; a shape whose sizes multiply
/// past what xtensor can index is a tg::Error, not an allocation of a wrapped-round size.
template <class T>
xt::xarray<T> new_array(const char* op, const Shape& shape) {
  TG_CHECK(detail::checked_numel(shape).has_value(), op,
           "shape " + shape_str(shape) + ": the sizes multiply past 2^63 (xtensor's signed strides)");
  return xt::empty<T>(shape);
}
}  // namespace

template <class T>
Variable<T> zeros(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("zeros", shape);
  std::fill(a.begin(), a.end(), T(0));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> ones(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("ones", shape);
  std::fill(a.begin(), a.end(), T(1));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> full(const Shape& shape, double value, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("full", shape);
  std::fill(a.begin(), a.end(), static_cast<T>(value));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> arange(double start, double stop, double step, bool requires_grad) {
  TG_CHECK(std::isfinite(start) && std::isfinite(stop) && std::isfinite(step), "arange",
           "start " + number_str(start) + ", stop " + number_str(stop) + " and step " + number_str(step) +
               " must be finite");
  TG_CHECK(step != 0, "arange", "step is 0");
  const double count = std::ceil((stop - start) / step);
  // the count converts to size_t only below 2^53 (an infinite or huge one is undefined behaviour)
  TG_CHECK(!(count > 9007199254740992.0), "arange",
           "[" + number_str(start) + ", " + number_str(stop) + ") in steps of " + number_str(step) + " holds " +
               number_str(count) + " values, more than 2^53");
  const std::size_t n = count > 0 ? static_cast<std::size_t>(count) : 0;
  xt::xarray<T> a = xt::xarray<T>::from_shape({n});
  for (std::size_t i = 0; i < n; ++i) a(i) = static_cast<T>(start + step * static_cast<double>(i));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> randn(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("randn", shape);
  std::normal_distribution<T> dist(0, 1);
  for (auto& x : a) x = dist(generator());
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> rand(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("rand", shape);
  std::uniform_real_distribution<T> dist(0, 1);
  for (auto& x : a) x = dist(generator());
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> zeros_like(const Variable<T>& x, bool requires_grad) {
  return zeros<T>(x.shape(), requires_grad);
}
template <class T>
Variable<T> ones_like(const Variable<T>& x, bool requires_grad) {
  return ones<T>(x.shape(), requires_grad);
}
template <class T>
Variable<T> scalar(double value, bool requires_grad) {
  xt::xarray<T> a(static_cast<T>(value));  // 0-d
  return Variable<T>(std::move(a), requires_grad);
}

#define TG_INSTANTIATE_FACTORIES(T)                                                              \
  template Variable<T> zeros<T>(const Shape&, bool);                                             \
  template Variable<T> ones<T>(const Shape&, bool);                                              \
  template Variable<T> full<T>(const Shape&, double, bool);                                      \
  template Variable<T> arange<T>(double, double, double, bool);                                  \
  template Variable<T> randn<T>(const Shape&, bool);                                             \
  template Variable<T> rand<T>(const Shape&, bool);                                              \
  template Variable<T> zeros_like(const Variable<T>&, bool);                                     \
  template Variable<T> ones_like(const Variable<T>&, bool);                                      \
  template Variable<T> scalar<T>(double, bool);
TG_INSTANTIATE_FACTORIES(float)
TG_INSTANTIATE_FACTORIES(double)

}  // namespace tg
