// Embedding: index_select of rows, reshaped to the indices' shape.
#include "embedding.hpp"

#include <cmath>

#include "../autograd/ops/select.hpp"
#include "../autograd/ops/shape.hpp"
#include "init.hpp"

namespace tg::nn {

template <class T>
Embedding<T>::Embedding(std::size_t num_embeddings, std::size_t embedding_dim)
    : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {
  TG_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding",
           "num_embeddings and embedding_dim must be positive, got " + std::to_string(num_embeddings) + " and " +
               std::to_string(embedding_dim));
  weight = this->register_parameter("weight", zeros<T>({num_embeddings, embedding_dim}));
  init::normal_(weight);
}

template <class T>
Variable<T> Embedding<T>::forward(const IndexArray& indices) {
  for (auto i : indices)
    TG_CHECK(i >= 0 && static_cast<std::size_t>(i) < num_embeddings_, "Embedding",
             "index " + std::to_string(i) + " is out of range for " + std::to_string(num_embeddings_) +
                 " embeddings (indices " + shape_str(indices.shape()) + ")");
  IndexArray flat = indices;
  flat.reshape({indices.size()});
  std::vector<std::int64_t> shape(indices.shape().begin(), indices.shape().end());
  shape.push_back(static_cast<std::int64_t>(embedding_dim_));
  return reshape(index_select(weight, 0, flat), shape);
}

template <class T>
Variable<T> Embedding<T>::forward(const Variable<T>& indices) {
  IndexArray index = xt::empty<Index>(indices.shape());
  for (std::size_t i = 0; i < indices.numel(); ++i) {
    const T v = indices.value().data()[i];
    TG_CHECK(v == std::floor(v), "Embedding",
             "index " + std::to_string(v) + " is not a whole number (indices " + shape_str(indices.shape()) + ")");
    TG_CHECK(v >= 0 && v < static_cast<T>(num_embeddings_), "Embedding",
             "index " + std::to_string(v) + " is out of range for " + std::to_string(num_embeddings_) +
                 " embeddings (indices " + shape_str(indices.shape()) + ")");
    index.data()[i] = static_cast<Index>(v);
  }
  return forward(index);
}

template <class T>
std::string Embedding<T>::extra_repr() const {
  return std::to_string(num_embeddings_) + ", " + std::to_string(embedding_dim_);
}

template class Embedding<float>;
template class Embedding<double>;

}  // namespace tg::nn
