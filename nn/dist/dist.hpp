#pragma once
// tg::dist: data-parallel training over MPI (built when CMake finds MPI; link tapegrad::dist).
// Launch with `mpirun -np N program`; see the README's section on distributed training.
#include "collectives.hpp"
#include "environment.hpp"
#include "gradient_averager.hpp"
#include "../data/sampler.hpp"

namespace tg::dist {

/// This rank's shard of a dataset of `dataset_size` examples: a DistributedSampler with the
/// rank and world size filled in (the seed must be the same on every rank).
data::DistributedSampler shard_sampler(std::size_t dataset_size, std::uint64_t seed, bool shuffle = true,
                                       bool drop_last = false);

}  // namespace tg::dist
