#pragma once
// The pointwise parts of the LSTM and GRU steps as fused ops: each reads its gates where the
// step's GEMM wrote them (no split into pieces, no intermediate per gate) and computes its
// result in one vectorised loop. Their derivatives are fused loops too when nothing records
// them, and compositions of ops (narrow, sigmoid, tanh, concat, ...) under create_graph, so
// second derivatives work (autograd/ops/fused.hpp); both forms are checked against each other in
// tests/ops/test_ops_fused.cpp.
#include "../core/variable.hpp"

namespace tg {

/// The LSTM's next cell state from gates [..., 4H] (i, f, g, o) and c [..., H]:
/// c' = sigmoid(f) c + sigmoid(i) tanh(g).
template <class T> Variable<T> lstm_cell_state(const Variable<T>& gates, const Variable<T>& c);
/// The LSTM's next hidden state from gates [..., 4H] and the new cell state c' [..., H]:
/// h' = sigmoid(o) tanh(c').
template <class T> Variable<T> lstm_cell_output(const Variable<T>& gates, const Variable<T>& c_next);
/// The GRU's next hidden state from the input part xw = x W_ih^T + b_ih [..., 3H], the hidden
/// part hw = h W_hh^T + b_hh [..., 3H] (both r, z, n) and h [..., H]: r = sigmoid(xr + hr),
/// z = sigmoid(xz + hz), n = tanh(xn + r hn), h' = (1 - z) n + z h.
template <class T> Variable<T> gru_cell(const Variable<T>& xw, const Variable<T>& hw, const Variable<T>& h);

}  // namespace tg
