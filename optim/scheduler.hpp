#pragma once
// Learning-rate schedulers. Each is a closed form lr(epoch) of the base learning rates (the
// groups' lr when the scheduler is built); step() advances one epoch (or one iteration, as
// you call it) and sets every group's lr. Schedulers do not compose multiplicatively, as
// PyTorch's chainable ones do; use one per optimizer, or LinearWarmup wrapping another.
#include <cstdint>
#include <memory>
#include <vector>

#include "optimizer.hpp"

namespace tg::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one epoch and sets every group's lr to lr_at(group, last_epoch()).
  void step();
  /// Jumps to an epoch (to resume training), setting the lrs for it.
  void set_last_epoch(std::int64_t epoch);
  std::int64_t last_epoch() const noexcept { return last_epoch_; }
  /// The lr of every group as this scheduler last set it.
  const std::vector<double>& get_last_lr() const noexcept { return last_lr_; }
  const std::vector<double>& base_lrs() const noexcept { return base_lrs_; }
  OptimizerBase& optimizer() const noexcept { return *optimizer_; }
  /// The closed form: the lr of a group at an epoch (epoch 0 is the start).
  virtual double lr_at(std::size_t group, std::int64_t epoch) const = 0;

  /// "last_epoch" (0-d) and "base_lrs" ([groups]), as PyTorch's scheduler state_dict; the
  /// schedule's own settings (gamma, T_max, ...) are the constructor's and are not saved.
  StateDict<double> state_dict() const;
  /// Restores last_epoch and the base lrs and sets the lrs for that epoch. Checks first (names,
  /// shapes, a whole non-negative epoch, finite lrs >= 0) and changes nothing on error.
  void load_state_dict(const StateDict<double>& state);

 protected:
  /// Takes the groups' current lr as base lrs. The optimizer must outlive the scheduler.
  LRScheduler(const char* name, OptimizerBase& optimizer);
  /// Sets the lrs of last_epoch(); derived constructors call it once they are complete.
  void apply();

  const char* name_;
  OptimizerBase* optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  std::int64_t last_epoch_ = 0;
};

/// lr = base · gamma^floor(epoch / step_size).
class StepLR : public LRScheduler {
 public:
  StepLR(OptimizerBase& optimizer, std::int64_t step_size, double gamma = 0.1);
  double lr_at(std::size_t group, std::int64_t epoch) const override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

/// lr = base · gamma^epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(OptimizerBase& optimizer, double gamma);
  double lr_at(std::size_t group, std::int64_t epoch) const override;

 private:
  double gamma_;
};

/// lr = eta_min + (base − eta_min)·(1 + cos(π·epoch / T_max)) / 2: from base down to eta_min
/// at epoch T_max (and, as PyTorch's, back up along the cosine after it).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(OptimizerBase& optimizer, std::int64_t T_max, double eta_min = 0);
  double lr_at(std::size_t group, std::int64_t epoch) const override;

 private:
  std::int64_t T_max_;
  double eta_min_;
};

/// Linear warm-up over the first warmup_steps epochs,
///   lr = base · (start_factor + (1 − start_factor)·epoch / warmup_steps)   for epoch < warmup_steps,
/// then `after`'s schedule started afresh, after->lr_at(epoch − warmup_steps) (as PyTorch's
/// SequentialLR(LinearLR, after)), or base when there is no `after`. `after` must be built over
/// the same optimizer; its base lrs are used, and only its closed form lr_at (its own step()
/// and last_epoch() are not advanced).
class LinearWarmup : public LRScheduler {
 public:
  LinearWarmup(OptimizerBase& optimizer, double start_factor, std::int64_t warmup_steps,
               std::unique_ptr<LRScheduler> after = nullptr);
  double lr_at(std::size_t group, std::int64_t epoch) const override;

 private:
  double start_factor_;
  std::int64_t warmup_steps_;
  std::unique_ptr<LRScheduler> after_;
};

}  // namespace tg::optim
