// Scaled dot-product attention and MultiheadAttention, written with ops; the per-head products
// are head_attention_weights / head_mix (autograd/ops/attention.hpp), which read the heads in place.
#include "attention.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "../autograd/ops/attention.hpp"
#include "../autograd/ops/elementwise.hpp"
#include "../autograd/ops/linalg.hpp"
#include "../autograd/ops/reduce.hpp"
#include "../autograd/ops/select.hpp"
#include "../autograd/ops/shape.hpp"
#include "dropout.hpp"
#include "init.hpp"

namespace tg::nn {

namespace {
std::string dim_str(std::size_t n) { return std::to_string(n); }

template <class T>
void check_dropout(const char* op, double p) {
  TG_CHECK(p >= 0 && p < 1, op, "dropout probability must be in [0, 1), got " + number_str(p));
}
}  // namespace

template <class T>
Variable<T> additive_mask(const Variable<T>& mask, MaskType type, const char* op) {
  TG_CHECK(mask.defined(), op, "the mask is undefined");
  if (type == MaskType::additive) return mask;
  const T blocked = -std::numeric_limits<T>::infinity();
  const bool true_blocks = type == MaskType::drop;
  xt::xarray<T> out = xt::empty<T>(mask.shape());
  const T* pm = mask.value().data();
  T* po = out.data();
  for (std::size_t i = 0; i < out.size(); ++i) po[i] = ((pm[i] != T(0)) == true_blocks) ? blocked : T(0);
  return Variable<T>(std::move(out));
}

template <class T>
Variable<T> causal_mask(std::size_t query_length, std::size_t key_length) {
  xt::xarray<T> out = xt::zeros<T>(Shape{query_length, key_length});
  for (std::size_t i = 0; i < query_length; ++i)
    for (std::size_t j = i + 1; j < key_length; ++j) out(i, j) = -std::numeric_limits<T>::infinity();
  return Variable<T>(std::move(out));
}

template <class T>
Variable<T> generate_square_subsequent_mask(std::size_t size) {
  return causal_mask<T>(size, size);
}

template <class T>
Variable<T> scaled_dot_product_attention(const Variable<T>& q, const Variable<T>& k, const Variable<T>& v,
                                         const AttentionOptions<T>& options) {
  const char* op = "scaled_dot_product_attention";
  const auto shapes = [&] {
    return "query " + shape_str(q.shape()) + ", key " + shape_str(k.shape()) + ", value " + shape_str(v.shape());
  };
  TG_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, op, shapes() + ": each needs at least [length, features]");
  TG_CHECK(q.shape().back() == k.shape().back(), op, shapes() + ": query and key features differ");
  TG_CHECK(k.shape()[k.dim() - 2] == v.shape()[v.dim() - 2], op, shapes() + ": key and value lengths differ");
  const auto batch = [](const Variable<T>& x) { return Shape(x.shape().begin(), x.shape().end() - 2); };
  broadcast_shapes(op, broadcast_shapes(op, batch(q), batch(k)), batch(v));  // the leading axes, as matmul broadcasts them
  TG_CHECK(!(options.is_causal && options.attn_mask.defined()), op,
           "is_causal and attn_mask are exclusive (as in PyTorch): pass one mask");
  check_dropout<T>(op, options.dropout_p);
  TG_CHECK(options.scale >= 0, op, "scale must be positive (or 0 for 1/sqrt(E)), got " + number_str(options.scale));
  const std::size_t e = q.shape().back(), l = q.shape()[q.dim() - 2], s = k.shape()[k.dim() - 2];
  const T scale = static_cast<T>(options.scale > 0 ? options.scale : 1 / std::sqrt(static_cast<double>(e == 0 ? 1 : e)));
  Variable<T> scores = matmul(q * scale, k, {.transpose_b = true});
  Variable<T> mask;
  if (options.is_causal) mask = causal_mask<T>(l, s);
  if (options.attn_mask.defined()) {
    mask = additive_mask(options.attn_mask, options.mask_type, op);
    TG_CHECK(broadcastable_to(mask.shape(), scores.shape()), op,
             "attn_mask " + shape_str(mask.shape()) + " does not broadcast to the scores " + shape_str(scores.shape()) +
                 " (" + shapes() + ")");
  }
  Variable<T> weights = attention_softmax(scores, mask);
  if (options.dropout_p > 0) weights = dropout(weights, options.dropout_p, true);
  return matmul(weights, v);
}

// ---- MultiheadAttention ------------------------------------------------------------------------

template <class T>
MultiheadAttention<T>::MultiheadAttention(std::size_t embed_dim, std::size_t num_heads, MultiheadAttentionOptions options)
    : embed_dim_(embed_dim), num_heads_(num_heads), kdim_(options.kdim ? options.kdim : embed_dim),
      vdim_(options.vdim ? options.vdim : embed_dim), options_(options) {
  const char* op = "MultiheadAttention";
  TG_CHECK(embed_dim > 0 && num_heads > 0, op,
           "embed_dim and num_heads must be positive, got " + dim_str(embed_dim) + " and " + dim_str(num_heads));
  TG_CHECK(embed_dim % num_heads == 0, op,
           "embed_dim " + dim_str(embed_dim) + " must be divisible by num_heads " + dim_str(num_heads));
  check_dropout<T>(op, options.dropout);
  const std::size_t e = embed_dim;
  if (kdim_ == e && vdim_ == e) {
    in_proj_weight = this->register_parameter("in_proj_weight", zeros<T>({3 * e, e}));
    init::xavier_uniform_(in_proj_weight);
  } else {
    q_proj_weight = this->register_parameter("q_proj_weight", zeros<T>({e, e}));
    k_proj_weight = this->register_parameter("k_proj_weight", zeros<T>({e, kdim_}));
    v_proj_weight = this->register_parameter("v_proj_weight", zeros<T>({e, vdim_}));
    init::xavier_uniform_(q_proj_weight);
    init::xavier_uniform_(k_proj_weight);
    init::xavier_uniform_(v_proj_weight);
  }
  if (options.bias) in_proj_bias = this->register_parameter("in_proj_bias", zeros<T>({3 * e}));
  out_proj = this->register_module("out_proj", std::make_shared<Linear<T>>(e, e, LinearOptions{.bias = options.bias}));
  if (options.bias) init::zeros_(out_proj->bias);
}

template <class T>
AttentionOutput<T> MultiheadAttention<T>::forward(const Variable<T>& query, const Variable<T>& key,
                                                  const Variable<T>& value, const MultiheadAttentionArgs<T>& args) {
  const char* op = "MultiheadAttention";
  const auto shapes = [&] {
    return "query " + shape_str(query.shape()) + ", key " + shape_str(key.shape()) + ", value " + shape_str(value.shape());
  };
  const bool batched = query.dim() == 3;
  TG_CHECK((query.dim() == 2 || batched) && key.dim() == query.dim() && value.dim() == query.dim(), op,
           shapes() + ": expected three 3-D ([L, B, E], or [B, L, E] with batch_first) or three 2-D (unbatched) inputs");
  TG_CHECK(query.shape().back() == embed_dim_ && key.shape().back() == kdim_ && value.shape().back() == vdim_, op,
           shapes() + ": features must be embed_dim " + dim_str(embed_dim_) + ", kdim " + dim_str(kdim_) + " and vdim " +
               dim_str(vdim_));
  // The head ops read [B, L, E] and PyTorch's default [L, B, E] alike (seq_first): no transposes.
  // Unbatched inputs get a batch axis of 1.
  const bool seq_first = batched && !options_.batch_first;
  const std::size_t batch_axis = seq_first ? 1 : 0, length_axis = seq_first ? 0 : 1;
  const auto batch_of = [&](const Variable<T>& x) { return batched ? x : unsqueeze(x, 0); };
  const Variable<T> qb = batch_of(query);
  const Variable<T> kb = key.same_node(query) ? qb : batch_of(key);
  const Variable<T> vb = value.same_node(key) ? kb : value.same_node(query) ? qb : batch_of(value);
  const std::size_t b = qb.shape()[batch_axis], l = qb.shape()[length_axis], s = kb.shape()[length_axis], e = embed_dim_,
                    h = num_heads_;
  TG_CHECK(kb.shape()[batch_axis] == b && vb.shape()[batch_axis] == b && vb.shape()[length_axis] == s, op,
           shapes() + ": batch sizes or key and value lengths differ");

  // the packed parameters cut by split: one gradient gathered for each, not three zero-padded
  const auto ie = static_cast<std::int64_t>(e);
  const std::vector<Variable<T>> weights_qkv =
      in_proj_weight.defined() ? split(in_proj_weight, {ie, ie, ie}, 0) : std::vector<Variable<T>>{q_proj_weight, k_proj_weight, v_proj_weight};
  const std::vector<Variable<T>> biases_qkv =
      in_proj_bias.defined() ? split(in_proj_bias, {ie, ie, ie}, 0) : std::vector<Variable<T>>(3);
  const Variable<T> q = linear(qb, weights_qkv[0], biases_qkv[0]);
  const Variable<T> k = linear(kb, weights_qkv[1], biases_qkv[1]);
  const Variable<T> v = linear(vb, weights_qkv[2], biases_qkv[2]);

  Variable<T> mask;
  const auto add_mask = [&](Variable<T> m) { mask = mask.defined() ? mask + m : m; };
  if (args.attn_mask.defined()) {
    Variable<T> m = additive_mask(args.attn_mask, args.attn_mask_type, op);
    const bool per_head = m.dim() == 3 && m.shape()[0] == b * h;
    TG_CHECK((m.dim() == 2 && m.shape() == Shape{l, s}) || (m.dim() == 3 && m.shape() == Shape{b * h, l, s}), op,
             "attn_mask " + shape_str(m.shape()) + " must be [L, S] = [" + dim_str(l) + "," + dim_str(s) +
                 "] or [B * num_heads, L, S] = [" + dim_str(b * h) + "," + dim_str(l) + "," + dim_str(s) + "] (" + shapes() + ")");
    add_mask(per_head ? reshape(m, {static_cast<std::int64_t>(b), static_cast<std::int64_t>(h), static_cast<std::int64_t>(l),
                                    static_cast<std::int64_t>(s)})
                      : m);
  }
  if (args.key_padding_mask.defined()) {
    const Shape expected = batched ? Shape{b, s} : Shape{s};
    TG_CHECK(args.key_padding_mask.shape() == expected, op,
             "key_padding_mask " + shape_str(args.key_padding_mask.shape()) + " must be [B, S] = " + shape_str(expected) +
                 " (" + shapes() + ")");
    Variable<T> m = additive_mask(args.key_padding_mask, args.key_padding_mask_type, op);
    add_mask(reshape(m, {static_cast<std::int64_t>(b), 1, 1, static_cast<std::int64_t>(s)}));
  }
  if (args.is_causal) add_mask(causal_mask<T>(l, s));

  const T scale = static_cast<T>(1 / std::sqrt(static_cast<double>(e / h)));
  Variable<T> weights = head_attention_weights(q, k, h, scale, mask, seq_first);  // [B, H, L, S]
  if (this->is_training() && options_.dropout > 0) weights = dropout(weights, options_.dropout, true);
  Variable<T> out = out_proj->forward(head_mix(weights, v, h, false, T(1), seq_first));  // as the query's layout
  AttentionOutput<T> result;
  result.output = batched ? out : squeeze(out, {0});
  if (args.need_weights) {
    Variable<T> w = args.average_attn_weights ? mean(weights, {1}) : weights;
    result.weights = batched ? w : squeeze(w, {0});
  }
  return result;
}

template <class T>
Variable<T> MultiheadAttention<T>::forward(const Variable<T>& x) {
  return forward(x, x, x, {.need_weights = false}).output;
}

template <class T>
std::string MultiheadAttention<T>::extra_repr() const {
  std::ostringstream os;
  os << "embed_dim=" << embed_dim_ << ", num_heads=" << num_heads_ << ", dropout=" << options_.dropout
     << ", bias=" << (in_proj_bias.defined() ? "true" : "false");
  if (kdim_ != embed_dim_ || vdim_ != embed_dim_) os << ", kdim=" << kdim_ << ", vdim=" << vdim_;
  if (options_.batch_first) os << ", batch_first=true";
  return os.str();
}

#define TG_ATTENTION_FUNCTIONS(T)                                                                                   \
  template Variable<T> scaled_dot_product_attention(const Variable<T>&, const Variable<T>&, const Variable<T>&,   \
                                                    const AttentionOptions<T>&);                                   \
  template Variable<T> additive_mask(const Variable<T>&, MaskType, const char*);                                    \
  template Variable<T> causal_mask<T>(std::size_t, std::size_t);                                                    \
  template Variable<T> generate_square_subsequent_mask<T>(std::size_t);                                             \
  template class MultiheadAttention<T>;
TG_ATTENTION_FUNCTIONS(float)
TG_ATTENTION_FUNCTIONS(double)
#undef TG_ATTENTION_FUNCTIONS

}  // namespace tg::nn
