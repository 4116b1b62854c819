#pragma once
// Datasets and the DataLoader that walks one in mini-batches, shuffled anew every epoch.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <vector>

#include "../../autograd/core/variable.hpp"

namespace tg::data {

/// Several examples stacked along a new first axis.
template <class T>
struct Batch {
  Variable<T> inputs;  // [B, ...], a leaf that does not require grad
  IndexArray targets;  // [B] (or [B, ...] for a TensorDataset with such targets)
};

/// One example: its input without the batch axis, and its label.
template <class T>
struct Example {
  xt::xarray<T> input;
  Index target;
};

/// What a DataLoader draws from: a number of examples and a way to fetch several at once.
/// Fetching a whole batch in one call lets a dataset copy rows in one pass.
template <class T>
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::size_t size() const = 0;
  /// The examples at `indices` (each < size()), stacked in that order.
  virtual Batch<T> get_batch(std::span<const std::size_t> indices) const = 0;
};

/// In-memory data: inputs [N, ...] and targets [N] (or [N, ...]); example i is row i of both.
template <class T>
class TensorDataset final : public Dataset<T> {
 public:
  TensorDataset(xt::xarray<T> inputs, IndexArray targets);

  std::size_t size() const override { return size_; }
  Batch<T> get_batch(std::span<const std::size_t> indices) const override;
  /// Example i alone (targets must be [N]).
  Example<T> get(std::size_t i) const;

  const xt::xarray<T>& inputs() const { return inputs_; }
  const IndexArray& targets() const { return targets_; }

 private:
  xt::xarray<T> inputs_;
  IndexArray targets_;
  std::size_t size_ = 0;
};

/// Which examples an epoch visits, and in which order, when a DataLoader is given one: a
/// subset such as one process's shard of the data (DistributedSampler). Without a sampler a
/// DataLoader visits every example, in order or shuffled (LoaderOptions).
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The indices epoch `epoch` visits, in order; size() of them, each below the dataset's size.
  virtual std::vector<std::size_t> indices(std::uint64_t epoch) const = 0;
  /// How many indices each epoch has.
  virtual std::size_t size() const = 0;
};

/// 0..n-1 in the order of epoch `epoch` of a shuffle seeded with `seed`: the DataLoader's
/// shuffle, and the shared order a DistributedSampler deals out to the processes.
std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed, std::uint64_t epoch);

struct LoaderOptions {
  std::size_t batch_size = 64;
  bool shuffle = false;     // a new order every epoch, drawn from (seed, epoch)
  std::uint64_t seed = 0;
  bool drop_last = false;   // skip the last batch when it would be smaller than batch_size
};

/// Walks a dataset in mini-batches: `for (auto& [x, y] : loader) { ... }`.
/// Each range-for (each begin()) is one epoch and advances the epoch counter. With shuffle
/// the order of epoch e depends only on (seed, e), so a run is reproducible and can resume
/// at any epoch with set_epoch(e). The loader keeps a reference: the dataset must outlive it.
template <class T>
class DataLoader {
 public:
  class iterator {
   public:
    using value_type = Batch<T>;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    Batch<T>& operator*() const { return current_; }
    Batch<T>* operator->() const { return &current_; }
    iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return batch_ >= num_batches_; }
    /// The position of the current batch in its epoch, from 0.
    std::size_t batch_index() const { return batch_; }
    std::size_t num_batches() const { return num_batches_; }
    /// The epoch this iteration runs.
    std::uint64_t epoch() const { return epoch_; }

   private:
    friend class DataLoader;
    iterator(const DataLoader* loader, std::uint64_t epoch);
    void fetch();

    const DataLoader* loader_ = nullptr;
    std::vector<std::size_t> order_;
    std::uint64_t epoch_ = 0;
    std::size_t batch_ = 0;
    std::size_t num_batches_ = 0;
    mutable Batch<T> current_;  // fetched on arrival at each batch; operator* hands it out
  };

  DataLoader(const Dataset<T>& dataset, LoaderOptions options = {});
  /// A temporary dataset would dangle: keep the dataset in a variable.
  DataLoader(const Dataset<T>&& dataset, LoaderOptions options = {}) = delete;
  /// Visits the examples the sampler picks, in its order (options.shuffle must stay off: the
  /// sampler shuffles). The loader keeps a reference: the sampler must outlive it too.
  DataLoader(const Dataset<T>& dataset, const Sampler& sampler, LoaderOptions options = {});
  DataLoader(const Dataset<T>& dataset, const Sampler&& sampler, LoaderOptions options = {}) = delete;

  /// Starts the next epoch (see epoch()) and advances the counter.
  iterator begin();
  std::default_sentinel_t end() const { return {}; }

  /// Batches per epoch: ceil(N / batch_size), or floor with drop_last (N: the sampler's size if any).
  std::size_t num_batches() const;
  /// The epoch the next begin() runs (0 at first).
  std::uint64_t epoch() const { return next_epoch_; }
  void set_epoch(std::uint64_t epoch) { next_epoch_ = epoch; }
  /// The order in which epoch `epoch` visits the examples (0..N-1 without shuffle; the sampler's if any).
  std::vector<std::size_t> order(std::uint64_t epoch) const;

  const Dataset<T>& dataset() const { return *dataset_; }
  const LoaderOptions& options() const { return options_; }

 private:
  const Dataset<T>* dataset_;
  const Sampler* sampler_ = nullptr;
  LoaderOptions options_;
  std::uint64_t next_epoch_ = 0;
};

extern template class TensorDataset<float>;
extern template class TensorDataset<double>;
extern template class DataLoader<float>;
extern template class DataLoader<double>;

}  // namespace tg::data
