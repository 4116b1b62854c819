// DistributedSampler: the shards of all ranks cover the data set once per epoch (plus fewer
// than world_size padded repeats), every rank takes the same number of steps, the shared order
// is reshuffled each epoch from the seed; and a DataLoader walks a sampler's shard.
// (tests/dist/ checks the same across real MPI processes.)
#include "testing.hpp"

#include <algorithm>
#include <map>
#include <set>

using namespace tg;
using namespace tg::data;
using tg::testing::check_error;

namespace {
/// How many times each index appears over the shards of all ranks in one epoch.
std::map<std::size_t, int> visits(std::size_t n, std::size_t world, std::uint64_t epoch, DistributedSamplerOptions base) {
  std::map<std::size_t, int> count;
  for (std::size_t r = 0; r < world; ++r) {
    base.rank = r;
    base.world_size = world;
    for (std::size_t i : DistributedSampler(n, base).indices(epoch)) ++count[i];
  }
  return count;
}
}  // namespace

TEST_CASE("shards cover the data set exactly once per epoch when it divides evenly") {
  for (std::size_t world : {1, 2, 4, 5}) {
    const auto count = visits(20, world, 3, {.seed = 9});
    CHECK(count.size() == 20);
    CHECK(std::all_of(count.begin(), count.end(), [](auto& e) { return e.second == 1; }));
    CHECK(DistributedSampler(20, {.rank = 0, .world_size = world}).padding() == 0);
  }
}

TEST_CASE("uneven sizes: padding repeats the first examples of the shared order, every rank the same length") {
  const std::size_t n = 23, world = 4;  // ceil(23 / 4) = 6 per rank, 24 in all: 1 repeat
  for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
    const auto count = visits(n, world, epoch, {.seed = 5});
    CHECK(count.size() == n);  // every example at least once
    int repeats = 0;
    for (auto& [index, c] : count) repeats += c - 1;
    CHECK(repeats == 1);
    // the repeated one is the first of the epoch's shared order
    const std::size_t first = shuffled_indices(n, 5, epoch)[0];
    CHECK(count.at(first) == 2);
  }
  for (std::size_t r = 0; r < world; ++r) {
    DistributedSampler s(n, {.rank = r, .world_size = world, .seed = 5});
    CHECK(s.size() == 6);
    CHECK(s.indices(0).size() == 6);
    CHECK(s.padding() == 1);
  }
  // more ranks than examples: the order repeats as often as needed
  const auto tiny = visits(3, 8, 0, {.shuffle = false});
  CHECK(tiny.size() == 3);
  CHECK(tiny.at(0) == 3);
  CHECK(tiny.at(1) == 3);
  CHECK(tiny.at(2) == 2);
}

TEST_CASE("drop_last: floor(N / world) each, disjoint, the tail left out") {
  const auto count = visits(23, 4, 0, {.seed = 5, .drop_last = true});
  CHECK(count.size() == 20);
  CHECK(std::all_of(count.begin(), count.end(), [](auto& e) { return e.second == 1; }));
  DistributedSampler s(23, {.rank = 3, .world_size = 4, .seed = 5, .drop_last = true});
  CHECK(s.size() == 5);
  CHECK(s.padding() == 0);
}

TEST_CASE("one shared order per epoch: same seed same shards, a new order each epoch, round-robin") {
  DistributedSampler a(100, {.rank = 1, .world_size = 2, .seed = 42});
  DistributedSampler again(100, {.rank = 1, .world_size = 2, .seed = 42});
  DistributedSampler other_seed(100, {.rank = 1, .world_size = 2, .seed = 43});
  CHECK(a.indices(0) == again.indices(0));
  CHECK(a.indices(0) != a.indices(1));
  CHECK(a.indices(0) != other_seed.indices(0));
  // rank 1 of 2 takes positions 1, 3, 5, ... of the shared order
  const auto order = shuffled_indices(100, 42, 7);
  const auto shard = a.indices(7);
  for (std::size_t k = 0; k < shard.size(); ++k) CHECK(shard[k] == order[1 + 2 * k]);
  // one process: the DataLoader's own shuffle, the same order
  DistributedSampler alone(100, {.seed = 42});
  TensorDataset<float> ds(xt::xarray<float>(xt::zeros<float>(Shape{100, 1})), IndexArray(xt::arange<Index>(100)));
  DataLoader<float> shuffled(ds, {.batch_size = 10, .shuffle = true, .seed = 42});
  CHECK(alone.indices(4) == shuffled.order(4));
  // without shuffle: 0..N-1 dealt round-robin
  DistributedSampler plain(10, {.rank = 2, .world_size = 3, .shuffle = false});
  CHECK(plain.indices(5) == std::vector<std::size_t>{2, 5, 8, 1});
}

TEST_CASE("a DataLoader walks the sampler's shard, in batches, epoch after epoch") {
  TensorDataset<float> ds(xt::xarray<float>(xt::zeros<float>(Shape{23, 2})), IndexArray(xt::arange<Index>(23)));
  DistributedSampler sampler(23, {.rank = 1, .world_size = 2, .seed = 3});
  DataLoader<float> loader(ds, sampler, {.batch_size = 5});
  CHECK(loader.num_batches() == 3);  // 12 examples: 5 + 5 + 2
  for (std::uint64_t epoch = 0; epoch < 2; ++epoch) {
    std::vector<std::size_t> seen;
    for (auto& batch : loader)
      for (std::size_t i = 0; i < batch.targets.size(); ++i) seen.push_back(std::size_t(batch.targets(i)));
    CHECK(seen == sampler.indices(epoch));
  }
  DataLoader<float> dropping(ds, sampler, {.batch_size = 5, .drop_last = true});
  CHECK(dropping.num_batches() == 2);
}

TEST_CASE("bad settings are refused with the values") {
  check_error([] { DistributedSampler(10, {.rank = 2, .world_size = 2}); },
              {"DistributedSampler", "rank 2", "world_size 2", "0 to 1"});
  check_error([] { DistributedSampler(10, {.world_size = 0}); }, {"DistributedSampler", "world_size", "0"});
  TensorDataset<float> ds(xt::xarray<float>(xt::zeros<float>(Shape{4, 1})), IndexArray(xt::arange<Index>(4)));
  DistributedSampler sampler(4, {});
  check_error([&] { DataLoader<float>(ds, sampler, {.shuffle = true}); }, {"DataLoader", "shuffle", "sampler"});

  struct Liar final : Sampler {
    std::vector<std::size_t> indices(std::uint64_t) const override { return {0, 1}; }
    std::size_t size() const override { return 3; }
  } liar;
  DataLoader<float> loader(ds, liar, {.batch_size = 2});
  check_error([&] { (void)loader.begin(); }, {"DataLoader", "gave 2 indices", "epoch 0", "size() is 3"});
}
