// Fused pointwise ops of the recurrent cells. Each cell's pointwise math is written once, as
// templates over the number type V below: the value and derivative loops run them on numbers
// over the rows of [..., gates·H] tensors, and under create_graph the derivative runs the same
// templates on Variables (gate windows cut with narrow), so it records and differentiates again.
#include "recurrent.hpp"

#include <cmath>
#include <concepts>

#include "../kernels/vector_math.hpp"
#include "elementwise.hpp"
#include "fused.hpp"
#include "select.hpp"
#include "instantiate.hpp"

namespace tg {

namespace {

// The scalar sigmoid and tanh, beside tg's ops of those names: an unqualified sigmoid(v) in the
// cell formulas is this for a number and, found by argument-dependent lookup, the op for a Variable.

/// 1 / (1 + e^-v): e^-v overflows to inf for very negative v, which still gives the right 0;
/// branch-free, so the loops vectorise (libmvec's expf).
template <std::floating_point T>
inline T sigmoid(T v) {
  return T(1) / (T(1) + std::exp(-v));
}
template <std::floating_point T>
inline T tanh(T v) {
  return std::tanh(v);
}

/// The number type of V: V itself, or T for Variable<T>.
template <class V>
struct element {
  using type = V;
};
template <class T>
struct element<Variable<T>> {
  using type = T;
};

/// 1 - x.
template <class V>
inline V one_minus(const V& x) {
  return typename element<V>::type(1) - x;
}
/// sigmoid' from the sigmoid's value s: s (1 - s).
template <class V>
inline V sigmoid_slope(const V& s) {
  return s * one_minus(s);
}
/// tanh' from the tanh's value t: 1 - t².
template <class V>
inline V tanh_slope(const V& t) {
  return one_minus(t * t);
}

// ---- the cells' pointwise math, for numbers and for Variables -------------------------------

/// LSTM cell state c' = sigmoid(f) c + sigmoid(i) tanh(g) from the gates' pre-activations.
template <class V>
inline V lstm_state_value(const V& c, const V& i_pre, const V& f_pre, const V& g_pre) {
  return sigmoid(f_pre) * c + sigmoid(i_pre) * tanh(g_pre);
}

template <class V>
struct LstmStateGrads {
  V i_pre, f_pre, g_pre, c;
};
/// The gradients of lstm_state_value for the output gradient g.
template <class V>
inline LstmStateGrads<V> lstm_state_backward(const V& g, const V& c, const V& i_pre, const V& f_pre, const V& g_pre) {
  const V i = sigmoid(i_pre), f = sigmoid(f_pre), cand = tanh(g_pre);
  return {g * cand * sigmoid_slope(i), g * c * sigmoid_slope(f), g * i * tanh_slope(cand), g * f};
}

/// LSTM hidden state h' = sigmoid(o) tanh(c').
template <class V>
inline V lstm_output_value(const V& o_pre, const V& c_next) {
  return sigmoid(o_pre) * tanh(c_next);
}

template <class V>
struct LstmOutputGrads {
  V o_pre, c_next;
};
template <class V>
inline LstmOutputGrads<V> lstm_output_backward(const V& g, const V& o_pre, const V& c_next) {
  const V o = sigmoid(o_pre), t = tanh(c_next);
  return {g * t * sigmoid_slope(o), g * o * tanh_slope(t)};
}

/// A GRU step's inputs: the r, z, n parts of x W_ih^T + b_ih and of h W_hh^T + b_hh, and h.
template <class V>
struct GruInputs {
  V xr, xz, xn, hr, hz, hn, h;
};
/// Element j of a row's GRU inputs: px and ph are rows of xw and hw [3H], hv a row of h [H].
template <class T>
inline GruInputs<T> gru_inputs_at(const T* px, const T* ph, const T* hv, std::size_t H, std::size_t j) {
  return {px[j], px[H + j], px[2 * H + j], ph[j], ph[H + j], ph[2 * H + j], hv[j]};
}

template <class V>
struct GruGates {
  V r, z, n;
};
/// r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r hn).
template <class V>
inline GruGates<V> gru_gates(const GruInputs<V>& in) {
  const V r = sigmoid(in.xr + in.hr);
  return {r, sigmoid(in.xz + in.hz), tanh(in.xn + r * in.hn)};
}
/// h' = (1 - z) n + z h, written n + z (h - n).
template <class V>
inline V gru_value(const GruInputs<V>& in) {
  const GruGates<V> k = gru_gates(in);
  return k.n + k.z * (in.h - k.n);
}

/// The gradients of gru_value: r_pre and z_pre go to both the input and the hidden part.
template <class V>
struct GruGrads {
  V r_pre, z_pre, xn, hn, h;
};
template <class V>
inline GruGrads<V> gru_backward(const V& g, const GruInputs<V>& in) {
  const GruGates<V> k = gru_gates(in);
  const V n_pre = g * one_minus(k.z) * tanh_slope(k.n);
  return {n_pre * in.hn * sigmoid_slope(k.r), g * (in.h - k.n) * sigmoid_slope(k.z), n_pre, n_pre * k.r, g * k.z};
}

// ---- rows of [..., k·H] gates ---------------------------------------------------------------

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

/// body(r) for each row r of a [..., H] tensor of `numel` values.
template <class Body>
void for_each_row(std::size_t numel, std::size_t H, Body&& body) {
  const std::size_t rows = H == 0 ? 0 : numel / H;
  for (std::size_t r = 0; r < rows; ++r) body(r);
}

/// Gate k of [..., gates·H] as a Variable (the ops form's window).
template <class T>
Variable<T> gate(const Variable<T>& gates, std::size_t k, std::size_t hidden) {
  return narrow(gates, -1, static_cast<std::int64_t>(k * hidden), static_cast<std::int64_t>(hidden));
}

/// The gradient of [..., k·H] gates from one gradient per gate, side by side.
template <class T>
Variable<T> gates_gradient(const std::vector<Variable<T>>& parts) {
  return concat(parts, -1);
}

/// The fused ops' saved fact: the hidden size H.
struct Hidden {
  std::size_t H;
};

/// An LSTM op's value: out[..., j] = value(row of gates [..., 4H], state[..., j], j), one
/// vectorised loop per row.
template <class T, class Value>
xt::xarray<T> lstm_rows_value(const Variable<T>& gates, const Variable<T>& state, std::size_t H, Value value) {
  xt::xarray<T> out = xt::empty<T>(state.shape());
  for_each_row(state.numel(), H, [&](std::size_t r) {
    const T* gi = gates.value().data() + r * 4 * H;
    const T* pc = state.value().data() + r * H;
    T* po = out.data() + r * H;
#pragma omp simd
    for (std::size_t j = 0; j < H; ++j) po[j] = value(gi, pc[j], j);
  });
  return out;
}

/// An LSTM op's raw derivative in its inputs (gates [..., 4H], state [..., H]): per element,
/// grads(row of gates, state[..., j], g[..., j], row of dgates, j) writes the row's four gate
/// gradients at j and returns the state's.
template <class T, class RowGrads>
Grads<T> lstm_rows_backward(const GradContext<T>& ctx, std::size_t H, RowGrads grads) {
  xt::xarray<T> dgates = xt::empty<T>(ctx.in[0].shape()), dstate = xt::empty<T>(ctx.in[1].shape());
  for_each_row(dstate.size(), H, [&](std::size_t r) {
    const T* gi = ctx.in[0].value().data() + r * 4 * H;
    const T* pc = ctx.in[1].value().data() + r * H;
    const T* pg = ctx.grad.value().data() + r * H;
    T* dg = dgates.data() + r * 4 * H;
    T* ds = dstate.data() + r * H;
#pragma omp simd
    for (std::size_t j = 0; j < H; ++j) ds[j] = grads(gi, pc[j], pg[j], dg, j);
  });
  return {Variable<T>(std::move(dgates)), Variable<T>(std::move(dstate))};
}

}  // namespace

template <class T>
Variable<T> lstm_cell_state(const Variable<T>& gates, const Variable<T>& c) {
  const std::size_t H = check_gates("lstm_cell_state", gates, 4, c, "c");
  auto out = lstm_rows_value(gates, c, H, [H](const T* gi, T c, std::size_t j) {
    return lstm_state_value(c, gi[j], gi[H + j], gi[2 * H + j]);
  });
  return detail::make_fused_op<T>(
      "lstm_cell_state", std::move(out), {gates, c}, Hidden{H},
      [](const GradContext<T>& ctx, Hidden s) -> Grads<T> {
        const auto& gates = ctx.in[0];
        const auto d = lstm_state_backward(ctx.grad, ctx.in[1], gate(gates, 0, s.H), gate(gates, 1, s.H), gate(gates, 2, s.H));
        return {gates_gradient<T>({d.i_pre, d.f_pre, d.g_pre, zeros_like(ctx.grad)}), d.c};
      },
      [](const GradContext<T>& ctx, Hidden s) -> Grads<T> {
        const std::size_t H = s.H;
        return lstm_rows_backward(ctx, H, [H](const T* gi, T c, T g, T* dg, std::size_t j) {
          const auto d = lstm_state_backward(g, c, gi[j], gi[H + j], gi[2 * H + j]);
          dg[j] = d.i_pre;
          dg[H + j] = d.f_pre;
          dg[2 * H + j] = d.g_pre;
          dg[3 * H + j] = T(0);
          return d.c;
        });
      });
}

template <class T>
Variable<T> lstm_cell_output(const Variable<T>& gates, const Variable<T>& c_next) {
  const std::size_t H = check_gates("lstm_cell_output", gates, 4, c_next, "c'");
  auto out = lstm_rows_value(gates, c_next, H, [H](const T* gi, T c, std::size_t j) { return lstm_output_value(gi[3 * H + j], c); });
  return detail::make_fused_op<T>(
      "lstm_cell_output", std::move(out), {gates, c_next}, Hidden{H},
      [](const GradContext<T>& ctx, Hidden s) -> Grads<T> {
        const auto d = lstm_output_backward(ctx.grad, gate(ctx.in[0], 3, s.H), ctx.in[1]);
        const auto none = zeros_like(ctx.grad);
        return {gates_gradient<T>({none, none, none, d.o_pre}), d.c_next};
      },
      [](const GradContext<T>& ctx, Hidden s) -> Grads<T> {
        const std::size_t H = s.H;
        return lstm_rows_backward(ctx, H, [H](const T* gi, T c, T g, T* dg, std::size_t j) {
          const auto d = lstm_output_backward(g, gi[3 * H + j], c);
          dg[j] = dg[H + j] = dg[2 * H + j] = T(0);
          dg[3 * H + j] = d.o_pre;
          return d.c_next;
        });
      });
}

template <class T>
Variable<T> gru_cell(const Variable<T>& xw, const Variable<T>& hw, const Variable<T>& h) {
  const std::size_t H = check_gates("gru_cell", xw, 3, h, "h");
  TG_CHECK(hw.shape() == xw.shape(), "gru_cell",
           "the hidden part " + shape_str(hw.shape()) + " must have the input part's shape " + shape_str(xw.shape()));
  xt::xarray<T> out = xt::empty<T>(h.shape());
  for_each_row(h.numel(), H, [&](std::size_t r) {
    const T* px = xw.value().data() + r * 3 * H;
    const T* ph = hw.value().data() + r * 3 * H;
    const T* hv = h.value().data() + r * H;
    T* po = out.data() + r * H;
#pragma omp simd
    for (std::size_t j = 0; j < H; ++j) po[j] = gru_value(gru_inputs_at(px, ph, hv, H, j));
  });
  return detail::make_fused_op<T>(
      "gru_cell", std::move(out), {xw, hw, h}, Hidden{H},
      [](const GradContext<T>& ctx, Hidden s) -> Grads<T> {
        const auto &xw = ctx.in[0], &hw = ctx.in[1];
        const auto d = gru_backward<Variable<T>>(
            ctx.grad, {gate(xw, 0, s.H), gate(xw, 1, s.H), gate(xw, 2, s.H), gate(hw, 0, s.H), gate(hw, 1, s.H), gate(hw, 2, s.H), ctx.in[2]});
        return {gates_gradient<T>({d.r_pre, d.z_pre, d.xn}), gates_gradient<T>({d.r_pre, d.z_pre, d.hn}), d.h};
      },
      [](const GradContext<T>& ctx, Hidden s) -> Grads<T> {
        const std::size_t H = s.H;
        xt::xarray<T> dxw = xt::empty<T>(ctx.in[0].shape()), dhw = xt::empty<T>(ctx.in[1].shape()), dh = xt::empty<T>(ctx.in[2].shape());
        for_each_row(dh.size(), H, [&](std::size_t r) {
          const T* px = ctx.in[0].value().data() + r * 3 * H;
          const T* ph = ctx.in[1].value().data() + r * 3 * H;
          const T* hv = ctx.in[2].value().data() + r * H;
          const T* pg = ctx.grad.value().data() + r * H;
          T* dx = dxw.data() + r * 3 * H;
          T* dhh = dhw.data() + r * 3 * H;
          T* pdh = dh.data() + r * H;
#pragma omp simd
          for (std::size_t j = 0; j < H; ++j) {
            const auto d = gru_backward(pg[j], gru_inputs_at(px, ph, hv, H, j));
            dx[j] = dhh[j] = d.r_pre;
            dx[H + j] = dhh[H + j] = d.z_pre;
            dx[2 * H + j] = d.xn;
            dhh[2 * H + j] = d.hn;
            pdh[j] = d.h;
          }
        });
        return {Variable<T>(std::move(dxw)), Variable<T>(std::move(dhw)), Variable<T>(std::move(dh))};
      });
}

TG_INSTANTIATE_OPS(lstm_cell_state, lstm_cell_output, gru_cell)

}  // namespace tg
