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

/// b_ih + b_hh where both exist: the two biases of RNN and LSTM always appear summed, so they
/// are added once (a [G·H] vector) and ride on the input projection's GEMM.
template <class T>
Variable<T> summed_bias(const Variable<T>& b_ih, const Variable<T>& b_hh) {
  return b_ih.defined() ? b_ih + b_hh : Variable<T>();
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

/// Checks a cell's input [batch, in] or [in] and its state, and returns the state's shape.
template <class T>
Shape cell_state_shape(const char* cell, const Variable<T>& x, std::size_t input_size, std::size_t hidden_size) {
  TG_CHECK((x.dim() == 1 || x.dim() == 2) && x.shape().back() == input_size, cell,
           "input " + shape_str(x.shape()) + " must be [batch, " + std::to_string(input_size) + "] or [" +
               std::to_string(input_size) + "]");
  return x.dim() == 2 ? Shape{x.shape()[0], hidden_size} : Shape{hidden_size};
}

template <class T>
Variable<T> state_or_zeros(const char* cell, const char* what, const Variable<T>& s, const Shape& shape, const Variable<T>& x) {
  if (!s.defined()) return zeros<T>(shape);
  TG_CHECK(s.shape() == shape, cell,
           std::string(what) + " " + shape_str(s.shape()) + " must be " + shape_str(shape) + " for input " + shape_str(x.shape()));
  return s;
}

std::string cell_repr(std::size_t in, std::size_t hidden, bool bias) {
  return std::to_string(in) + ", " + std::to_string(hidden) + (bias ? "" : ", bias=false");
}

}  // namespace

// ---- cells ----------------------------------------------------------------------------------------

template <class T>
RNNCell<T>::RNNCell(std::size_t input_size, std::size_t hidden_size, RNNCellOptions options)
    : input_size_(input_size), hidden_size_(hidden_size), options_(options) {
  TG_CHECK(input_size > 0 && hidden_size > 0, "RNNCell",
           "input_size and hidden_size must be positive, got " + std::to_string(input_size) + " and " + std::to_string(hidden_size));
  weight_ih = recurrent_parameter(*this, "weight_ih", {hidden_size, input_size}, hidden_size);
  weight_hh = recurrent_parameter(*this, "weight_hh", {hidden_size, hidden_size}, hidden_size);
  if (options.bias) {
    bias_ih = recurrent_parameter(*this, "bias_ih", {hidden_size}, hidden_size);
    bias_hh = recurrent_parameter(*this, "bias_hh", {hidden_size}, hidden_size);
  }
}

template <class T>
Variable<T> RNNCell<T>::forward(const Variable<T>& x) {
  return forward(x, Variable<T>());
}

template <class T>
Variable<T> RNNCell<T>::forward(const Variable<T>& x, const Variable<T>& h) {
  const Shape shape = cell_state_shape("RNNCell", x, input_size_, hidden_size_);
  const Variable<T> h0 = state_or_zeros("RNNCell", "hidden state", h, shape, x);
  return rnn_step(linear(x, weight_ih, summed_bias(bias_ih, bias_hh)), h0, weight_hh,
                  options_.nonlinearity == Nonlinearity::relu);
}

template <class T>
std::string RNNCell<T>::extra_repr() const {
  return cell_repr(input_size_, hidden_size_, bias_ih.defined()) +
         (options_.nonlinearity == Nonlinearity::relu ? ", nonlinearity=relu" : "");
}

template <class T>
LSTMCell<T>::LSTMCell(std::size_t input_size, std::size_t hidden_size, LSTMCellOptions options)
    : input_size_(input_size), hidden_size_(hidden_size) {
  TG_CHECK(input_size > 0 && hidden_size > 0, "LSTMCell",
           "input_size and hidden_size must be positive, got " + std::to_string(input_size) + " and " + std::to_string(hidden_size));
  weight_ih = recurrent_parameter(*this, "weight_ih", {4 * hidden_size, input_size}, hidden_size);
  weight_hh = recurrent_parameter(*this, "weight_hh", {4 * hidden_size, hidden_size}, hidden_size);
  if (options.bias) {
    bias_ih = recurrent_parameter(*this, "bias_ih", {4 * hidden_size}, hidden_size);
    bias_hh = recurrent_parameter(*this, "bias_hh", {4 * hidden_size}, hidden_size);
  }
}

template <class T>
Variable<T> LSTMCell<T>::forward(const Variable<T>& x) {
  return forward(x, LSTMState<T>{}).h;
}

template <class T>
LSTMState<T> LSTMCell<T>::forward(const Variable<T>& x, const LSTMState<T>& state) {
  const Shape shape = cell_state_shape("LSTMCell", x, input_size_, hidden_size_);
  const LSTMState<T> s{state_or_zeros("LSTMCell", "hidden state", state.h, shape, x),
                       state_or_zeros("LSTMCell", "cell state", state.c, shape, x)};
  return lstm_step(linear(x, weight_ih, summed_bias(bias_ih, bias_hh)), s, weight_hh, Variable<T>());
}

template <class T>
std::string LSTMCell<T>::extra_repr() const {
  return cell_repr(input_size_, hidden_size_, bias_ih.defined());
}

template <class T>
GRUCell<T>::GRUCell(std::size_t input_size, std::size_t hidden_size, GRUCellOptions options)
    : input_size_(input_size), hidden_size_(hidden_size) {
  TG_CHECK(input_size > 0 && hidden_size > 0, "GRUCell",
           "input_size and hidden_size must be positive, got " + std::to_string(input_size) + " and " + std::to_string(hidden_size));
  weight_ih = recurrent_parameter(*this, "weight_ih", {3 * hidden_size, input_size}, hidden_size);
  weight_hh = recurrent_parameter(*this, "weight_hh", {3 * hidden_size, hidden_size}, hidden_size);
  if (options.bias) {
    bias_ih = recurrent_parameter(*this, "bias_ih", {3 * hidden_size}, hidden_size);
    bias_hh = recurrent_parameter(*this, "bias_hh", {3 * hidden_size}, hidden_size);
  }
}

template <class T>
Variable<T> GRUCell<T>::forward(const Variable<T>& x) {
  return forward(x, Variable<T>());
}

template <class T>
Variable<T> GRUCell<T>::forward(const Variable<T>& x, const Variable<T>& h) {
  const Shape shape = cell_state_shape("GRUCell", x, input_size_, hidden_size_);
  const Variable<T> h0 = state_or_zeros("GRUCell", "hidden state", h, shape, x);
  return gru_step(linear(x, weight_ih, bias_ih), h0, weight_hh, bias_hh);
}

template <class T>
std::string GRUCell<T>::extra_repr() const {
  return cell_repr(input_size_, hidden_size_, bias_ih.defined());
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
      Weights w;
      w.w_ih = recurrent_parameter(*this, "weight_ih" + suffix, {gates * c.hidden_size, in}, c.hidden_size);
      w.w_hh = recurrent_parameter(*this, "weight_hh" + suffix, {gates * c.hidden_size, out}, c.hidden_size);
      if (c.bias) {
        w.b_ih = recurrent_parameter(*this, "bias_ih" + suffix, {gates * c.hidden_size}, c.hidden_size);
        w.b_hh = recurrent_parameter(*this, "bias_hh" + suffix, {gates * c.hidden_size}, c.hidden_size);
      }
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
typename RecurrentBase<T>::Result RecurrentBase<T>::run(const Variable<T>& input_given, const Variable<T>& h0_given,
                                                        const Variable<T>& c0_given, const std::vector<std::size_t>& lengths) {
  const auto& cfg = config_;
  const char* op = name_;
  TG_CHECK(input_given.defined(), op, "the input is undefined");
  TG_CHECK((input_given.dim() == 3 || input_given.dim() == 2) && input_given.shape().back() == cfg.input_size, op,
           "input " + shape_str(input_given.shape()) + " must be " +
               (cfg.batch_first ? "[batch, time, " : "[time, batch, ") + std::to_string(cfg.input_size) +
               "] (or [time, " + std::to_string(cfg.input_size) + "] unbatched)");
  const bool unbatched = input_given.dim() == 2;
  // [time, batch, in] from here on
  Variable<T> input = unbatched ? unsqueeze(input_given, 1) : cfg.batch_first ? transpose(input_given, 0, 1) : input_given;
  const std::size_t steps = input.shape()[0], batch = input.shape()[1];
  TG_CHECK(steps > 0 && batch > 0, op, "input " + shape_str(input_given.shape()) + " has no time steps or no sequences");
  const std::size_t directions = cfg.bidirectional ? 2 : 1, slots = cfg.num_layers * directions;
  const std::size_t out = cfg.proj_size > 0 ? cfg.proj_size : cfg.hidden_size;
  const bool lstm = cfg.kind == RecurrentKind::lstm;

  auto initial = [&](const Variable<T>& given, const char* what, std::size_t width) -> Variable<T> {
    if (!given.defined()) return given;
    const Shape expected = unbatched ? Shape{slots, width} : Shape{slots, batch, width};
    TG_CHECK(given.shape() == expected, op,
             std::string(what) + " " + shape_str(given.shape()) + " must be " + shape_str(expected) + " (layers x directions = " +
                 std::to_string(slots) + ") for input " + shape_str(input_given.shape()));
    return unbatched ? unsqueeze(given, 1) : given;
  };
  const Variable<T> h0 = initial(h0_given, "h0", out);
  const Variable<T> c0 = lstm ? initial(c0_given, "c0", cfg.hidden_size) : Variable<T>();

  // Variable lengths: a 0/1 column per step, where some sequence has ended (undefined where all run).
  std::vector<Variable<T>> running(steps);
  if (!lengths.empty()) {
    TG_CHECK(lengths.size() == batch, op,
             std::to_string(lengths.size()) + " lengths for a batch of " + std::to_string(batch) + " sequences (input " +
                 shape_str(input_given.shape()) + ")");
    for (std::size_t b = 0; b < batch; ++b)
      TG_CHECK(lengths[b] >= 1 && lengths[b] <= steps, op,
               "length " + std::to_string(lengths[b]) + " of sequence " + std::to_string(b) + " is outside 1.." +
                   std::to_string(steps) + " (input " + shape_str(input_given.shape()) + ")");
    for (std::size_t t = 0; t < steps; ++t) {
      xt::xarray<T> mask = xt::empty<T>(Shape{batch, 1});
      bool all = true;
      for (std::size_t b = 0; b < batch; ++b) {
        mask(b, 0) = T(t < lengths[b]);
        all = all && t < lengths[b];
      }
      if (!all) running[t] = Variable<T>(std::move(mask));
    }
  }
  const Variable<T> zero = scalar<T>(0);

  auto state_slot = [&](const Variable<T>& given, std::size_t slot, std::size_t width) {
    if (!given.defined()) return zeros<T>({batch, width});
    return reshape(narrow(given, 0, static_cast<std::int64_t>(slot), 1),
                   {static_cast<std::int64_t>(batch), static_cast<std::int64_t>(width)});
  };

  // The layer's input as rows [time·batch, features]: the input projection of every step is one GEMM.
  Variable<T> rows = reshape(input, {static_cast<std::int64_t>(steps * batch), static_cast<std::int64_t>(cfg.input_size)});
  std::vector<Variable<T>> final_h, final_c;
  for (std::size_t layer = 0; layer < cfg.num_layers; ++layer) {
    if (layer > 0 && cfg.dropout > 0 && this->is_training()) rows = dropout(rows, cfg.dropout, true);
    std::vector<Variable<T>> direction_outputs;
    for (std::size_t d = 0; d < directions; ++d) {
      const std::size_t slot = layer * directions + d;
      const Weights& w = weights_[slot];
      const Variable<T> xw_all = linear(rows, w.w_ih, cfg.kind == RecurrentKind::gru ? w.b_ih : summed_bias(w.b_ih, w.b_hh));
      const std::vector<Variable<T>> xw = split(xw_all, equal_parts(steps, batch), 0);
      Variable<T> h = state_slot(h0, slot, out);
      Variable<T> c = lstm ? state_slot(c0, slot, cfg.hidden_size) : Variable<T>();
      std::vector<Variable<T>> outputs(steps);
      for (std::size_t i = 0; i < steps; ++i) {
        const std::size_t t = d == 0 ? i : steps - 1 - i;
        Variable<T> h_new, c_new;
        switch (cfg.kind) {
          case RecurrentKind::lstm: {
            LSTMState<T> s = lstm_step(xw[t], LSTMState<T>{h, c}, w.w_hh, w.w_hr);
            h_new = s.h;
            c_new = s.c;
            break;
          }
          case RecurrentKind::gru: h_new = gru_step(xw[t], h, w.w_hh, w.b_hh); break;
          default: h_new = rnn_step(xw[t], h, w.w_hh, cfg.kind == RecurrentKind::rnn_relu);
        }
        if (running[t].defined()) {  // ended sequences keep their state and output zeros
          outputs[t] = where(running[t], h_new, zero);
          h = where(running[t], h_new, h);
          if (lstm) c = where(running[t], c_new, c);
        } else {
          outputs[t] = h_new;
          h = h_new;
          c = c_new;
        }
      }
      final_h.push_back(h);
      if (lstm) final_c.push_back(c);
      direction_outputs.push_back(concat(outputs, 0));  // [time·batch, out]
    }
    rows = directions == 1 ? direction_outputs[0] : concat(direction_outputs, 1);
  }
  const auto width = static_cast<std::int64_t>(out * directions);
  Variable<T> output = reshape(rows, {static_cast<std::int64_t>(steps), static_cast<std::int64_t>(batch), width});
  Variable<T> h_n = stack(final_h, 0), c_n = lstm ? stack(final_c, 0) : Variable<T>();
  if (unbatched) {
    output = squeeze(output, {1});
    h_n = squeeze(h_n, {1});
    if (lstm) c_n = squeeze(c_n, {1});
  } else if (cfg.batch_first) {
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
