// Dropout: a random 0 / (1/(1-p)) mask, constant to the tape, times the input.
#include "dropout.hpp"

#include <cstdint>
#include <sstream>

#include "../autograd/ops/elementwise.hpp"

namespace tg::nn {

namespace {
void check_p(const char* op, double p) {
  TG_CHECK(p >= 0 && p <= 1, op, "p must be in [0, 1], got " + number_str(p));
}

/// A mask of shape `shape`: 0 with probability p, else 1 / (1 - p) (p = 1: all 0).
template <class T>
xt::xarray<T> dropout_mask(const Shape& shape, double p) {
  xt::xarray<T> mask = xt::empty<T>(shape);
  if (p == 1) {
    std::fill(mask.begin(), mask.end(), T(0));
    return mask;
  }
  const T keep_scale = static_cast<T>(1 / (1 - p));
  // drop when a raw 64-bit draw falls below p * 2^64: one engine call per element, no
  // conversion to floating point
  constexpr double two_64 = 18446744073709551616.0;
  const double scaled = p * two_64;
  const std::uint64_t threshold = scaled >= two_64 ? UINT64_MAX : static_cast<std::uint64_t>(scaled);
  auto& engine = generator();
  for (auto& m : mask) m = engine() < threshold ? T(0) : keep_scale;
  return mask;
}

}  // namespace

template <class T>
Variable<T> dropout(const Variable<T>& x, double p, bool training) {
  check_p("dropout", p);
  // nothing to drop, but a new node all the same: naming or editing the result leaves x alone
  if (!training || p == 0) return copy_op("dropout", x);
  return x * Variable<T>(dropout_mask<T>(x.shape(), p));
}

template <class T>
Dropout<T>::Dropout(double p) : p_(p) {
  check_p("Dropout", p);
}

template <class T>
Variable<T> Dropout<T>::forward(const Variable<T>& x) {
  return dropout(x, p_, this->is_training());
}

template <class T>
std::string Dropout<T>::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p_;
  return os.str();
}

template <class T>
Dropout2d<T>::Dropout2d(double p) : p_(p) {
  check_p("Dropout2d", p);
}

template <class T>
Variable<T> Dropout2d<T>::forward(const Variable<T>& x) {
  TG_CHECK(x.dim() == 3 || x.dim() == 4, "Dropout2d", "input " + shape_str(x.shape()) + " must be [N, C, H, W] or [C, H, W]");
  if (!this->is_training() || p_ == 0) return copy_op("dropout2d", x);
  Shape mask_shape(x.shape().begin(), x.shape().end() - 2);  // one draw per (sample,) channel
  mask_shape.push_back(1);
  mask_shape.push_back(1);
  return x * Variable<T>(dropout_mask<T>(mask_shape, p_));
}

template <class T>
std::string Dropout2d<T>::extra_repr() const {
  return "p=" + number_str(p_);
}

template Variable<float> dropout(const Variable<float>&, double, bool);
template Variable<double> dropout(const Variable<double>&, double, bool);
template class Dropout<float>;
template class Dropout<double>;
template class Dropout2d<float>;
template class Dropout2d<double>;

}  // namespace tg::nn
