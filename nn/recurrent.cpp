// Recurrent cells and layers, written with ops: a step is the fused linear op (h W_hh^T added
// onto the step's input projection in one GEMM) and the cell's fused pointwise op(s)
// (autograd/ops/recurrent), which read the gates where the GEMM wrote them.
#include "recurrent.hpp"

#include <cmath>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/linalg.hpp"
#include "../autograd/ops/recurrent.hpp"
#include "../autograd/ops/select.hpp"
#include "../autograd/ops/shape.hpp"
#include "dropout.hpp"
#include "init.hpp"

namespace tg::nn {

namespace {


std::size_t gate_count(RecurrentKind kind) {
  switch (kind) {
    case RecurrentKind::lstm: return 4;
    case RecurrentKind::gru: return 3;
    default: return 1;
  }
}

/// A parameter of shape `shape`, U(-1/sqrt(hidden), 1/sqrt(hidden)) as PyTorch's recurrent layers.
template <class T>
Variable<T> recurrent_parameter(Module<T>& module, std::string name, const Shape& shape, std::size_t hidden) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  return init::uniform_(module.register_parameter(std::move(name), zeros<T>(shape)), -bound, bound);
}

/// The parameters every cell has: weight_ih<suffix> [G·H, in], weight_hh<suffix> [G·H, state]
/// and, with bias, bias_ih<suffix> and bias_hh<suffix> [G·H], registered on `module` in that order.
template <class T>
struct GateParameters {
  Variable<T> w_ih, w_hh, b_ih, b_hh;
};

template <class T>
GateParameters<T> register_gate_parameters(Module<T>& module, const std::string& suffix, std::size_t gates, std::size_t in,
                                           std::size_t state, std::size_t hidden, bool bias) {
  GateParameters<T> p;
  p.w_ih = recurrent_parameter(module, "weight_ih" + suffix, {gates * hidden, in}, hidden);
  p.w_hh = recurrent_parameter(module, "weight_hh" + suffix, {gates * hidden, state}, hidden);
  if (bias) {
    p.b_ih = recurrent_parameter(module, "bias_ih" + suffix, {gates * hidden}, hidden);
    p.b_hh = recurrent_parameter(module, "bias_hh" + suffix, {gates * hidden}, hidden);
  }
  return p;
}

/// b_ih + b_hh where both exist: the two biases of RNN and LSTM always appear summed, so they
/// are added once (a [G·H] vector) and ride on the input projection's GEMM.
template <class T>
Variable<T> summed_bias(const Variable<T>& b_ih, const Variable<T>& b_hh) {
  return b_ih.defined() ? b_ih + b_hh : Variable<T>();
}

/// Slot `slot` [batch, width] of an initial state [slots, batch, width], or zeros where it is undefined.
template <class T>
Variable<T> state_slot(const Variable<T>& given, std::size_t slot, std::size_t batch, std::size_t width) {
  if (!given.defined()) return zeros<T>({batch, width});
  return reshape(narrow(given, 0, static_cast<std::int64_t>(slot), 1),
                 {static_cast<std::int64_t>(batch), static_cast<std::int64_t>(width)});
}

std::vector<std::int64_t> equal_parts(std::size_t parts, std::size_t size) {
  return std::vector<std::int64_t>(parts, static_cast<std::int64_t>(size));
}

// One step of each cell from xw, the step's input projection (x W_ih^T plus the biases that ride on it).

template <class T>
Variable<T> rnn_step(const Variable<T>& xw, const Variable<T>& h, const Variable<T>& w_hh, bool relu) {
  Variable<T> pre = linear(h, w_hh, xw);
  return relu ? tg::relu(pre) : tg::tanh(pre);
}

template <class T>
LSTMState<T> lstm_step(const Variable<T>& xw, const LSTMState<T>& state, const Variable<T>& w_hh, const Variable<T>& w_hr) {
  const Variable<T> gates = linear(state.h, w_hh, xw);  // i, f, g, o
  Variable<T> c = lstm_cell_state(gates, state.c);       // sigmoid(f) c + sigmoid(i) tanh(g)
  Variable<T> h = lstm_cell_output(gates, c);            // sigmoid(o) tanh(c')
  if (w_hr.defined()) h = linear(h, w_hr);
  return {h, c};
}

template <class T>
Variable<T> gru_step(const Variable<T>& xw, const Variable<T>& h, const Variable<T>& w_hh, const Variable<T>& b_hh) {
  return gru_cell(xw, linear(h, w_hh, b_hh), h);  // r, z, n from x W_ih^T + b_ih and h W_hh^T + b_hh
}

}  // namespace

// ---- cells ----------------------------------------------------------------------------------------

template <class T>
RecurrentCellBase<T>::RecurrentCellBase(const char* name, std::size_t input_size, std::size_t hidden_size, std::size_t gates,
                                        bool bias)
    : name_(name), input_size_(input_size), hidden_size_(hidden_size) {
  TG_CHECK(input_size > 0 && hidden_size > 0, name,
           "input_size and hidden_size must be positive, got " + std::to_string(input_size) + " and " + std::to_string(hidden_size));
  const GateParameters<T> p = register_gate_parameters(*this, "", gates, input_size, hidden_size, hidden_size, bias);
  weight_ih = p.w_ih;
  weight_hh = p.w_hh;
  bias_ih = p.b_ih;
  bias_hh = p.b_hh;
}

template <class T>
Shape RecurrentCellBase<T>::state_shape(const Variable<T>& x) const {
  TG_CHECK((x.dim() == 1 || x.dim() == 2) && x.shape().back() == input_size_, name_,
           "input " + shape_str(x.shape()) + " must be [batch, " + std::to_string(input_size_) + "] or [" +
               std::to_string(input_size_) + "]");
  return x.dim() == 2 ? Shape{x.shape()[0], hidden_size_} : Shape{hidden_size_};
}

template <class T>
Variable<T> RecurrentCellBase<T>::state_or_zeros(const char* what, const Variable<T>& state, const Shape& shape,
                                                 const Variable<T>& x) const {
  if (!state.defined()) return zeros<T>(shape);
  TG_CHECK(state.shape() == shape, name_,
           std::string(what) + " " + shape_str(state.shape()) + " must be " + shape_str(shape) + " for input " + shape_str(x.shape()));
  return state;
}

template <class T>
std::string RecurrentCellBase<T>::extra_repr() const {
  return std::to_string(input_size_) + ", " + std::to_string(hidden_size_) + (bias_ih.defined() ? "" : ", bias=false");
}

template <class T>
RNNCell<T>::RNNCell(std::size_t input_size, std::size_t hidden_size, RNNCellOptions options)
    : RecurrentCellBase<T>("RNNCell", input_size, hidden_size, gate_count(RecurrentKind::rnn_tanh), options.bias), options_(options) {}

template <class T>
Variable<T> RNNCell<T>::forward(const Variable<T>& x, const Variable<T>& h) {
  const Variable<T> h0 = this->state_or_zeros("hidden state", h, this->state_shape(x), x);
  return rnn_step(linear(x, this->weight_ih, summed_bias(this->bias_ih, this->bias_hh)), h0, this->weight_hh,
                  options_.nonlinearity == Nonlinearity::relu);
}

template <class T>
std::string RNNCell<T>::extra_repr() const {
  return RecurrentCellBase<T>::extra_repr() + (options_.nonlinearity == Nonlinearity::relu ? ", nonlinearity=relu" : "");
}

template <class T>
LSTMCell<T>::LSTMCell(std::size_t input_size, std::size_t hidden_size, LSTMCellOptions options)
    : RecurrentCellBase<T>("LSTMCell", input_size, hidden_size, gate_count(RecurrentKind::lstm), options.bias) {}

template <class T>
LSTMState<T> LSTMCell<T>::forward(const Variable<T>& x, const LSTMState<T>& state) {
  const Shape shape = this->state_shape(x);
  const LSTMState<T> s{this->state_or_zeros("hidden state", state.h, shape, x), this->state_or_zeros("cell state", state.c, shape, x)};
  return lstm_step(linear(x, this->weight_ih, summed_bias(this->bias_ih, this->bias_hh)), s, this->weight_hh, Variable<T>());
}

template <class T>
GRUCell<T>::GRUCell(std::size_t input_size, std::size_t hidden_size, GRUCellOptions options)
    : RecurrentCellBase<T>("GRUCell", input_size, hidden_size, gate_count(RecurrentKind::gru), options.bias) {}

template <class T>
Variable<T> GRUCell<T>::forward(const Variable<T>& x, const Variable<T>& h) {
  const Variable<T> h0 = this->state_or_zeros("hidden state", h, this->state_shape(x), x);
  return gru_step(linear(x, this->weight_ih, this->bias_ih), h0, this->weight_hh, this->bias_hh);
}

// ---- layers ---------------------------------------------------------------------------------------


template <class T>
RecurrentBase<T>::RecurrentBase(const char* name, RecurrentConfig config) : name_(name), config_(config) {
  const auto& c = config;
  TG_CHECK(c.input_size > 0 && c.hidden_size > 0 && c.num_layers > 0, name,
           "input_size, hidden_size and num_layers must be positive, got " + std::to_string(c.input_size) + ", " +
               std::to_string(c.hidden_size) + " and " + std::to_string(c.num_layers));
  TG_CHECK(c.dropout >= 0 && c.dropout <= 1, name, "dropout must be in [0, 1], got " + std::to_string(c.dropout));
  TG_CHECK(c.proj_size < c.hidden_size, name,
           "proj_size " + std::to_string(c.proj_size) + " must be smaller than hidden_size " + std::to_string(c.hidden_size));
  const std::size_t gates = gate_count(c.kind), directions = c.bidirectional ? 2 : 1;
  const std::size_t out = c.proj_size > 0 ? c.proj_size : c.hidden_size;
  for (std::size_t layer = 0; layer < c.num_layers; ++layer)
    for (std::size_t d = 0; d < directions; ++d) {
      const std::string suffix = "_l" + std::to_string(layer) + (d == 1 ? "_reverse" : "");
      const std::size_t in = layer == 0 ? c.input_size : out * directions;
      const GateParameters<T> p = register_gate_parameters(*this, suffix, gates, in, out, c.hidden_size, c.bias);
      Weights w{p.w_ih, p.w_hh, p.b_ih, p.b_hh, Variable<T>()};
      if (c.proj_size > 0) w.w_hr = recurrent_parameter(*this, "weight_hr" + suffix, {c.proj_size, c.hidden_size}, c.hidden_size);
      weights_.push_back(w);
    }
}

template <class T>
std::string RecurrentBase<T>::extra_repr() const {
  const auto& c = config_;
  std::string s = std::to_string(c.input_size) + ", " + std::to_string(c.hidden_size);
  if (c.num_layers != 1) s += ", num_layers=" + std::to_string(c.num_layers);
  if (c.kind == RecurrentKind::rnn_relu) s += ", nonlinearity=relu";
  if (!c.bias) s += ", bias=false";
  if (c.batch_first) s += ", batch_first=true";
  if (c.dropout > 0) s += ", dropout=" + number_str(c.dropout);
  if (c.bidirectional) s += ", bidirectional=true";
  if (c.proj_size > 0) s += ", proj_size=" + std::to_string(c.proj_size);
  return s;
}

template <class T>
typename RecurrentBase<T>::Result RecurrentBase<T>::run(const Variable<T>& input, const Variable<T>& h0, const Variable<T>& c0,
                                                        const std::vector<std::size_t>& lengths) {
  Sequence seq = time_major(input);
  const LSTMState<T> initial{checked_initial_state(h0, "h0", output_size(), seq),
                             is_lstm() ? checked_initial_state(c0, "c0", config_.hidden_size, seq) : Variable<T>()};
  seq.running = running_masks(lengths, seq);
  // The layer's input as rows [time·batch, features]: the input projection of every step is one GEMM.
  Variable<T> rows = reshape(seq.input, {static_cast<std::int64_t>(seq.steps * seq.batch), static_cast<std::int64_t>(config_.input_size)});
  FinalStates final_states;
  for (std::size_t layer = 0; layer < config_.num_layers; ++layer) {
    if (layer > 0 && config_.dropout > 0 && this->is_training()) rows = dropout(rows, config_.dropout, true);
    rows = run_layer(rows, layer, seq, initial, final_states);
  }
  return caller_layout(rows, final_states, seq);
}

/// Checks the input and lays it out [time, batch, in].
template <class T>
typename RecurrentBase<T>::Sequence RecurrentBase<T>::time_major(const Variable<T>& input) const {
  const auto& cfg = config_;
  TG_CHECK(input.defined(), name_, "the input is undefined");
  TG_CHECK((input.dim() == 3 || input.dim() == 2) && input.shape().back() == cfg.input_size, name_,
           "input " + shape_str(input.shape()) + " must be " + (cfg.batch_first ? "[batch, time, " : "[time, batch, ") +
               std::to_string(cfg.input_size) + "] (or [time, " + std::to_string(cfg.input_size) + "] unbatched)");
  Sequence seq;
  seq.given_shape = input.shape();
  seq.unbatched = input.dim() == 2;
  seq.input = seq.unbatched ? unsqueeze(input, 1) : cfg.batch_first ? transpose(input, 0, 1) : input;
  seq.steps = seq.input.shape()[0];
  seq.batch = seq.input.shape()[1];
  TG_CHECK(seq.steps > 0 && seq.batch > 0, name_, "input " + shape_str(input.shape()) + " has no time steps or no sequences");
  seq.zero = scalar<T>(0);
  return seq;
}

/// h0 or c0 as given ([layers·D, batch, width], or [layers·D, width] unbatched) checked and with
/// a batch axis; undefined stays undefined (zeros).
template <class T>
Variable<T> RecurrentBase<T>::checked_initial_state(const Variable<T>& given, const char* what, std::size_t width,
                                                    const Sequence& seq) const {
  if (!given.defined()) return given;
  const std::size_t slots = config_.num_layers * directions();
  const Shape expected = seq.unbatched ? Shape{slots, width} : Shape{slots, seq.batch, width};
  TG_CHECK(given.shape() == expected, name_,
           std::string(what) + " " + shape_str(given.shape()) + " must be " + shape_str(expected) + " (layers x directions = " +
               std::to_string(slots) + ") for input " + shape_str(seq.given_shape));
  return seq.unbatched ? unsqueeze(given, 1) : given;
}

/// Variable lengths: a 0/1 column per step, where some sequence has ended (undefined where all run).
template <class T>
std::vector<Variable<T>> RecurrentBase<T>::running_masks(const std::vector<std::size_t>& lengths, const Sequence& seq) const {
  std::vector<Variable<T>> running(seq.steps);
  if (lengths.empty()) return running;
  check_lengths(lengths, seq);
  for (std::size_t t = 0; t < seq.steps; ++t) {
    xt::xarray<T> mask = xt::empty<T>(Shape{seq.batch, 1});
    bool all = true;
    for (std::size_t b = 0; b < seq.batch; ++b) {
      mask(b, 0) = T(t < lengths[b]);
      all = all && t < lengths[b];
    }
    if (!all) running[t] = Variable<T>(std::move(mask));
  }
  return running;
}

/// One length per sequence, each in 1..time.
template <class T>
void RecurrentBase<T>::check_lengths(const std::vector<std::size_t>& lengths, const Sequence& seq) const {
  TG_CHECK(lengths.size() == seq.batch, name_,
           std::to_string(lengths.size()) + " lengths for a batch of " + std::to_string(seq.batch) + " sequences (input " +
               shape_str(seq.given_shape) + ")");
  for (std::size_t b = 0; b < seq.batch; ++b)
    TG_CHECK(lengths[b] >= 1 && lengths[b] <= seq.steps, name_,
             "length " + std::to_string(lengths[b]) + " of sequence " + std::to_string(b) + " is outside 1.." +
                 std::to_string(seq.steps) + " (input " + shape_str(seq.given_shape) + ")");
}

/// One layer over all steps, both directions: its output rows [time·batch, D·out].
template <class T>
Variable<T> RecurrentBase<T>::run_layer(const Variable<T>& rows, std::size_t layer, const Sequence& seq,
                                        const LSTMState<T>& initial, FinalStates& final_states) const {
  std::vector<Variable<T>> direction_outputs;
  for (std::size_t d = 0; d < directions(); ++d)
    direction_outputs.push_back(run_direction(rows, layer * directions() + d, d == 1, seq, initial, final_states));
  return directions() == 1 ? direction_outputs[0] : concat(direction_outputs, 1);
}

/// One layer in one direction (`slot` = layer·D + direction): its output rows [time·batch, out].
template <class T>
Variable<T> RecurrentBase<T>::run_direction(const Variable<T>& rows, std::size_t slot, bool reverse, const Sequence& seq,
                                            const LSTMState<T>& initial, FinalStates& final_states) const {
  const Weights& w = weights_[slot];
  const Variable<T> xw_all = linear(rows, w.w_ih, config_.kind == RecurrentKind::gru ? w.b_ih : summed_bias(w.b_ih, w.b_hh));
  const std::vector<Variable<T>> xw = split(xw_all, equal_parts(seq.steps, seq.batch), 0);
  LSTMState<T> state{state_slot(initial.h, slot, seq.batch, output_size()),
                     is_lstm() ? state_slot(initial.c, slot, seq.batch, config_.hidden_size) : Variable<T>()};
  std::vector<Variable<T>> outputs(seq.steps);
  for (std::size_t i = 0; i < seq.steps; ++i) {
    const std::size_t t = reverse ? seq.steps - 1 - i : i;
    outputs[t] = step(state, xw[t], w, seq, t);
  }
  final_states.h.push_back(state.h);
  if (is_lstm()) final_states.c.push_back(state.c);
  return concat(outputs, 0);
}

/// Time step t: moves `state` on and returns the step's output. Sequences that have ended by t
/// keep their state and output zeros.
template <class T>
Variable<T> RecurrentBase<T>::step(LSTMState<T>& state, const Variable<T>& xw, const Weights& w, const Sequence& seq,
                                   std::size_t t) const {
  LSTMState<T> next = cell_step(xw, state, w);
  const Variable<T>& running = seq.running[t];
  if (!running.defined()) {
    state = next;
    return next.h;
  }
  Variable<T> output = where(running, next.h, seq.zero);
  state.h = where(running, next.h, state.h);
  if (is_lstm()) state.c = where(running, next.c, state.c);
  return output;
}

/// The cell's step from `state` ({h, c}; c undefined but for LSTM).
template <class T>
LSTMState<T> RecurrentBase<T>::cell_step(const Variable<T>& xw, const LSTMState<T>& state, const Weights& w) const {
  switch (config_.kind) {
    case RecurrentKind::lstm: return lstm_step(xw, state, w.w_hh, w.w_hr);
    case RecurrentKind::gru: return {gru_step(xw, state.h, w.w_hh, w.b_hh), Variable<T>()};
    default: return {rnn_step(xw, state.h, w.w_hh, config_.kind == RecurrentKind::rnn_relu), Variable<T>()};
  }
}

/// The last layer's rows and the final states in the caller's layout (batch_first, unbatched).
template <class T>
typename RecurrentBase<T>::Result RecurrentBase<T>::caller_layout(const Variable<T>& rows, const FinalStates& final_states,
                                                                  const Sequence& seq) const {
  const auto width = static_cast<std::int64_t>(output_size() * directions());
  Variable<T> output = reshape(rows, {static_cast<std::int64_t>(seq.steps), static_cast<std::int64_t>(seq.batch), width});
  Variable<T> h_n = stack(final_states.h, 0), c_n = is_lstm() ? stack(final_states.c, 0) : Variable<T>();
  if (seq.unbatched) {
    output = squeeze(output, {1});
    h_n = squeeze(h_n, {1});
    if (is_lstm()) c_n = squeeze(c_n, {1});
  } else if (config_.batch_first) {
    output = transpose(output, 0, 1);
  }
  return {output, h_n, c_n};
}

template <class T>
RNN<T>::RNN(std::size_t input_size, std::size_t hidden_size, RNNOptions o)
    : RecurrentBase<T>("RNN", {o.nonlinearity == Nonlinearity::relu ? RecurrentKind::rnn_relu : RecurrentKind::rnn_tanh,
                                       input_size, hidden_size, o.num_layers, 0, o.bias, o.batch_first, o.bidirectional,
                                       o.dropout}) {}

template <class T>
RNNOutput<T> RNN<T>::forward(const Variable<T>& input, const Variable<T>& h0, const std::vector<std::size_t>& lengths) {
  auto r = this->run(input, h0, Variable<T>(), lengths);
  return {r.output, r.h_n};
}

template <class T>
LSTM<T>::LSTM(std::size_t input_size, std::size_t hidden_size, LSTMOptions o)
    : RecurrentBase<T>("LSTM", {RecurrentKind::lstm, input_size, hidden_size, o.num_layers, o.proj_size, o.bias,
                                        o.batch_first, o.bidirectional, o.dropout}) {}

template <class T>
LSTMOutput<T> LSTM<T>::forward(const Variable<T>& input, const LSTMState<T>& state, const std::vector<std::size_t>& lengths) {
  TG_CHECK(state.h.defined() == state.c.defined(), "LSTM",
           "give both h0 and c0 of the initial state, or neither (input " + shape_str(input.shape()) + ")");
  auto r = this->run(input, state.h, state.c, lengths);
  return {r.output, {r.h_n, r.c_n}};
}

template <class T>
GRU<T>::GRU(std::size_t input_size, std::size_t hidden_size, GRUOptions o)
    : RecurrentBase<T>("GRU", {RecurrentKind::gru, input_size, hidden_size, o.num_layers, 0, o.bias, o.batch_first,
                                       o.bidirectional, o.dropout}) {}

template <class T>
RNNOutput<T> GRU<T>::forward(const Variable<T>& input, const Variable<T>& h0, const std::vector<std::size_t>& lengths) {
  auto r = this->run(input, h0, Variable<T>(), lengths);
  return {r.output, r.h_n};
}

// ---- truncated backpropagation through time -------------------------------------------------------

template <class T>
Variable<T> detach_state(const Variable<T>& h) {
  return h.defined() ? h.detach() : h;
}

template <class T>
LSTMState<T> detach_state(const LSTMState<T>& state) {
  return {detach_state(state.h), detach_state(state.c)};
}

template <class T>
std::vector<Variable<T>> time_chunks(const Variable<T>& sequence, std::size_t chunk, bool batch_first) {
  const std::int64_t axis = batch_first ? 1 : 0;
  TG_CHECK(chunk > 0, "time_chunks", "chunk length must be positive (sequence " + shape_str(sequence.shape()) + ")");
  TG_CHECK(sequence.dim() > static_cast<std::size_t>(axis), "time_chunks",
           "sequence " + shape_str(sequence.shape()) + " has no time axis " + std::to_string(axis));
  const std::size_t steps = sequence.shape()[static_cast<std::size_t>(axis)];
  std::vector<std::int64_t> sizes;
  for (std::size_t start = 0; start < steps; start += chunk) sizes.push_back(static_cast<std::int64_t>(std::min(chunk, steps - start)));
  if (sizes.size() == 1) return {sequence};
  return split(sequence, sizes, axis);
}

#define TG_RECURRENT_INSTANCES(T)                                                             \
  template class RecurrentCellBase<T>;                                                        \
  template class RNNCell<T>;                                                                  \
  template class LSTMCell<T>;                                                                 \
  template class GRUCell<T>;                                                                  \
  template class RecurrentBase<T>;                                                    \
  template class RNN<T>;                                                                      \
  template class LSTM<T>;                                                                     \
  template class GRU<T>;                                                                      \
  template Variable<T> detach_state(const Variable<T>&);                                      \
  template LSTMState<T> detach_state(const LSTMState<T>&);                                    \
  template std::vector<Variable<T>> time_chunks(const Variable<T>&, std::size_t, bool);
TG_RECURRENT_INSTANCES(float)
TG_RECURRENT_INSTANCES(double)
#undef TG_RECURRENT_INSTANCES

}  // namespace tg::nn
