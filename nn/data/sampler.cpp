// DistributedSampler: one shared order per epoch, padded, dealt out round-robin to the ranks.
#include "sampler.hpp"

#include <algorithm>
#include <numeric>
#include <string>

namespace tg::data {

DistributedSampler::DistributedSampler(std::size_t dataset_size, DistributedSamplerOptions options)
    : dataset_size_(dataset_size), options_(options) {
  TG_CHECK(options_.world_size > 0, "DistributedSampler", "world_size must be positive, got 0");
  TG_CHECK(options_.rank < options_.world_size, "DistributedSampler",
           "rank " + std::to_string(options_.rank) + " is out of range for world_size " +
               std::to_string(options_.world_size) + " (valid: 0 to " + std::to_string(options_.world_size - 1) + ")");
  const std::size_t n = dataset_size_, w = options_.world_size;
  per_rank_ = options_.drop_last ? n / w : n / w + (n % w != 0);
}

std::vector<std::size_t> DistributedSampler::indices(std::uint64_t epoch) const {
  std::vector<std::size_t> order;
  if (options_.shuffle) {
    order = shuffled_indices(dataset_size_, options_.seed, epoch);
  } else {
    order.resize(dataset_size_);
    std::iota(order.begin(), order.end(), std::size_t{0});
  }
  std::vector<std::size_t> shard(per_rank_);
  // Position p of the padded order is order[p mod N]: the padding repeats the order's start.
  for (std::size_t k = 0; k < per_rank_; ++k) shard[k] = order[(options_.rank + k * options_.world_size) % dataset_size_];
  return shard;
}

}  // namespace tg::data
