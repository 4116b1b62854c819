// TensorDataset's row gathering and the DataLoader's per-epoch order.
#include "loader.hpp"

#include <algorithm>
#include <numeric>
#include <random>

namespace tg::data {

namespace {

/// Rows `indices` of a [N, ...] array, as a [B, ...] array: one contiguous copy per row.
template <class A>
A gather_rows(const A& source, std::size_t n, std::span<const std::size_t> indices, const char* op) {
  auto shape = source.shape();
  const std::size_t row = n == 0 ? 0 : source.size() / n;
  for (std::size_t k = 0; k < indices.size(); ++k)
    TG_CHECK(indices[k] < n, op,
             "index " + std::to_string(indices[k]) + " (batch position " + std::to_string(k) +
                 ") out of range for " + std::to_string(n) + " examples of shape " + shape_str(shape));
  shape[0] = indices.size();
  A out(shape);
  const auto* from = source.data();
  auto* to = out.data();
  for (std::size_t k = 0; k < indices.size(); ++k)
    std::copy_n(from + indices[k] * row, row, to + k * row);
  return out;
}

/// Uniform in [0, bound) without modulo bias: reject the lowest 2^64 mod bound draws.
/// (Written out rather than std::uniform_int_distribution, whose algorithm differs between
/// standard libraries: the same seed gives the same order everywhere.)
std::uint64_t below(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t threshold = (0 - bound) % bound;
  std::uint64_t x;
  do x = rng();
  while (x < threshold);
  return x % bound;
}

}  // namespace

// ---- TensorDataset ---------------------------------------------------------------------------

template <class T>
TensorDataset<T>::TensorDataset(xt::xarray<T> inputs, IndexArray targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  TG_CHECK(inputs_.dimension() >= 1 && targets_.dimension() >= 1, "TensorDataset",
           "inputs " + shape_str(inputs_.shape()) + " and targets " + shape_str(targets_.shape()) +
               " need a first (example) axis");
  TG_CHECK(inputs_.shape()[0] == targets_.shape()[0], "TensorDataset",
           "inputs " + shape_str(inputs_.shape()) + " and targets " + shape_str(targets_.shape()) +
               " differ in their number of examples");
  size_ = inputs_.shape()[0];
}

template <class T>
Batch<T> TensorDataset<T>::get_batch(std::span<const std::size_t> indices) const {
  return {Variable<T>(gather_rows(inputs_, size_, indices, "TensorDataset")),
          gather_rows(targets_, size_, indices, "TensorDataset")};
}

template <class T>
Example<T> TensorDataset<T>::get(std::size_t i) const {
  TG_CHECK(targets_.dimension() == 1, "TensorDataset::get",
           "targets " + shape_str(targets_.shape()) + " are not one label per example");
  const std::size_t index[] = {i};
  auto rows = gather_rows(inputs_, size_, index, "TensorDataset::get");
  auto shape = rows.shape();
  xt::xarray<T> input(Shape(shape.begin() + 1, shape.end()));
  std::copy_n(rows.data(), rows.size(), input.data());
  return {std::move(input), targets_(i)};
}

// ---- DataLoader ------------------------------------------------------------------------------

template <class T>
DataLoader<T>::DataLoader(const Dataset<T>& dataset, LoaderOptions options)
    : dataset_(&dataset), options_(options) {
  TG_CHECK(options_.batch_size > 0, "DataLoader", "batch_size must be positive, got 0");
}

template <class T>
DataLoader<T>::DataLoader(const Dataset<T>& dataset, const Sampler& sampler, LoaderOptions options)
    : DataLoader(dataset, options) {
  TG_CHECK(!options_.shuffle, "DataLoader",
           "shuffle = true and a sampler exclude each other: the sampler decides the order (give it the seed)");
  sampler_ = &sampler;
}

template <class T>
std::size_t DataLoader<T>::num_batches() const {
  const std::size_t n = sampler_ ? sampler_->size() : dataset_->size(), b = options_.batch_size;
  // ceil as n / b plus a partial batch: (n + b - 1) / b wraps for a huge batch_size (and gave 0 batches)
  return options_.drop_last ? n / b : n / b + (n % b != 0);
}

/// Fisher-Yates driven by mt19937_64 seeded from (seed, epoch) through seed_seq, so nearby
/// seeds and epochs give unrelated orders (seed 1 epoch 0 is not seed 0 epoch 1).
std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
  std::vector<std::size_t> indices(n);
  std::iota(indices.begin(), indices.end(), std::size_t{0});
  std::seed_seq seq{std::uint32_t(seed), std::uint32_t(seed >> 32), std::uint32_t(epoch), std::uint32_t(epoch >> 32)};
  std::mt19937_64 rng(seq);
  for (std::size_t i = indices.size(); i > 1; --i) std::swap(indices[i - 1], indices[below(rng, i)]);
  return indices;
}

template <class T>
std::vector<std::size_t> DataLoader<T>::order(std::uint64_t epoch) const {
  if (sampler_) {
    std::vector<std::size_t> indices = sampler_->indices(epoch);
    TG_CHECK(indices.size() == sampler_->size(), "DataLoader",
             "the sampler gave " + std::to_string(indices.size()) + " indices for epoch " + std::to_string(epoch) +
                 ", but its size() is " + std::to_string(sampler_->size()));
    return indices;
  }
  if (options_.shuffle) return shuffled_indices(dataset_->size(), options_.seed, epoch);
  std::vector<std::size_t> indices(dataset_->size());
  std::iota(indices.begin(), indices.end(), std::size_t{0});
  return indices;
}

template <class T>
typename DataLoader<T>::iterator DataLoader<T>::begin() {
  return iterator(this, next_epoch_++);
}

template <class T>
DataLoader<T>::iterator::iterator(const DataLoader* loader, std::uint64_t epoch)
    : loader_(loader), order_(loader->order(epoch)), epoch_(epoch), num_batches_(loader->num_batches()) {
  fetch();
}

template <class T>
typename DataLoader<T>::iterator& DataLoader<T>::iterator::operator++() {
  ++batch_;
  fetch();
  return *this;
}

template <class T>
void DataLoader<T>::iterator::fetch() {
  if (batch_ >= num_batches_) {
    current_ = {};  // the last batch's memory goes back as the loop ends
    return;
  }
  const std::size_t b = loader_->options_.batch_size;
  const std::size_t start = batch_ * b;
  const std::size_t count = std::min(b, order_.size() - start);
  current_ = loader_->dataset_->get_batch(std::span<const std::size_t>(order_.data() + start, count));
}

template class TensorDataset<float>;
template class TensorDataset<double>;
template class DataLoader<float>;
template class DataLoader<double>;

}  // namespace tg::data
