#pragma once
// Recurrent layers: the one-step cells RNNCell, LSTMCell, GRUCell and the sequence layers RNN,
// LSTM, GRU (stacked, bidirectional, batch_first, variable-length batches). Shapes, defaults,
// gate order (LSTM i,f,g,o; GRU r,z,n), initialisation and parameter names (weight_ih_l0,
// bias_hh_l1_reverse, ...) are PyTorch's, so state dicts map one to one. Every step is written
// with ops: the fused linear op (h W_hh^T accumulated onto the step's input projection, one GEMM)
// and the cells' fused pointwise ops (autograd/ops/recurrent.hpp), whose derivatives are ops under
// create_graph, so double backward works. A layer computes the input projection of all time
// steps in one GEMM and splits it into steps (split gathers their gradients into one buffer).
#include <cstddef>
#include <string>
#include <vector>

#include "module.hpp"

namespace tg::nn {

enum class Nonlinearity { tanh, relu };

/// The state an LSTM carries: hidden h and cell c.
template <class T = float>
struct LSTMState {
  Variable<T> h;
  Variable<T> c;
};

// ---- cells: one time step; x is [batch, input_size] or [input_size] ---------------------------

/// What the three cells share: weight_ih [G·H, in], weight_hh [G·H, H], bias_ih, bias_hh [G·H]
/// (G gates: RNN 1, GRU 3, LSTM 4), all U(-1/sqrt(H), 1/sqrt(H)), and their sizes.
template <class T>
class RecurrentCellBase : public Module<T> {
 public:
  std::string extra_repr() const override;

  Variable<T> weight_ih, weight_hh, bias_ih, bias_hh;  // biases undefined without bias

 protected:
  RecurrentCellBase(const char* name, std::size_t input_size, std::size_t hidden_size, std::size_t gates, bool bias);
  /// Checks x ([batch, in] or [in]) and returns the shape of the state that goes with it.
  Shape state_shape(const Variable<T>& x) const;
  /// `state` checked against `shape`, or zeros where it is undefined.
  Variable<T> state_or_zeros(const char* what, const Variable<T>& state, const Shape& shape, const Variable<T>& x) const;

 private:
  const char* name_;
  std::size_t input_size_, hidden_size_;
};

struct RNNCellOptions {
  bool bias = true;
  Nonlinearity nonlinearity = Nonlinearity::tanh;
};

/// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu). Parameters weight_ih [H, in],
/// weight_hh [H, H], bias_ih, bias_hh [H], all U(-1/sqrt(H), 1/sqrt(H)).
template <class T = float>
class RNNCell : public RecurrentCellBase<T> {
 public:
  RNNCell(std::size_t input_size, std::size_t hidden_size, RNNCellOptions options = {});
  /// One step from h = 0.
  Variable<T> forward(const Variable<T>& x) override { return forward(x, Variable<T>()); }
  /// One step from h ([batch, H], or [H] for an unbatched x).
  Variable<T> forward(const Variable<T>& x, const Variable<T>& h);
  using Module<T>::operator();
  Variable<T> operator()(const Variable<T>& x, const Variable<T>& h) { return forward(x, h); }
  std::string extra_repr() const override;

 private:
  RNNCellOptions options_;
};

struct LSTMCellOptions {
  bool bias = true;
};

/// gates = x W_ih^T + b_ih + h W_hh^T + b_hh split into i, f, g, o; c' = σ(f) c + σ(i) tanh(g),
/// h' = σ(o) tanh(c'). weight_ih [4H, in], weight_hh [4H, H], biases [4H].
template <class T = float>
class LSTMCell : public RecurrentCellBase<T> {
 public:
  LSTMCell(std::size_t input_size, std::size_t hidden_size, LSTMCellOptions options = {});
  /// One step from h = c = 0; returns h'.
  Variable<T> forward(const Variable<T>& x) override { return forward(x, LSTMState<T>{}).h; }
  /// One step from the given state (undefined parts are zeros); returns {h', c'}.
  LSTMState<T> forward(const Variable<T>& x, const LSTMState<T>& state);
  using Module<T>::operator();
  LSTMState<T> operator()(const Variable<T>& x, const LSTMState<T>& state) { return forward(x, state); }
};

struct GRUCellOptions {
  bool bias = true;
};

/// r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr), z likewise, n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),
/// h' = (1 - z) n + z h. weight_ih [3H, in], weight_hh [3H, H] (rows r, z, n), biases [3H].
template <class T = float>
class GRUCell : public RecurrentCellBase<T> {
 public:
  GRUCell(std::size_t input_size, std::size_t hidden_size, GRUCellOptions options = {});
  Variable<T> forward(const Variable<T>& x) override { return forward(x, Variable<T>()); }
  Variable<T> forward(const Variable<T>& x, const Variable<T>& h);
  using Module<T>::operator();
  Variable<T> operator()(const Variable<T>& x, const Variable<T>& h) { return forward(x, h); }
};

// ---- layers: whole sequences ---------------------------------------------------------------------

struct RNNOptions {
  std::size_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;      // input and output [batch, time, features] instead of [time, batch, features]
  double dropout = 0;            // on the outputs of every layer but the last, in training mode
  bool bidirectional = false;
  Nonlinearity nonlinearity = Nonlinearity::tanh;
};

struct LSTMOptions {
  std::size_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0;
  bool bidirectional = false;
  std::size_t proj_size = 0;     // > 0: h is projected to this size by weight_hr_l<k> [proj_size, hidden]
};

struct GRUOptions {
  std::size_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0;
  bool bidirectional = false;
};

/// What RNN and GRU return: output [time, batch, D·H] (batch_first: [batch, time, D·H]) and the
/// final hidden state h_n [layers·D, batch, H] (D = 2 when bidirectional). With lengths, each
/// sequence's final state is taken at its own length and its padded outputs are exactly zero.
template <class T = float>
struct RNNOutput {
  Variable<T> output;
  Variable<T> h_n;
};

/// What LSTM returns: output as above (features D·H, or D·proj_size), and the final h_n
/// [layers·D, batch, H or proj_size] and c_n [layers·D, batch, H].
template <class T = float>
struct LSTMOutput {
  Variable<T> output;
  LSTMState<T> state;  // {h_n, c_n}
};

enum class RecurrentKind { rnn_tanh, rnn_relu, lstm, gru };
struct RecurrentConfig {
  RecurrentKind kind;
  std::size_t input_size, hidden_size, num_layers, proj_size;
  bool bias, batch_first, bidirectional;
  double dropout;
};

/// The machinery RNN, LSTM and GRU share: parameters per layer and direction, the time loop,
/// variable lengths, stacking and the output shapes.
template <class T>
class RecurrentBase : public Module<T> {
 public:
  std::string extra_repr() const override;
  std::size_t input_size() const { return config_.input_size; }
  std::size_t hidden_size() const { return config_.hidden_size; }
  std::size_t num_layers() const { return config_.num_layers; }
  bool bidirectional() const { return config_.bidirectional; }
  bool batch_first() const { return config_.batch_first; }

 protected:
  RecurrentBase(const char* name, RecurrentConfig config);
  /// output, h_n and (LSTM) c_n; h0 / c0 may be undefined (zeros).
  struct Result {
    Variable<T> output, h_n, c_n;
  };
  Result run(const Variable<T>& input, const Variable<T>& h0, const Variable<T>& c0,
             const std::vector<std::size_t>& lengths);

 private:
  struct Weights {
    Variable<T> w_ih, w_hh, b_ih, b_hh, w_hr;
  };
  /// One call's input laid out [time, batch, in], and what its steps need to know.
  struct Sequence {
    Variable<T> input;                 // [time, batch, in]
    Shape given_shape;                 // the input as given, for error messages
    std::size_t steps, batch;
    bool unbatched;
    std::vector<Variable<T>> running;  // per step: 0/1 column [batch, 1] where some sequence has ended, else undefined
    Variable<T> zero;                  // what ended sequences output
  };
  /// The final h (and c) of every layer and direction, in slot order.
  struct FinalStates {
    std::vector<Variable<T>> h, c;
  };

  std::size_t directions() const { return config_.bidirectional ? 2 : 1; }
  std::size_t output_size() const { return config_.proj_size > 0 ? config_.proj_size : config_.hidden_size; }
  bool is_lstm() const { return config_.kind == RecurrentKind::lstm; }

  Sequence time_major(const Variable<T>& input) const;
  Variable<T> checked_initial_state(const Variable<T>& given, const char* what, std::size_t width, const Sequence& seq) const;
  std::vector<Variable<T>> running_masks(const std::vector<std::size_t>& lengths, const Sequence& seq) const;
  void check_lengths(const std::vector<std::size_t>& lengths, const Sequence& seq) const;
  Variable<T> run_layer(const Variable<T>& rows, std::size_t layer, const Sequence& seq, const LSTMState<T>& initial,
                        FinalStates& final_states) const;
  Variable<T> run_direction(const Variable<T>& rows, std::size_t slot, bool reverse, const Sequence& seq,
                            const LSTMState<T>& initial, FinalStates& final_states) const;
  Variable<T> step(LSTMState<T>& state, const Variable<T>& xw, const Weights& w, const Sequence& seq, std::size_t t) const;
  LSTMState<T> cell_step(const Variable<T>& xw, const LSTMState<T>& state, const Weights& w) const;
  Result caller_layout(const Variable<T>& rows, const FinalStates& final_states, const Sequence& seq) const;

  const char* name_;
  RecurrentConfig config_;
  std::vector<Weights> weights_;  // layer-major, then direction
};

/// Elman RNN over a sequence. Parameters per layer k (and _reverse): weight_ih_l<k>, weight_hh_l<k>,
/// bias_ih_l<k>, bias_hh_l<k>.
template <class T = float>
class RNN : public RecurrentBase<T> {
 public:
  RNN(std::size_t input_size, std::size_t hidden_size, RNNOptions options = {});
  /// input [time, batch, in] ([batch, time, in] if batch_first; [time, in] unbatched); h0
  /// [layers·D, batch, H] or undefined (zeros); lengths: one per batch entry, each in 1..time, or
  /// empty (all full length).
  RNNOutput<T> forward(const Variable<T>& input, const Variable<T>& h0, const std::vector<std::size_t>& lengths = {});
  /// The output alone, from zero state (for Sequential).
  Variable<T> forward(const Variable<T>& input) override { return forward(input, Variable<T>()).output; }
};

/// LSTM over a sequence; parameters as RNN's with 4H rows (i, f, g, o), and weight_hr_l<k> with proj_size.
template <class T = float>
class LSTM : public RecurrentBase<T> {
 public:
  LSTM(std::size_t input_size, std::size_t hidden_size, LSTMOptions options = {});
  LSTMOutput<T> forward(const Variable<T>& input, const LSTMState<T>& state, const std::vector<std::size_t>& lengths = {});
  Variable<T> forward(const Variable<T>& input) override { return forward(input, LSTMState<T>{}).output; }
};

/// GRU over a sequence; parameters as RNN's with 3H rows (r, z, n).
template <class T = float>
class GRU : public RecurrentBase<T> {
 public:
  GRU(std::size_t input_size, std::size_t hidden_size, GRUOptions options = {});
  RNNOutput<T> forward(const Variable<T>& input, const Variable<T>& h0, const std::vector<std::size_t>& lengths = {});
  Variable<T> forward(const Variable<T>& input) override { return forward(input, Variable<T>()).output; }
};

// ---- truncated backpropagation through time -------------------------------------------------------

/// The carried state with its values kept and its graph cut: the next chunk's backward stops here.
template <class T> Variable<T> detach_state(const Variable<T>& h);
template <class T> LSTMState<T> detach_state(const LSTMState<T>& state);

/// A long sequence cut along its time axis (0, or 1 when batch_first) into chunks of `chunk`
/// steps (the last one shorter): run each chunk from the previous chunk's detached state.
template <class T>
std::vector<Variable<T>> time_chunks(const Variable<T>& sequence, std::size_t chunk, bool batch_first = false);

extern template class RecurrentCellBase<float>;
extern template class RecurrentCellBase<double>;
extern template class RNNCell<float>;
extern template class RNNCell<double>;
extern template class LSTMCell<float>;
extern template class LSTMCell<double>;
extern template class GRUCell<float>;
extern template class GRUCell<double>;
extern template class RecurrentBase<float>;
extern template class RecurrentBase<double>;
extern template class RNN<float>;
extern template class RNN<double>;
extern template class LSTM<float>;
extern template class LSTM<double>;
extern template class GRU<float>;
extern template class GRU<double>;

}  // namespace tg::nn
