#pragma once
// DistributedSampler: each of several processes visits its own shard of a dataset, the shards
// dealt from one shared order per epoch. Plain numbers (rank, world size), no MPI: it works
// with any launcher, and tg::dist fills them in from MPI.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "loader.hpp"

namespace tg::data {

struct DistributedSamplerOptions {
  std::size_t rank = 0;        // this process, 0..world_size-1
  std::size_t world_size = 1;  // how many processes share the data
  bool shuffle = true;         // a new shared order every epoch, drawn from (seed, epoch)
  std::uint64_t seed = 0;      // must be the same on every process
  bool drop_last = false;      // drop the tail that does not divide evenly, instead of padding
};

/// Process `rank` of `world_size` visits positions rank, rank + world_size, ... of the epoch's
/// shared order (shuffled_indices(N, seed, epoch), or 0..N-1). Without drop_last the order is
/// padded by repeating its first examples up to a multiple of world_size, so every process has
/// ceil(N / world_size) examples: the same number of steps, which collective communication
/// (allreduce) needs; the shards then cover the data set exactly once, plus the padding (fewer
/// than world_size repeats). With drop_last each has floor(N / world_size), disjoint.
class DistributedSampler final : public Sampler {
 public:
  DistributedSampler(std::size_t dataset_size, DistributedSamplerOptions options = {});

  std::vector<std::size_t> indices(std::uint64_t epoch) const override;
  std::size_t size() const override { return per_rank_; }
  /// How many examples of an epoch are repeats of others over all processes (the padding).
  std::size_t padding() const { return options_.drop_last ? 0 : per_rank_ * options_.world_size - dataset_size_; }
  std::size_t dataset_size() const { return dataset_size_; }
  const DistributedSamplerOptions& options() const { return options_; }

 private:
  std::size_t dataset_size_;
  DistributedSamplerOptions options_;
  std::size_t per_rank_;
};

}  // namespace tg::data
