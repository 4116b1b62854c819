#pragma once
// Attention: scaled dot-product attention (the function) and MultiheadAttention (the layer),
// with PyTorch's shapes, defaults, initialisation and parameter names.
#include <cstddef>
#include <string>

#include "linear.hpp"
#include "module.hpp"

namespace tg::nn {

/// How the numbers of a mask are read. tapegrad has no boolean tensors: a boolean mask is a
/// tensor of 0 and 1 (any nonzero counts as true).
enum class MaskType {
  additive,  // added to the scores: 0 lets a key take part, -inf masks it
  keep,      // boolean, true = the key takes part (torch's scaled_dot_product_attention)
  drop,      // boolean, true = the key is masked (torch.nn.MultiheadAttention's boolean masks)
};

template <class T>
struct AttentionOptions {
  Variable<T> attn_mask{};                   // broadcasts to [..., L, S]; undefined: none
  MaskType mask_type = MaskType::additive;
  bool is_causal = false;                    // query i sees keys 0..i (top-left aligned when L != S)
  double dropout_p = 0;                      // dropout on the attention weights (always applied if > 0)
  double scale = 0;                          // 0: 1 / sqrt(E)
};

/// softmax(q k^T * scale + mask) v for q [..., L, E], k [..., S, E], v [..., S, Ev] (leading axes
/// broadcast as in matmul) -> [..., L, Ev]. Masked positions get weight exactly 0 and gradient
/// exactly 0. A query whose keys are all masked attends to nothing: its weights are all 0 and
/// its output row is 0 (PyTorch's math path would give NaN there; its fused kernels and
/// torch >= 2.5's MultiheadAttention give 0, as here). Written with ops (matmul with a
/// transpose flag, attention_softmax, dropout, matmul), so it differentiates to any order.
template <class T>
Variable<T> scaled_dot_product_attention(const Variable<T>& q, const Variable<T>& k, const Variable<T>& v,
                                         const AttentionOptions<T>& options = {});

/// A mask of 0 and -inf for `shape` ([..., L, S]) from any MaskType (an additive mask is
/// returned as it is). `op` names the caller in errors.
template <class T>
Variable<T> additive_mask(const Variable<T>& mask, MaskType type, const char* op = "additive_mask");

/// The causal mask [L, S]: 0 where key j <= query i, -inf above the diagonal.
template <class T = float>
Variable<T> causal_mask(std::size_t query_length, std::size_t key_length);

/// torch.nn.Transformer.generate_square_subsequent_mask: causal_mask(size, size).
template <class T = float>
Variable<T> generate_square_subsequent_mask(std::size_t size);

struct MultiheadAttentionOptions {
  double dropout = 0;         // on the attention weights, in training
  bool bias = true;           // in_proj_bias and out_proj.bias
  std::size_t kdim = 0;       // features of the keys (0: embed_dim)
  std::size_t vdim = 0;       // features of the values (0: embed_dim)
  bool batch_first = false;   // [B, L, E] instead of PyTorch's default [L, B, E]
};

/// forward's optional arguments (PyTorch's keyword arguments).
template <class T>
struct MultiheadAttentionArgs {
  Variable<T> key_padding_mask{};                // [B, S] (or [S] unbatched); undefined: none
  MaskType key_padding_mask_type = MaskType::drop;  // PyTorch's boolean: true = padding, ignored
  Variable<T> attn_mask{};                       // [L, S] or [B * heads, L, S]; undefined: none
  MaskType attn_mask_type = MaskType::additive;  // generate_square_subsequent_mask's 0 / -inf
  bool need_weights = true;                      // return the attention weights too
  bool average_attn_weights = true;              // averaged over heads [B, L, S], else [B, heads, L, S]
  bool is_causal = false;                        // add the causal mask
};

template <class T>
struct AttentionOutput {
  Variable<T> output;   // [L, B, E] ([B, L, E] with batch_first; [L, E] unbatched)
  Variable<T> weights;  // after dropout, as PyTorch; undefined unless need_weights
};

/// torch.nn.MultiheadAttention: out_proj(concat_h attention(q W_q^T + b_q, k W_k^T + b_k, v W_v^T + b_v)).
/// Parameters as PyTorch names them: in_proj_weight [3E, E] and in_proj_bias [3E] (or, when kdim
/// or vdim differ from E, q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim]
/// and in_proj_bias), out_proj.weight [E, E], out_proj.bias [E]. Init as PyTorch: xavier_uniform
/// for the input projections, biases 0, out_proj.weight as Linear's. The heads are column
/// blocks of the projections, read in place by head_attention_weights / head_mix (no reshapes or
/// permutes).
template <class T = float>
class MultiheadAttention : public Module<T> {
 public:
  MultiheadAttention(std::size_t embed_dim, std::size_t num_heads, MultiheadAttentionOptions options = {});

  AttentionOutput<T> forward(const Variable<T>& query, const Variable<T>& key, const Variable<T>& value,
                             const MultiheadAttentionArgs<T>& args = {});
  /// Self-attention without masks: forward(x, x, x).output.
  Variable<T> forward(const Variable<T>& x) override;
  std::string extra_repr() const override;

  std::size_t embed_dim() const { return embed_dim_; }
  std::size_t num_heads() const { return num_heads_; }
  bool batch_first() const { return options_.batch_first; }

  Variable<T> in_proj_weight;  // undefined when kdim or vdim differ from embed_dim
  Variable<T> q_proj_weight, k_proj_weight, v_proj_weight;  // defined only then
  Variable<T> in_proj_bias;    // undefined without bias
  std::shared_ptr<Linear<T>> out_proj;

 private:
  std::size_t embed_dim_, num_heads_, kdim_, vdim_;
  MultiheadAttentionOptions options_;
};

extern template class MultiheadAttention<float>;
extern template class MultiheadAttention<double>;

}  // namespace tg::nn
