// Positional encodings and transformer layers, composed of MultiheadAttention, Linear,
// LayerNorm and Dropout exactly as torch.nn's (post-norm or pre-norm residual blocks).
#include "transformer.hpp"

#include <cmath>
#include <sstream>

#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/select.hpp"
#include "../autograd/ops/shape.hpp"
#include "init.hpp"

namespace tg::nn {

namespace {
/// A layer's dropout, skipped where it would only copy (p = 0, or evaluation): the layers'
/// intermediate results are never handed out, so they need no node of their own.
template <class T>
Variable<T> drop(Dropout<T>& d, const Variable<T>& x) {
  return d.p() > 0 && d.is_training() ? d.forward(x) : x;
}
}  // namespace

template <class T>
PositionalEncodingBase<T>::PositionalEncodingBase(const char* layer, std::size_t d_model, std::size_t max_len,
                                                  PositionalEncodingOptions options)
    : d_model_(d_model), max_len_(max_len), layer_(layer), options_(options) {
  TG_CHECK(d_model > 0 && max_len > 0, layer,
           "d_model and max_len must be positive, got " + std::to_string(d_model) + " and " + std::to_string(max_len));
  TG_CHECK(options.dropout >= 0 && options.dropout <= 1, layer, "dropout must be in [0, 1], got " + number_str(options.dropout));
}

/// x + table[:L], the table's first L rows shaped to add to x ([B, L, D] or [L, B, D]).
template <class T>
Variable<T> PositionalEncodingBase<T>::add_positions(const Variable<T>& table, const Variable<T>& x) {
  const std::size_t max_len = table.shape()[0], d = table.shape()[1];
  const bool batch_first = options_.batch_first;
  TG_CHECK(x.dim() == 3 && x.shape()[2] == d, layer_,
           "input " + shape_str(x.shape()) + " must be [" + (batch_first ? "B, L, " : "L, B, ") + std::to_string(d) + "]");
  const std::size_t l = x.shape()[batch_first ? 1 : 0];
  TG_CHECK(l <= max_len, layer_,
           "input " + shape_str(x.shape()) + " has " + std::to_string(l) + " positions, max_len is " + std::to_string(max_len));
  Variable<T> rows = l == max_len ? table : narrow(table, 0, 0, static_cast<std::int64_t>(l));
  Variable<T> y = x + (batch_first ? rows : unsqueeze(rows, 1));
  return nn::dropout(y, options_.dropout, this->is_training());
}

template <class T>
std::string PositionalEncodingBase<T>::extra_repr() const {
  std::ostringstream os;
  os << "max_len=" << max_len_ << ", d_model=" << d_model_ << ", dropout=" << options_.dropout
     << (options_.batch_first ? ", batch_first=true" : "");
  return os.str();
}

template <class T>
SinusoidalPositionalEncoding<T>::SinusoidalPositionalEncoding(std::size_t d_model, std::size_t max_len,
                                                              PositionalEncodingOptions options)
    : PositionalEncodingBase<T>("SinusoidalPositionalEncoding", d_model, max_len, options) {
  xt::xarray<T> table = xt::empty<T>(Shape{max_len, d_model});
  for (std::size_t pos = 0; pos < max_len; ++pos)
    for (std::size_t i = 0; i < d_model; ++i) {
      const double angle = static_cast<double>(pos) * std::exp(-std::log(10000.0) * static_cast<double>(i - i % 2) / static_cast<double>(d_model));
      table(pos, i) = static_cast<T>(i % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  pe = this->register_buffer("pe", Variable<T>(std::move(table)));
}

template <class T>
LearnedPositionalEncoding<T>::LearnedPositionalEncoding(std::size_t max_len, std::size_t d_model, PositionalEncodingOptions options)
    : PositionalEncodingBase<T>("LearnedPositionalEncoding", d_model, max_len, options) {
  weight = this->register_parameter("weight", zeros<T>({max_len, d_model}));
  init::normal_(weight, 0, 0.02);
}

// ---- layers --------------------------------------------------------------------------------------

namespace {
void check_layer(const char* op, std::size_t d_model, std::size_t nhead, const TransformerLayerOptions& o) {
  TG_CHECK(d_model > 0 && nhead > 0 && o.dim_feedforward > 0, op,
           "d_model, nhead and dim_feedforward must be positive, got " + std::to_string(d_model) + ", " +
               std::to_string(nhead) + " and " + std::to_string(o.dim_feedforward));
  TG_CHECK(d_model % nhead == 0, op,
           "d_model " + std::to_string(d_model) + " must be divisible by nhead " + std::to_string(nhead));
  TG_CHECK(o.dropout >= 0 && o.dropout < 1, op, "dropout must be in [0, 1), got " + number_str(o.dropout));
}

/// An attention block's arguments: its masks, and no attention weights (the layers drop them).
template <class T>
MultiheadAttentionArgs<T> attention_masks(const Variable<T>& key_padding_mask, MaskType key_padding_mask_type,
                                          const Variable<T>& attn_mask, MaskType attn_mask_type, bool is_causal) {
  return {.key_padding_mask = key_padding_mask,
          .key_padding_mask_type = key_padding_mask_type,
          .attn_mask = attn_mask,
          .attn_mask_type = attn_mask_type,
          .need_weights = false,
          .average_attn_weights = true,
          .is_causal = is_causal};
}
}  // namespace

template <class T>
TransformerLayerBase<T>::TransformerLayerBase(const char* layer, std::size_t d_model, std::size_t nhead, TransformerLayerOptions options)
    : options_(options), d_model_(d_model), nhead_(nhead) {
  check_layer(layer, d_model, nhead, options);
}

template <class T>
std::shared_ptr<MultiheadAttention<T>> TransformerLayerBase<T>::register_attention(const char* name) {
  const MultiheadAttentionOptions attention{.dropout = options_.dropout, .bias = options_.bias, .batch_first = options_.batch_first};
  return this->register_module(name, std::make_shared<MultiheadAttention<T>>(d_model_, nhead_, attention));
}

template <class T>
void TransformerLayerBase<T>::register_feed_forward() {
  const LinearOptions with_bias{options_.bias};
  linear1 = this->register_module("linear1", std::make_shared<Linear<T>>(d_model_, options_.dim_feedforward, with_bias));
  dropout = register_dropout("dropout");
  linear2 = this->register_module("linear2", std::make_shared<Linear<T>>(options_.dim_feedforward, d_model_, with_bias));
  activation_ = make_activation<T>(options_.activation);
}

template <class T>
std::shared_ptr<LayerNorm<T>> TransformerLayerBase<T>::register_norm(const char* name) {
  return this->register_module(name, std::make_shared<LayerNorm<T>>(d_model_, LayerNormOptions{.eps = options_.layer_norm_eps}));
}

template <class T>
std::shared_ptr<Dropout<T>> TransformerLayerBase<T>::register_dropout(const char* name) {
  return this->register_module(name, std::make_shared<Dropout<T>>(options_.dropout));
}

template <class T>
Variable<T> TransformerLayerBase<T>::feed_forward(const Variable<T>& x, Dropout<T>& output_dropout) {
  Variable<T> h = linear1->forward(x);
  if (activation_) h = activation_->forward(h);
  return drop(output_dropout, linear2->forward(drop(*dropout, h)));
}

template <class T>
std::string TransformerLayerBase<T>::extra_repr() const {
  const auto& o = options_;
  std::ostringstream os;
  os << "dim_feedforward=" << o.dim_feedforward << ", dropout=" << o.dropout
     << ", activation=" << (o.activation == Activation::gelu ? "gelu" : o.activation == Activation::relu ? "relu" : "other")
     << (o.norm_first ? ", norm_first=true" : "") << (o.batch_first ? ", batch_first=true" : "");
  return os.str();
}

template <class T>
TransformerEncoderLayer<T>::TransformerEncoderLayer(std::size_t d_model, std::size_t nhead, TransformerLayerOptions options)
    : TransformerLayerBase<T>("TransformerEncoderLayer", d_model, nhead, options) {
  self_attn = this->register_attention("self_attn");
  this->register_feed_forward();
  norm1 = this->register_norm("norm1");
  norm2 = this->register_norm("norm2");
  dropout1 = this->register_dropout("dropout1");
  dropout2 = this->register_dropout("dropout2");
}

template <class T>
Variable<T> TransformerEncoderLayer<T>::forward(const Variable<T>& src, const EncoderArgs<T>& args) {
  const auto self_block = [&](const Variable<T>& x) {
    const auto masks = attention_masks(args.src_key_padding_mask, args.src_key_padding_mask_type, args.src_mask,
                                       args.src_mask_type, args.is_causal);
    return drop(*dropout1, self_attn->forward(x, x, x, masks).output);
  };
  if (this->options_.norm_first) {
    Variable<T> x = src + self_block(norm1->forward(src));
    return x + this->feed_forward(norm2->forward(x), *dropout2);
  }
  Variable<T> x = norm1->forward(src + self_block(src));
  return norm2->forward(x + this->feed_forward(x, *dropout2));
}

template <class T>
TransformerDecoderLayer<T>::TransformerDecoderLayer(std::size_t d_model, std::size_t nhead, TransformerLayerOptions options)
    : TransformerLayerBase<T>("TransformerDecoderLayer", d_model, nhead, options) {
  self_attn = this->register_attention("self_attn");
  multihead_attn = this->register_attention("multihead_attn");
  this->register_feed_forward();
  norm1 = this->register_norm("norm1");
  norm2 = this->register_norm("norm2");
  norm3 = this->register_norm("norm3");
  dropout1 = this->register_dropout("dropout1");
  dropout2 = this->register_dropout("dropout2");
  dropout3 = this->register_dropout("dropout3");
}

template <class T>
Variable<T> TransformerDecoderLayer<T>::self_block(const Variable<T>& x, const DecoderArgs<T>& args) {
  const auto masks = attention_masks(args.tgt_key_padding_mask, args.key_padding_mask_type, args.tgt_mask, args.tgt_mask_type,
                                     args.tgt_is_causal);
  return drop(*dropout1, self_attn->forward(x, x, x, masks).output);
}

template <class T>
Variable<T> TransformerDecoderLayer<T>::cross_block(const Variable<T>& x, const Variable<T>& memory, const DecoderArgs<T>& args) {
  const auto masks = attention_masks(args.memory_key_padding_mask, args.key_padding_mask_type, args.memory_mask,
                                     args.memory_mask_type, args.memory_is_causal);
  return drop(*dropout2, multihead_attn->forward(x, memory, memory, masks).output);
}

template <class T>
Variable<T> TransformerDecoderLayer<T>::forward(const Variable<T>& tgt, const Variable<T>& memory, const DecoderArgs<T>& args) {
  if (this->options_.norm_first) {
    Variable<T> x = tgt + self_block(norm1->forward(tgt), args);
    x = x + cross_block(norm2->forward(x), memory, args);
    return x + this->feed_forward(norm3->forward(x), *dropout3);
  }
  Variable<T> x = norm1->forward(tgt + self_block(tgt, args));
  x = norm2->forward(x + cross_block(x, memory, args));
  return norm3->forward(x + this->feed_forward(x, *dropout3));
}

// ---- stacks --------------------------------------------------------------------------------------

template <class T, class Layer>
TransformerStack<T, Layer>::TransformerStack(const char* name, std::size_t d_model, std::size_t nhead, std::size_t num_layers,
                                             const TransformerLayerOptions& options, bool final_norm) {
  TG_CHECK(num_layers > 0, name, "num_layers must be positive");
  auto list = this->register_module("layers", std::make_shared<LayerList<T>>());
  for (std::size_t i = 0; i < num_layers; ++i)
    layers.push_back(list->register_module(std::to_string(i), std::make_shared<Layer>(d_model, nhead, options)));
  if (final_norm)
    norm = this->register_module("norm", std::make_shared<LayerNorm<T>>(d_model, LayerNormOptions{.eps = options.layer_norm_eps}));
}

#define TG_NN_TRANSFORMER_INSTANTIATE(T)                          \
  template class PositionalEncodingBase<T>;                       \
  template class SinusoidalPositionalEncoding<T>;                 \
  template class LearnedPositionalEncoding<T>;                    \
  template class TransformerLayerBase<T>;                         \
  template class TransformerEncoderLayer<T>;                      \
  template class TransformerDecoderLayer<T>;                      \
  template class TransformerStack<T, TransformerEncoderLayer<T>>; \
  template class TransformerStack<T, TransformerDecoderLayer<T>>; \
  template class TransformerEncoder<T>;                           \
  template class TransformerDecoder<T>;
TG_NN_TRANSFORMER_INSTANTIATE(float)
TG_NN_TRANSFORMER_INSTANTIATE(double)
#undef TG_NN_TRANSFORMER_INSTANTIATE

}  // namespace tg::nn
