#pragma once
// --distributed for the examples (fashion_mnist, fashion_cnn): the same training loop,
// data-parallel over MPI (tg::dist, when this build has it). Each rank trains on its shard of
// every epoch, the gradients are averaged over the ranks before each optimizer step, rank 0
// alone prints and writes files. Without --distributed every call below does what one process
// would. An example using it links tapegrad::dist when it exists (examples/CMakeLists.txt).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <tapegrad/tapegrad.hpp>
#if TAPEGRAD_HAVE_DIST
#include <tapegrad/nn/dist/dist.hpp>
#endif

namespace examples {

class DataParallel {
 public:
  /// `program` names the example in error messages.
  DataParallel(std::string program, bool distributed, int& argc, char**& argv) : program_(std::move(program)) {
    if (!distributed) return;
#if TAPEGRAD_HAVE_DIST
    environment_.emplace(argc, argv);
    rank_ = tg::dist::rank();
    world_size_ = tg::dist::world_size();
    // Rank 0 speaks for all: the others' standard output goes nowhere (errors still show).
    if (rank_ != 0 && !std::freopen("/dev/null", "w", stdout)) std::perror("freopen /dev/null");
#else
    std::fprintf(stderr, "%s --distributed: this build has no MPI (apt-get install libopenmpi-dev, reconfigure)\n",
                 program_.c_str());
    std::exit(2);
#endif
  }

  /// The --distributed flag's help for `program`.
  static std::string flag_help(const std::string& program) {
    return "data-parallel over MPI (mpirun -np N " + program +
           " --distributed): each rank trains on its shard with --batch-size, rank 0 prints and writes";
  }

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_root() const { return rank_ == 0; }
  /// Whether this process is one rank of a --distributed job.
  bool distributed() const {
#if TAPEGRAD_HAVE_DIST
    return environment_.has_value();
#else
    return false;
#endif
  }
  /// "data-parallel over 2 ranks: each a shard of 469 batches of 64 per epoch, 128 images per step
  /// in all", a blank line after it ("" without --distributed).
  std::string shards_summary(std::size_t batches, std::size_t batch_size) const {
    if (!distributed()) return {};
    return "data-parallel over " + std::to_string(world_size_) + " ranks: each a shard of " + std::to_string(batches) +
           " batches of " + std::to_string(batch_size) + " per epoch, " + std::to_string(world_size_ * batch_size) +
           " images per step in all\n\n";
  }

  /// The training loader: the whole set reshuffled every epoch, or this rank's shard of it
  /// (dealt from the same shuffle on every rank, padded so all ranks take the same steps).
  tg::data::DataLoader<float> loader(const tg::data::Dataset<float>& set, std::size_t batch_size, std::uint64_t seed) {
#if TAPEGRAD_HAVE_DIST
    if (environment_) {
      sampler_.emplace(tg::dist::shard_sampler(set.size(), seed));
      return tg::data::DataLoader<float>(set, *sampler_, {.batch_size = batch_size});
    }
#endif
    return tg::data::DataLoader<float>(set, {.batch_size = batch_size, .shuffle = true, .seed = seed});
  }

  /// Starts every rank from rank 0's parameters and averages the model's gradients from now on.
  void average_gradients_of(tg::nn::Module<float>& model) {
#if TAPEGRAD_HAVE_DIST
    if (environment_) averager_ = std::make_unique<tg::dist::GradientAverager<float>>(model);
#endif
  }
  /// Makes every rank's parameters and buffers rank 0's: BatchNorm's running statistics, which
  /// each rank updates from its own shard, before evaluating or saving (as PyTorch's
  /// DistributedDataParallel with broadcast_buffers; the parameters are equal already).
  void broadcast_from_root(tg::nn::Module<float>& model) {
#if TAPEGRAD_HAVE_DIST
    if (environment_) tg::dist::broadcast(model);
#endif
  }
  /// After backward, before the optimizer step: waits for the mean gradient.
  void finish_gradients() {
#if TAPEGRAD_HAVE_DIST
    if (averager_) averager_->finish();
#endif
  }
  /// "rank 0 waited 1.2 s for gradients in 938 steps (1.3 ms per step), 0.94 MB each": what
  /// communication cost beyond what backward hid ("" without --distributed).
  std::string communication_summary() const {
#if TAPEGRAD_HAVE_DIST
    if (averager_ && averager_->steps() > 0) {
      char text[200];
      std::snprintf(text, sizeof text, "rank 0 waited %.2f s for gradients in %zu steps (%.2f ms per step), %.2f MB each",
                    averager_->finish_seconds(), averager_->steps(),
                    1e3 * averager_->finish_seconds() / double(averager_->steps()), averager_->bytes_per_step() / 1e6);
      return text;
    }
#endif
    return {};
  }
  /// The sum of a count over the ranks.
  double sum(double value) const {
#if TAPEGRAD_HAVE_DIST
    if (environment_) return tg::dist::all_reduce_sum(value);
#endif
    return value;
  }
  /// One process reports an error and returns; a rank of a job ends every rank with it.
  void fail(const std::string& what) const {
#if TAPEGRAD_HAVE_DIST
    if (environment_) tg::dist::abort_all(what);
#endif
    std::fprintf(stderr, "%s: %s\n", program_.c_str(), what.c_str());
  }

 private:
  std::string program_;
  int rank_ = 0, world_size_ = 1;
#if TAPEGRAD_HAVE_DIST
  std::optional<tg::dist::Environment> environment_;
  std::optional<tg::data::DistributedSampler> sampler_;
  std::unique_ptr<tg::dist::GradientAverager<float>> averager_;
#endif
};

}  // namespace examples
