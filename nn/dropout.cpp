// Dropout: a random 0 / (1/(1-p)) mask, constant to the tape, times the input.
#include "dropout.hpp"

#include <cstdint>
#include <sstream>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/detail/shape_ops.hpp"

namespace tg::nn {

namespace {
void check_p(const char* op, double p) {
  TG_CHECK(p >= 0 && p <= 1, op, "p must be in [0, 1], got " + number_str(p));
}
}  // namespace

template <class T>
Variable<T> dropout(const Variable<T>& x, double p, bool training) {
  check_p("dropout", p);
  // nothing to drop, but a new node all the same: naming or editing the result leaves x alone
  if (!training || p == 0) return detail::copy_op("dropout", x);
  xt::xarray<T> mask = xt::empty<T>(x.shape());
  if (p == 1) {
    std::fill(mask.begin(), mask.end(), T(0));
  } else {
    const T keep_scale = static_cast<T>(1 / (1 - p));
    // drop when a raw 64-bit draw falls below p * 2^64: one engine call per element, no
    // conversion to floating point
    constexpr double two_64 = 18446744073709551616.0;
    const double scaled = p * two_64;
    const std::uint64_t threshold = scaled >= two_64 ? UINT64_MAX : static_cast<std::uint64_t>(scaled);
    auto& engine = generator();
    for (auto& m : mask) m = engine() < threshold ? T(0) : keep_scale;
  }
  return x * Variable<T>(std::move(mask));
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

template Variable<float> dropout(const Variable<float>&, double, bool);
template Variable<double> dropout(const Variable<double>&, double, bool);
template class Dropout<float>;
template class Dropout<double>;

}  // namespace tg::nn
