// Fused pointwise ops of the recurrent cells: value and derivative as single loops over the rows
// of [..., gates·H] tensors; under create_graph the derivative is the same formula in ops.
#include "recurrent.hpp"

#include <cmath>

#include "../kernels/vector_math.hpp"
#include "elementwise.hpp"
#include "select.hpp"
#include "instantiate.hpp"

namespace tg {

namespace {

/// 1 / (1 + e^-v): e^-v overflows to inf for very negative v, which still gives the right 0;
/// branch-free, so the loops vectorise (libmvec's expf).
template <class T>
inline T logistic(T v) {
  return T(1) / (T(1) + std::exp(-v));
}

/// Checks that gates [..., k·H] and state [..., H] agree, and returns H.
template <class T>
std::size_t check_gates(const char* op, const Variable<T>& gates, std::size_t k, const Variable<T>& state,
                        const char* state_name) {
  const Shape& g = gates.shape();
  const Shape& s = state.shape();
  bool ok = g.size() >= 1 && g.size() == s.size() && g.back() == k * s.back();
  for (std::size_t d = 0; ok && d + 1 < g.size(); ++d) ok = g[d] == s[d];
  TG_CHECK(ok, op,
           "gates " + shape_str(g) + " and " + state_name + " " + shape_str(s) + " must be [..., " + std::to_string(k) +
               "H] and [..., H] with the same leading axes");
  return s.back();
}

template <class T>
Variable<T> gate(const Variable<T>& gates, std::size_t k, std::size_t hidden) {
  return narrow(gates, -1, static_cast<std::int64_t>(k * hidden), static_cast<std::int64_t>(hidden));
}

/// [..., k·H] zeros with the given windows filled: the gradient of gates from the parts that have one.
template <class T>
Variable<T> gates_gradient(const std::vector<Variable<T>>& parts) {
  return concat(parts, -1);
}

}  // namespace

template <class T>
Variable<T> lstm_cell_state(const Variable<T>& gates, const Variable<T>& c) {
  const std::size_t H = check_gates("lstm_cell_state", gates, 4, c, "c");
  const std::size_t rows = H == 0 ? 0 : c.numel() / H;
  xt::xarray<T> out = xt::empty<T>(c.shape());
  for (std::size_t r = 0; r < rows; ++r) {
    const T* gi = gates.value().data() + r * 4 * H;
    const T* pc = c.value().data() + r * H;
    T* po = out.data() + r * H;
#pragma omp simd
    for (std::size_t j = 0; j < H; ++j) po[j] = logistic(gi[H + j]) * pc[j] + logistic(gi[j]) * std::tanh(gi[2 * H + j]);
  }
  return make_op<T>("lstm_cell_state", std::move(out), {gates, c}, [H](const GradContext<T>& ctx) -> Grads<T> {
    const auto& gates = ctx.in[0];
    const auto& c = ctx.in[1];
    const auto& g = ctx.grad;
    if (is_grad_enabled()) {  // create_graph: the derivative in ops
      auto i = sigmoid(gate(gates, 0, H)), f = sigmoid(gate(gates, 1, H)), cand = tanh(gate(gates, 2, H));
      return {gates_gradient<T>({g * cand * i * (T(1) - i), g * c * f * (T(1) - f), g * i * (T(1) - cand * cand), zeros_like(g)}),
              g * f};
    }
    const std::size_t rows = H == 0 ? 0 : c.numel() / H;
    xt::xarray<T> dgates = xt::empty<T>(gates.shape()), dc = xt::empty<T>(c.shape());
    for (std::size_t r = 0; r < rows; ++r) {
      const T* gi = gates.value().data() + r * 4 * H;
      const T* pc = c.value().data() + r * H;
      const T* pg = g.value().data() + r * H;
      T* dg = dgates.data() + r * 4 * H;
      T* pdc = dc.data() + r * H;
#pragma omp simd
      for (std::size_t j = 0; j < H; ++j) {
        const T i = logistic(gi[j]), f = logistic(gi[H + j]), cand = std::tanh(gi[2 * H + j]);
        dg[j] = pg[j] * cand * i * (T(1) - i);
        dg[H + j] = pg[j] * pc[j] * f * (T(1) - f);
        dg[2 * H + j] = pg[j] * i * (T(1) - cand * cand);
        dg[3 * H + j] = T(0);
        pdc[j] = pg[j] * f;
      }
    }
    return {Variable<T>(std::move(dgates)), Variable<T>(std::move(dc))};
  });
}

template <class T>
Variable<T> lstm_cell_output(const Variable<T>& gates, const Variable<T>& c_next) {
  const std::size_t H = check_gates("lstm_cell_output", gates, 4, c_next, "c'");
  const std::size_t rows = H == 0 ? 0 : c_next.numel() / H;
  xt::xarray<T> out = xt::empty<T>(c_next.shape());
  for (std::size_t r = 0; r < rows; ++r) {
    const T* gi = gates.value().data() + r * 4 * H;
    const T* pc = c_next.value().data() + r * H;
    T* po = out.data() + r * H;
#pragma omp simd
    for (std::size_t j = 0; j < H; ++j) po[j] = logistic(gi[3 * H + j]) * std::tanh(pc[j]);
  }
  return make_op<T>("lstm_cell_output", std::move(out), {gates, c_next}, [H](const GradContext<T>& ctx) -> Grads<T> {
    const auto& gates = ctx.in[0];
    const auto& c = ctx.in[1];
    const auto& g = ctx.grad;
    if (is_grad_enabled()) {
      auto o = sigmoid(gate(gates, 3, H)), t = tanh(c);
      auto none = zeros_like(g);
      return {gates_gradient<T>({none, none, none, g * t * o * (T(1) - o)}), g * o * (T(1) - t * t)};
    }
    const std::size_t rows = H == 0 ? 0 : c.numel() / H;
    xt::xarray<T> dgates = xt::empty<T>(gates.shape()), dc = xt::empty<T>(c.shape());
    for (std::size_t r = 0; r < rows; ++r) {
      const T* gi = gates.value().data() + r * 4 * H;
      const T* pc = c.value().data() + r * H;
      const T* pg = g.value().data() + r * H;
      T* dg = dgates.data() + r * 4 * H;
      T* pdc = dc.data() + r * H;
      std::fill_n(dg, 3 * H, T(0));
#pragma omp simd
      for (std::size_t j = 0; j < H; ++j) {
        const T o = logistic(gi[3 * H + j]), t = std::tanh(pc[j]);
        dg[3 * H + j] = pg[j] * t * o * (T(1) - o);
        pdc[j] = pg[j] * o * (T(1) - t * t);
      }
    }
    return {Variable<T>(std::move(dgates)), Variable<T>(std::move(dc))};
  });
}

template <class T>
Variable<T> gru_cell(const Variable<T>& xw, const Variable<T>& hw, const Variable<T>& h) {
  const std::size_t H = check_gates("gru_cell", xw, 3, h, "h");
  TG_CHECK(hw.shape() == xw.shape(), "gru_cell",
           "the hidden part " + shape_str(hw.shape()) + " must have the input part's shape " + shape_str(xw.shape()));
  const std::size_t rows = H == 0 ? 0 : h.numel() / H;
  xt::xarray<T> out = xt::empty<T>(h.shape());
  for (std::size_t r = 0; r < rows; ++r) {
    const T* px = xw.value().data() + r * 3 * H;
    const T* ph = hw.value().data() + r * 3 * H;
    const T* hv = h.value().data() + r * H;
    T* po = out.data() + r * H;
#pragma omp simd
    for (std::size_t j = 0; j < H; ++j) {
      const T rr = logistic(px[j] + ph[j]), z = logistic(px[H + j] + ph[H + j]);
      const T n = std::tanh(px[2 * H + j] + rr * ph[2 * H + j]);
      po[j] = n + z * (hv[j] - n);
    }
  }
  return make_op<T>("gru_cell", std::move(out), {xw, hw, h}, [H](const GradContext<T>& ctx) -> Grads<T> {
    const auto& xw = ctx.in[0];
    const auto& hw = ctx.in[1];
    const auto& h = ctx.in[2];
    const auto& g = ctx.grad;
    if (is_grad_enabled()) {
      auto hn = gate(hw, 2, H);
      auto r = sigmoid(gate(xw, 0, H) + gate(hw, 0, H)), z = sigmoid(gate(xw, 1, H) + gate(hw, 1, H));
      auto n = tanh(gate(xw, 2, H) + r * hn);
      auto dn_pre = g * (T(1) - z) * (T(1) - n * n);
      auto dr_pre = dn_pre * hn * r * (T(1) - r);
      auto dz_pre = g * (h - n) * z * (T(1) - z);
      return {gates_gradient<T>({dr_pre, dz_pre, dn_pre}), gates_gradient<T>({dr_pre, dz_pre, dn_pre * r}), g * z};
    }
    const std::size_t rows = H == 0 ? 0 : h.numel() / H;
    xt::xarray<T> dxw = xt::empty<T>(xw.shape()), dhw = xt::empty<T>(hw.shape()), dh = xt::empty<T>(h.shape());
    for (std::size_t row = 0; row < rows; ++row) {
      const T* px = xw.value().data() + row * 3 * H;
      const T* ph = hw.value().data() + row * 3 * H;
      const T* hv = h.value().data() + row * H;
      const T* pg = g.value().data() + row * H;
      T* dx = dxw.data() + row * 3 * H;
      T* dhh = dhw.data() + row * 3 * H;
      T* pdh = dh.data() + row * H;
#pragma omp simd
      for (std::size_t j = 0; j < H; ++j) {
        const T r = logistic(px[j] + ph[j]), z = logistic(px[H + j] + ph[H + j]);
        const T n = std::tanh(px[2 * H + j] + r * ph[2 * H + j]);
        const T dn_pre = pg[j] * (T(1) - z) * (T(1) - n * n);
        const T dr_pre = dn_pre * ph[2 * H + j] * r * (T(1) - r);
        const T dz_pre = pg[j] * (hv[j] - n) * z * (T(1) - z);
        dx[j] = dhh[j] = dr_pre;
        dx[H + j] = dhh[H + j] = dz_pre;
        dx[2 * H + j] = dn_pre;
        dhh[2 * H + j] = dn_pre * r;
        pdh[j] = pg[j] * z;
      }
    }
    return {Variable<T>(std::move(dxw)), Variable<T>(std::move(dhw)), Variable<T>(std::move(dh))};
  });
}

TG_INSTANTIATE_OPS(lstm_cell_state, lstm_cell_output, gru_cell)

}  // namespace tg
