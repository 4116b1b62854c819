#pragma once
// Embedding: a lookup table of learnable rows.
#include <cstddef>

#include "module.hpp"

namespace tg::nn {

/// out[..., :] = weight[indices[...], :]: indices of any shape [...] give [..., embedding_dim].
/// weight is [num_embeddings, embedding_dim], init N(0, 1) (as PyTorch). The gradient of
/// repeated indices accumulates into their row (index_select's derivative).
template <class T = float>
class Embedding : public Module<T> {
 public:
  Embedding(std::size_t num_embeddings, std::size_t embedding_dim);
  Variable<T> forward(const IndexArray& indices);
  /// Indices held as whole numbers in a Variable (so an Embedding can sit in a Sequential).
  Variable<T> forward(const Variable<T>& indices) override;
  Variable<T> operator()(const IndexArray& indices) { return forward(indices); }
  using Module<T>::operator();
  std::string extra_repr() const override;

  std::size_t num_embeddings() const { return num_embeddings_; }
  std::size_t embedding_dim() const { return embedding_dim_; }

  Variable<T> weight;

 private:
  std::size_t num_embeddings_, embedding_dim_;
};

extern template class Embedding<float>;
extern template class Embedding<double>;

}  // namespace tg::nn
