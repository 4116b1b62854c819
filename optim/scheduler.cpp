// Learning-rate schedulers: closed forms of the epoch, applied to every parameter group.
#include "scheduler.hpp"

#include <cmath>
#include <numbers>

namespace tg::optim {

LRScheduler::LRScheduler(const char* name, OptimizerBase& optimizer) : name_(name), optimizer_(&optimizer) {
  for (std::size_t g = 0; g < optimizer.num_groups(); ++g) base_lrs_.push_back(optimizer.lr(g));
}

void LRScheduler::apply() {
  TG_CHECK(optimizer_->num_groups() == base_lrs_.size(), name_,
           "the optimizer has " + std::to_string(optimizer_->num_groups()) + " parameter groups but the scheduler " +
               "was built over " + std::to_string(base_lrs_.size()) + " (build schedulers after add_param_group)");
  std::vector<double> lrs(base_lrs_.size());
  for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] = lr_at(g, last_epoch_);
  for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_->set_lr(g, lrs[g]);
  last_lr_ = std::move(lrs);
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

void LRScheduler::set_last_epoch(std::int64_t epoch) {
  TG_CHECK(epoch >= 0, name_, "set_last_epoch: epoch " + std::to_string(epoch) + " is negative");
  last_epoch_ = epoch;
  apply();
}

StateDict<double> LRScheduler::state_dict() const {
  xt::xarray<double> lrs = xt::xarray<double>::from_shape({base_lrs_.size()});
  std::copy(base_lrs_.begin(), base_lrs_.end(), lrs.begin());
  return {{"last_epoch", xt::xarray<double>(static_cast<double>(last_epoch_))}, {"base_lrs", std::move(lrs)}};
}

void LRScheduler::load_state_dict(const StateDict<double>& state) {
  const std::string op = std::string(name_) + ".load_state_dict";
  for (const auto& [key, value] : state)
    TG_CHECK(key == "last_epoch" || key == "base_lrs", op, "unexpected '" + key + "' (expected last_epoch, base_lrs)");
  auto find = [&](const char* key) -> const xt::xarray<double>& {
    auto it = state.find(key);
    TG_CHECK(it != state.end(), op, std::string("missing '") + key + "'");
    return it->second;
  };
  const auto& epoch = find("last_epoch");
  TG_CHECK(epoch.size() == 1, op, "'last_epoch' should hold one value but has shape " + shape_str(epoch.shape()));
  const double e = epoch.data()[0];
  TG_CHECK(e >= 0 && e == std::floor(e) && e < 9.0e18, op, "'last_epoch' is " + number_str(e) + ", not a whole epoch >= 0");
  const auto& lrs = find("base_lrs");
  TG_CHECK(lrs.dimension() == 1 && lrs.size() == base_lrs_.size(), op,
           "'base_lrs' has shape " + shape_str(lrs.shape()) + " but the optimizer has " +
               std::to_string(base_lrs_.size()) + " parameter groups");
  for (double lr : lrs) TG_CHECK(std::isfinite(lr) && lr >= 0, op, "'base_lrs' holds " + number_str(lr));
  base_lrs_.assign(lrs.begin(), lrs.end());
  set_last_epoch(static_cast<std::int64_t>(e));
}

StepLR::StepLR(OptimizerBase& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler("StepLR", optimizer), step_size_(step_size), gamma_(gamma) {
  TG_CHECK(step_size >= 1, "StepLR", "invalid step_size " + std::to_string(step_size) + " (must be >= 1)");
  detail::check_non_negative("StepLR", "gamma", gamma);
  apply();
}
double StepLR::lr_at(std::size_t group, std::int64_t epoch) const {
  return base_lrs_[group] * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

ExponentialLR::ExponentialLR(OptimizerBase& optimizer, double gamma)
    : LRScheduler("ExponentialLR", optimizer), gamma_(gamma) {
  detail::check_non_negative("ExponentialLR", "gamma", gamma);
  apply();
}
double ExponentialLR::lr_at(std::size_t group, std::int64_t epoch) const {
  return base_lrs_[group] * std::pow(gamma_, static_cast<double>(epoch));
}

CosineAnnealingLR::CosineAnnealingLR(OptimizerBase& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler("CosineAnnealingLR", optimizer), T_max_(T_max), eta_min_(eta_min) {
  TG_CHECK(T_max >= 1, "CosineAnnealingLR", "invalid T_max " + std::to_string(T_max) + " (must be >= 1)");
  detail::check_non_negative("CosineAnnealingLR", "eta_min", eta_min);
  apply();
}
double CosineAnnealingLR::lr_at(std::size_t group, std::int64_t epoch) const {
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(T_max_);
  return eta_min_ + (base_lrs_[group] - eta_min_) * (1 + std::cos(phase)) / 2;
}

LinearWarmup::LinearWarmup(OptimizerBase& optimizer, double start_factor, std::int64_t warmup_steps,
                           std::unique_ptr<LRScheduler> after)
    : LRScheduler("LinearWarmup", optimizer), start_factor_(start_factor), warmup_steps_(warmup_steps),
      after_(std::move(after)) {
  detail::check_option(start_factor >= 0 && start_factor <= 1, "LinearWarmup", "start_factor", start_factor,
                       "must be in [0, 1]");
  TG_CHECK(warmup_steps >= 1, "LinearWarmup",
           "invalid warmup_steps " + std::to_string(warmup_steps) + " (must be >= 1)");
  if (after_) {
    TG_CHECK(&after_->optimizer() == &optimizer, "LinearWarmup",
             "the scheduler to run after the warm-up drives another optimizer");
    base_lrs_ = after_->base_lrs();
  }
  apply();
}
double LinearWarmup::lr_at(std::size_t group, std::int64_t epoch) const {
  if (epoch < warmup_steps_)
    return base_lrs_[group] *
           (start_factor_ + (1 - start_factor_) * static_cast<double>(epoch) / static_cast<double>(warmup_steps_));
  return after_ ? after_->lr_at(group, epoch - warmup_steps_) : base_lrs_[group];
}

}  // namespace tg::optim
