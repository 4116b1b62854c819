// tg::dist across real processes (ctest runs it as `mpirun -np 2 test_dist`): N steps on every
// rank with batch b equal one process with the whole batch; broadcast makes differently seeded
// ranks identical; gradients of parameters some rank did not use; the sampler's shards over the
// real ranks; metrics over the ranks; errors that name the rank and the difference.
#include <doctest/doctest.h>
#include <mpi.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <tapegrad/nn/dist/dist.hpp>
#include <tapegrad/tapegrad.hpp>
#include <xtensor/xview.hpp>

using namespace tg;
using dist::GradientAveragerOptions;

namespace {

/// The whole data set, the same on every rank: `steps` batches of `rows` examples.
struct Problem {
  xt::xarray<float> inputs;  // [steps * rows, 8]
  IndexArray targets;        // [steps * rows]
};

Problem make_problem(std::size_t steps, std::size_t rows) {
  manual_seed(2024);
  Problem p{randn<float>({steps * rows, 8}).value(), IndexArray::from_shape({steps * rows})};
  for (std::size_t i = 0; i < steps * rows; ++i) p.targets(i) = Index((i * 7 + 3) % 4);
  return p;
}

/// Rows [start, start + count) of the data set.
std::pair<Var, IndexArray> rows(const Problem& p, std::size_t start, std::size_t count) {
  xt::xarray<float> x = xt::view(p.inputs, xt::range(start, start + count), xt::all());
  IndexArray y = xt::view(p.targets, xt::range(start, start + count));
  return {Var(std::move(x)), std::move(y)};
}

std::unique_ptr<nn::MLP<float>> make_model(std::uint64_t seed) {
  manual_seed(seed);
  return std::make_unique<nn::MLP<float>>(std::vector<std::size_t>{8, 16, 16, 4});
}

/// True on every rank when every rank's parameters are bit for bit rank 0's.
bool same_on_all_ranks(const nn::Module<float>& model) {
  bool same = true;
  for (const auto& p : model.parameters()) {
    Var copy(p.value());
    dist::broadcast(copy, 0);
    same = same && copy.value() == p.value();
  }
  return dist::all_reduce_sum(same ? 0.0 : 1.0) == 0;
}

/// Trains `steps` Adam steps, each rank on its b rows of every 2b-row batch, and returns the
/// largest difference from one process that trained on all 2b rows.
double train_both_ways(GradientAveragerOptions options, std::size_t* buckets, std::size_t* sent_in_backward) {
  const std::size_t steps = 6, per_rank = 5, ranks = std::size_t(dist::world_size());
  const std::size_t batch = per_rank * ranks;
  const Problem data = make_problem(steps, batch);

  // The reference: one process, batch 2b, initialised as rank 0 initialises (seed 100).
  auto reference = make_model(100);
  optim::Adam<float> reference_opt(reference->parameters(), {.lr = 0.01});
  for (std::size_t s = 0; s < steps; ++s) {
    auto [x, y] = rows(data, s * batch, batch);
    reference_opt.zero_grad();
    nn::cross_entropy((*reference)(x), y).backward();
    reference_opt.step();
  }

  // Data-parallel: each rank seeded differently; the averager starts them all from rank 0's.
  auto model = make_model(100 + std::uint64_t(dist::rank()));
  dist::GradientAverager<float> averager(*model, options);
  optim::Adam<float> opt(model->parameters(), {.lr = 0.01});
  for (std::size_t s = 0; s < steps; ++s) {
    auto [x, y] = rows(data, s * batch + std::size_t(dist::rank()) * per_rank, per_rank);
    opt.zero_grad();
    nn::cross_entropy((*model)(x), y).backward();  // the mean over b rows; averaged: over 2b
    averager.finish();
    opt.step();
  }
  CHECK(averager.steps() == steps);
  CHECK(averager.finish_seconds() > 0);  // the time finish() took is counted
  *buckets = averager.num_buckets();
  *sent_in_backward = averager.buckets_sent_during_backward();
  CHECK(same_on_all_ranks(*model));
  double worst = 0;
  const auto mine = model->parameters(), theirs = reference->parameters();
  for (std::size_t i = 0; i < mine.size(); ++i)
    worst = std::max(worst, double(xt::amax(xt::abs(mine[i].value() - theirs[i].value()))()));
  return worst;
}

}  // namespace

TEST_CASE("the test runs on several ranks") {
  CHECK(dist::world_size() >= 2);
  CHECK(dist::rank() < dist::world_size());
  CHECK(dist::is_root() == (dist::rank() == 0));
  dist::barrier();
}

TEST_CASE("N steps on every rank with batch b give the parameters of one process with batch world*b") {
  std::size_t buckets = 0, sent_early = 0;
  SUBCASE("one 25 MB bucket") {
    const double worst = train_both_ways({}, &buckets, &sent_early);
    CHECK(buckets == 1);
    CHECK(worst < 2e-5);
  }
  SUBCASE("a bucket per few hundred bytes: sent one by one during backward") {
    const double worst = train_both_ways({.bucket_bytes = 256}, &buckets, &sent_early);
    CHECK(buckets > 3);
    CHECK(sent_early == buckets);  // every bucket left from a hook, none waited for finish()
    CHECK(worst < 2e-5);
  }
}

TEST_CASE("bucketing: reverse parameter order, about bucket_bytes each, volume per step") {
  auto model = make_model(1);  // 8*16+16 + 16*16+16 + 16*4+4 = 484 floats
  dist::GradientAverager<float> one(*model);
  CHECK(one.num_buckets() == 1);
  CHECK(one.bytes_per_step() == 484 * sizeof(float));
  // 1 KB holds 256 floats: the 16x16 weight fills a bucket alone
  dist::GradientAverager<float> small(*model, {.bucket_bytes = 1024});
  CHECK(small.num_buckets() == 3);  // [4 + 64 + 16], [256], [16 + 128]
  CHECK(small.bytes_per_step() == 484 * sizeof(float));
}

TEST_CASE("broadcast makes differently seeded ranks identical, buffers included") {
  manual_seed(7 + std::uint64_t(dist::rank()));
  nn::Sequential<float> model;
  model.push_back(std::make_shared<nn::Linear<float>>(3, 5));
  model.push_back(std::make_shared<nn::BatchNorm1d<float>>(5));
  // a forward in training mode moves the running statistics differently on every rank
  model(randn<float>({4, 3}));
  CHECK_FALSE(same_on_all_ranks(model));
  dist::broadcast(model);
  CHECK(same_on_all_ranks(model));
  bool buffers_same = true;
  for (const auto& b : model.buffers()) {
    Var copy(b.value());
    dist::broadcast(copy);
    buffers_same = buffers_same && copy.value() == b.value();
  }
  CHECK(dist::all_reduce_sum(buffers_same ? 0.0 : 1.0) == 0);
  // rank 0's initialisation: the same as a model seeded with 7 here
  manual_seed(7);
  nn::Linear<float> rank0_first(3, 5);
  CHECK(model.parameters()[0].value() == rank0_first.parameters()[0].value());
}

TEST_CASE("a parameter some rank did not use counts as a zero gradient there") {
  Var w({1.f, 2.f}, true), unused_on_rank1({3.f}, true);
  dist::GradientAverager<float> averager(std::vector<Var>{w, unused_on_rank1}, {.bucket_bytes = 4});
  Var loss = sum(w * 2.f);
  if (dist::rank() == 0) loss = loss + sum(unused_on_rank1 * 6.f);
  loss.backward();
  averager.finish();
  const float ranks = float(dist::world_size());
  CHECK(w.grad().value() == xt::xarray<float>{2.f, 2.f});
  CHECK(unused_on_rank1.grad().value()(0) == doctest::Approx(6.f / ranks));
  // a step where nobody used it: a zero gradient everywhere, still averaged in order
  sum(w * 4.f).backward();  // accumulates onto the averaged 2s: 6 on every rank
  unused_on_rank1.zero_grad();
  averager.finish();
  CHECK(w.grad().value() == xt::xarray<float>{6.f, 6.f});
  CHECK(unused_on_rank1.grad().value()(0) == 0.f);
}

TEST_CASE("a second backward after a bucket was sent is refused by name; finish() still completes") {
  Var w({1.f, 2.f}, true);
  w.set_name("w");
  dist::GradientAverager<float> averager(std::vector<Var>{w});
  sum(w * float(dist::rank() + 1)).backward();  // the bucket leaves from the hook
  try {
    sum(w * 1.f).backward();
    FAIL("expected a tg::Error");
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK(message.find("GradientAverager") != std::string::npos);
    CHECK(message.find("parameter 0") != std::string::npos);
    CHECK(message.find("after its bucket was sent") != std::string::npos);
  }
  averager.finish();
  float mean = 0;
  for (int r = 0; r < dist::world_size(); ++r) mean += float(r + 1);
  mean /= float(dist::world_size());
  CHECK(w.grad().value() == xt::xarray<float>{mean, mean});
}

TEST_CASE("the sampler's shards over the real ranks cover the data set once per epoch") {
  const std::size_t n = 101;  // not a multiple of the world size: padding
  const int world = dist::world_size();
  auto sampler = dist::shard_sampler(n, /*seed=*/11);
  CHECK(sampler.options().rank == std::size_t(dist::rank()));
  {
    data::TensorDataset<float> ds(xt::xarray<float>(xt::zeros<float>(Shape{n, 1})), IndexArray(xt::arange<Index>(Index(n))));
    data::DataLoader<float> loader(ds, sampler, {.batch_size = 8});
    // the same number of steps on every rank, so their collectives pair up
    const double steps = double(loader.num_batches());
    CHECK(dist::all_reduce_sum(steps) == steps * world);
    for (std::uint64_t epoch = 0; epoch < 2; ++epoch) {
      std::vector<long long> mine;
      for (auto& batch : loader)
        for (std::size_t i = 0; i < batch.targets.size(); ++i) mine.push_back(batch.targets(i));
      std::vector<long long> all(mine.size() * std::size_t(world));
      REQUIRE(MPI_Allgather(mine.data(), int(mine.size()), MPI_LONG_LONG, all.data(), int(mine.size()), MPI_LONG_LONG,
                            MPI_COMM_WORLD) == MPI_SUCCESS);
      std::map<long long, int> visits;
      for (auto i : all) ++visits[i];
      CHECK(visits.size() == n);  // every example
      int repeats = 0;
      for (auto& [index, count] : visits) repeats += count - 1;
      CHECK(repeats == int(sampler.padding()));  // and only the padding twice
      CHECK(repeats < world);
    }
  }
}

TEST_CASE("metrics over the ranks") {
  const double r = dist::rank(), n = dist::world_size();
  CHECK(dist::all_reduce_sum(r + 1) == doctest::Approx(n * (n + 1) / 2));
  CHECK(dist::all_reduce_mean(r) == doctest::Approx((n - 1) / 2));
  // rank r saw r + 1 examples, each with loss 2r: the mean over all examples
  double expected_sum = 0, expected_count = 0;
  for (int k = 0; k < int(n); ++k) expected_sum += 2.0 * k * (k + 1), expected_count += k + 1;
  CHECK(dist::mean_over_ranks(2 * r * (r + 1), r + 1) == doctest::Approx(expected_sum / expected_count));
  std::vector<double> many{r, 1.0, -r};
  dist::all_reduce_sum(many);
  CHECK(many == std::vector<double>{n * (n - 1) / 2, n, -n * (n - 1) / 2});
}

TEST_CASE("a model that differs between ranks is an error on every rank, naming the difference") {
  nn::Linear<float> model(3, dist::rank() == 1 ? 5 : 4);
  try {
    dist::broadcast(model);
    FAIL("expected a tg::Error");
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("tg::dist::broadcast") != std::string::npos);
    if (dist::rank() == 1)
      CHECK(message.find("rank 1's module differs from root rank 0's at entry 0: parameter 'weight' [5,3] here, "
                         "parameter 'weight' [4,3] on the root") != std::string::npos);
    else if (dist::rank() == 0)
      CHECK(message.find("differs on another rank") != std::string::npos);
  }
  {  // a root that is no rank
    Var v({1.f});
    const int n = dist::world_size();
    try {
      dist::broadcast(v, n);
      FAIL("expected a tg::Error");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("root " + std::to_string(n) + " is out of range") != std::string::npos);
    }
  }
}
