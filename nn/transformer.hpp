#pragma once
// Transformers: positional encodings, encoder and decoder layers and their stacks, with
// PyTorch's names, defaults and layouts (torch.nn.TransformerEncoderLayer, ...).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "activation.hpp"
#include "attention.hpp"
#include "container.hpp"
#include "dropout.hpp"
#include "linear.hpp"
#include "module.hpp"
#include "normalization.hpp"

namespace tg::nn {

struct PositionalEncodingOptions {
  double dropout = 0;        // applied to the sum, in training
  bool batch_first = true;   // x is [B, L, D]; false: [L, B, D]
};

/// What the positional encodings share: the checks of d_model, max_len and dropout, adding the
/// first L rows of a [max_len, D] table to x (then dropout, in training), and the repr.
template <class T>
class PositionalEncodingBase : public Module<T> {
 public:
  std::string extra_repr() const override;

 protected:
  /// `layer` names the layer in errors.
  PositionalEncodingBase(const char* layer, std::size_t d_model, std::size_t max_len, PositionalEncodingOptions options);
  Variable<T> add_positions(const Variable<T>& table, const Variable<T>& x);

 private:
  std::size_t d_model_, max_len_;
  const char* layer_;
  PositionalEncodingOptions options_;
};

/// x + PE[:L], PE[pos, 2i] = sin(pos / 10000^(2i/D)), PE[pos, 2i+1] = cos(pos / 10000^(2i/D))
/// (Vaswani et al.; the PyTorch tutorial's PositionalEncoding). PE is the buffer "pe" [max_len, D].
template <class T = float>
class SinusoidalPositionalEncoding : public PositionalEncodingBase<T> {
 public:
  SinusoidalPositionalEncoding(std::size_t d_model, std::size_t max_len = 5000, PositionalEncodingOptions options = {});
  Variable<T> forward(const Variable<T>& x) override { return this->add_positions(pe, x); }
  Variable<T> pe;
};

/// x + weight[:L] with a learned table "weight" [max_len, D], init N(0, 0.02^2) (BERT, ViT).
template <class T = float>
class LearnedPositionalEncoding : public PositionalEncodingBase<T> {
 public:
  LearnedPositionalEncoding(std::size_t max_len, std::size_t d_model, PositionalEncodingOptions options = {});
  Variable<T> forward(const Variable<T>& x) override { return this->add_positions(weight, x); }
  Variable<T> weight;
};

struct TransformerLayerOptions {
  std::size_t dim_feedforward = 2048;
  double dropout = 0.1;
  Activation activation = Activation::relu;  // relu or gelu (any Activation works)
  double layer_norm_eps = 1e-5;
  bool batch_first = false;                   // [B, L, E] instead of [L, B, E]
  bool norm_first = false;                    // pre-norm: x + f(norm(x)) instead of norm(x + f(x))
  bool bias = true;                           // in the Linear layers, attention and LayerNorms
};

/// Masks of an encoder layer's self-attention (see MultiheadAttentionArgs for their types).
template <class T>
struct EncoderArgs {
  Variable<T> src_mask{};
  MaskType src_mask_type = MaskType::additive;
  Variable<T> src_key_padding_mask{};
  MaskType src_key_padding_mask_type = MaskType::drop;
  bool is_causal = false;
};

/// What the encoder and decoder layers share: the settings, the feed-forward block
/// linear2(dropout(activation(linear1(x)))) with its submodules linear1, dropout, linear2, and
/// the making of their attention, LayerNorm and Dropout submodules.
template <class T>
class TransformerLayerBase : public Module<T> {
 public:
  std::string extra_repr() const override;

  std::shared_ptr<Linear<T>> linear1, linear2;
  std::shared_ptr<Dropout<T>> dropout;

 protected:
  /// Checks the settings; `layer` names the layer in errors.
  TransformerLayerBase(const char* layer, std::size_t d_model, std::size_t nhead, TransformerLayerOptions options);
  std::shared_ptr<MultiheadAttention<T>> register_attention(const char* name);
  /// linear1, dropout, linear2, registered where PyTorch has them (after the attention).
  void register_feed_forward();
  std::shared_ptr<LayerNorm<T>> register_norm(const char* name);
  std::shared_ptr<Dropout<T>> register_dropout(const char* name);
  /// The feed-forward block, then `output_dropout` (dropout2 of the encoder, dropout3 of the decoder).
  Variable<T> feed_forward(const Variable<T>& x, Dropout<T>& output_dropout);

  TransformerLayerOptions options_;

 private:
  std::size_t d_model_, nhead_;
  std::shared_ptr<Module<T>> activation_;
};

/// torch.nn.TransformerEncoderLayer: self-attention and a feed-forward block
/// linear2(dropout(activation(linear1(x)))), each with a residual connection and LayerNorm
/// (after the sum, or before the block with norm_first). Submodules self_attn, linear1,
/// dropout, linear2, norm1, norm2, dropout1, dropout2, as PyTorch names them.
template <class T = float>
class TransformerEncoderLayer : public TransformerLayerBase<T> {
 public:
  TransformerEncoderLayer(std::size_t d_model, std::size_t nhead, TransformerLayerOptions options = {});
  Variable<T> forward(const Variable<T>& src, const EncoderArgs<T>& args);
  Variable<T> forward(const Variable<T>& src) override { return forward(src, EncoderArgs<T>{}); }

  std::shared_ptr<MultiheadAttention<T>> self_attn;
  std::shared_ptr<LayerNorm<T>> norm1, norm2;
  std::shared_ptr<Dropout<T>> dropout1, dropout2;
};

/// Masks of a decoder layer: its self-attention over tgt, its cross-attention over memory.
template <class T>
struct DecoderArgs {
  Variable<T> tgt_mask{};
  MaskType tgt_mask_type = MaskType::additive;
  Variable<T> memory_mask{};
  MaskType memory_mask_type = MaskType::additive;
  Variable<T> tgt_key_padding_mask{};
  Variable<T> memory_key_padding_mask{};
  MaskType key_padding_mask_type = MaskType::drop;  // for both padding masks
  bool tgt_is_causal = false;
  bool memory_is_causal = false;
};

/// torch.nn.TransformerDecoderLayer: self-attention over the target, cross-attention to the
/// memory (the encoder's output), feed-forward; each with residual, LayerNorm and dropout.
/// Submodules self_attn, multihead_attn, linear1, dropout, linear2, norm1-3, dropout1-3.
template <class T = float>
class TransformerDecoderLayer : public TransformerLayerBase<T> {
 public:
  TransformerDecoderLayer(std::size_t d_model, std::size_t nhead, TransformerLayerOptions options = {});
  Variable<T> forward(const Variable<T>& tgt, const Variable<T>& memory, const DecoderArgs<T>& args = {});

  std::shared_ptr<MultiheadAttention<T>> self_attn, multihead_attn;
  std::shared_ptr<LayerNorm<T>> norm1, norm2, norm3;
  std::shared_ptr<Dropout<T>> dropout1, dropout2, dropout3;

 private:
  Variable<T> self_block(const Variable<T>& x, const DecoderArgs<T>& args);
  Variable<T> cross_block(const Variable<T>& x, const Variable<T>& memory, const DecoderArgs<T>& args);
};

/// A container of numbered layers ("layers.0", "layers.1", ...), as torch's ModuleList.
template <class T>
class LayerList : public Module<T> {};

/// What TransformerEncoder and TransformerDecoder share: num_layers layers "layers.<i>", each
/// built alike with its own parameters, then an optional final LayerNorm "norm".
template <class T, class Layer>
class TransformerStack : public Module<T> {
 public:
  std::vector<std::shared_ptr<Layer>> layers;
  std::shared_ptr<LayerNorm<T>> norm;  // null without final_norm

 protected:
  TransformerStack(const char* name, std::size_t d_model, std::size_t nhead, std::size_t num_layers,
                   const TransformerLayerOptions& options, bool final_norm);
  /// x through the layers in order (each also given `context`: memory, masks), then the norm.
  template <class... Context>
  Variable<T> run_layers(const Variable<T>& x, const Context&... context) {
    Variable<T> y = x;
    for (auto& layer : layers) y = layer->forward(y, context...);
    return norm ? norm->forward(y) : y;
  }
};

/// torch.nn.TransformerEncoder: num_layers encoder layers (each with its own parameters), then
/// an optional final LayerNorm "norm" (PyTorch's norm= argument; use it with norm_first).
template <class T = float>
class TransformerEncoder : public TransformerStack<T, TransformerEncoderLayer<T>> {
 public:
  TransformerEncoder(std::size_t d_model, std::size_t nhead, std::size_t num_layers, TransformerLayerOptions options = {},
                     bool final_norm = false)
      : TransformerStack<T, TransformerEncoderLayer<T>>("TransformerEncoder", d_model, nhead, num_layers, options, final_norm) {}
  Variable<T> forward(const Variable<T>& src, const EncoderArgs<T>& args) { return this->run_layers(src, args); }
  Variable<T> forward(const Variable<T>& src) override { return forward(src, EncoderArgs<T>{}); }
};

/// torch.nn.TransformerDecoder: num_layers decoder layers, then an optional final LayerNorm.
template <class T = float>
class TransformerDecoder : public TransformerStack<T, TransformerDecoderLayer<T>> {
 public:
  TransformerDecoder(std::size_t d_model, std::size_t nhead, std::size_t num_layers, TransformerLayerOptions options = {},
                     bool final_norm = false)
      : TransformerStack<T, TransformerDecoderLayer<T>>("TransformerDecoder", d_model, nhead, num_layers, options, final_norm) {}
  Variable<T> forward(const Variable<T>& tgt, const Variable<T>& memory, const DecoderArgs<T>& args = {}) {
    return this->run_layers(tgt, memory, args);
  }
};

#define TG_NN_TRANSFORMER_EXTERN(T)                                      \
  extern template class PositionalEncodingBase<T>;                       \
  extern template class SinusoidalPositionalEncoding<T>;                 \
  extern template class LearnedPositionalEncoding<T>;                    \
  extern template class TransformerLayerBase<T>;                         \
  extern template class TransformerEncoderLayer<T>;                      \
  extern template class TransformerDecoderLayer<T>;                      \
  extern template class TransformerStack<T, TransformerEncoderLayer<T>>; \
  extern template class TransformerStack<T, TransformerDecoderLayer<T>>; \
  extern template class TransformerEncoder<T>;                           \
  extern template class TransformerDecoder<T>;
TG_NN_TRANSFORMER_EXTERN(float)
TG_NN_TRANSFORMER_EXTERN(double)
#undef TG_NN_TRANSFORMER_EXTERN

}  // namespace tg::nn
