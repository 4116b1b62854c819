#pragma once
// The primitives of multi-head attention. The heads of a [B, L, D] tensor are its column blocks
// of width D / heads; these ops read and write them in place through GEMM leading dimensions,
// so queries, keys and values go from their projections to the scores and back without a
// reshape or permute copy. The derivatives of head_scores and head_mix are each other (with
// transpose flags), so both differentiate to any order. scaled_dot_product_attention, the
// general form on [..., L, E] tensors, is in nn/attention.hpp.
#include <cstddef>

#include "../core/variable.hpp"
#include "elementwise.hpp"

namespace tg {

/// Scores of every head: out[b, h] = scale * x_h[b] y_h[b]^T, with x [B, L, D] and y [B, S, D]
/// split into `heads` column blocks x_h of width D / heads. Result [B, heads, L, S]. seq_first:
/// x [L, B, D] and y [S, B, D] (PyTorch's default layout), read in place all the same.
template <class T>
Variable<T> head_scores(const Variable<T>& x, const Variable<T>& y, std::size_t heads, Scalar<T> scale = T(1),
                        bool seq_first = false);

/// Heads mixed back into columns: out_h[b] = scale * op(a[b, h]) v_h[b], where a is
/// [B, heads, R, C], op(a) = a (R = L, C = S) or its transpose (transpose_a: C = L, R = S), and
/// v is [B, S, D]. Result [B, L, D], head h in columns h D/heads ... (h+1) D/heads - 1.
/// seq_first: v [S, B, D] and the result [L, B, D].
template <class T>
Variable<T> head_mix(const Variable<T>& a, const Variable<T>& v, std::size_t heads, bool transpose_a = false,
                     Scalar<T> scale = T(1), bool seq_first = false);

/// softmax(scores + mask) along the last axis, where mask (undefined: none) broadcasts to the
/// scores and holds 0 where a key takes part and -inf where it is masked. A row whose keys are
/// all masked is all 0 (attention to nothing yields a zero output and zero gradients, where a
/// plain softmax would give 0/0 = NaN). Masked positions get weight exactly 0 and gradient
/// exactly 0. d/dscores = out * (g - sum(g * out)); d/dmask is the same, summed to its shape.
template <class T>
Variable<T> attention_softmax(const Variable<T>& scores, const Variable<T>& mask = Variable<T>());

/// Attention weights of every head in one pass: attention_softmax(head_scores(x, y, heads,
/// scale, seq_first) + mask), each head's block of scores softmaxed right after its GEMM, while
/// it is in cache, rather than written out as a whole and read back. Same result, masks (0 or
/// -inf, broadcasting to [B, heads, L, S]) and all-masked rows (all 0) as the two ops.
template <class T>
Variable<T> head_attention_weights(const Variable<T>& x, const Variable<T>& y, std::size_t heads, Scalar<T> scale = T(1),
                                   const Variable<T>& mask = Variable<T>(), bool seq_first = false);
}  // namespace tg
