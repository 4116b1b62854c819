#pragma once
// Data-parallel training: every rank computes gradients on its own shard of the batch, and
// GradientAverager replaces each parameter's .grad() by the mean over the ranks before the
// optimizer step, so every rank takes the same step (PyTorch's DistributedDataParallel).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "../../autograd/core/variable.hpp"
#include "../module.hpp"

namespace tg::dist {

struct GradientAveragerOptions {
  /// Gradients travel in buckets of about this many bytes, each sent (a non-blocking
  /// allreduce) as soon as backward has finished all of its gradients, while backward goes on
  /// with the earlier layers. Bigger buckets: fewer messages; smaller: more overlap.
  /// PyTorch's DistributedDataParallel uses 25 MB too.
  std::size_t bucket_bytes = 25u << 20;
  /// Make every rank's parameters and buffers equal to rank 0's first (the module constructor).
  bool broadcast_module = true;
};

/// Averages the gradients of a set of parameters over all ranks:
///
///   tg::dist::GradientAverager<float> averager(model);   // ranks start equal to rank 0
///   for (auto& [x, y] : loader) {                         // each rank its own shard
///     optimizer.zero_grad();
///     loss(model(x), y).backward();   // buckets start travelling during backward
///     averager.finish();              // waits; .grad() = mean over ranks
///     optimizer.step();               // the same step on every rank
///   }
///
/// Parameters go into buckets in reverse order of the list (the order in which backward
/// finishes them); buckets are sent in order, on every rank, so the ranks' collectives always
/// match. A parameter that got no gradient in a step counts as zero. With one rank nothing is
/// sent and finish() leaves .grad() as it is. Rank-0-only work (printing, saving) is the loop's.
template <class T>
class GradientAverager {
 public:
  /// The module's trainable parameters (and, with broadcast_module, a broadcast of its
  /// parameters and buffers from rank 0).
  explicit GradientAverager(nn::Module<T>& module, GradientAveragerOptions options = {});
  /// These parameters (leaves that require grad), named in messages by "parameter i".
  explicit GradientAverager(std::vector<Variable<T>> parameters, GradientAveragerOptions options = {});
  /// Removes the hooks; waits for any allreduce still in flight.
  ~GradientAverager();
  GradientAverager(GradientAverager&&) noexcept;
  GradientAverager& operator=(GradientAverager&&) noexcept;

  /// Sends what backward has not yet sent, waits for every bucket, and stores the mean over the
  /// ranks in each parameter's .grad(). Call once after each backward, before optimizer.step().
  /// Every rank must call it, the same number of times.
  void finish();

  std::size_t num_buckets() const;
  /// Bytes of gradient each rank contributes to the allreduce per step (all parameters).
  std::size_t bytes_per_step() const;
  /// How many buckets the last step sent during backward (the rest were sent by finish()).
  std::size_t buckets_sent_during_backward() const;
  /// Seconds spent inside finish() so far (sending the rest, waiting, writing the means): the
  /// communication that backward did not hide.
  double finish_seconds() const;
  /// How many times finish() has run.
  std::size_t steps() const;

 private:
  struct State;
  void start(std::vector<std::string> names, std::vector<Variable<T>> parameters);
  GradientAveragerOptions options_;
  std::unique_ptr<State> state_;
};

extern template class GradientAverager<float>;
extern template class GradientAverager<double>;

}  // namespace tg::dist
