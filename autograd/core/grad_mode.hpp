#pragma once
// Thread-local switches: recording (grad mode) and anomaly detection.

namespace tg {

/// True when ops record themselves on the tape (the default).
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

/// RAII: ops run inside it record nothing (optimizer steps, evaluation, inference).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// RAII: turns recording on inside a NoGradGuard (e.g. a user op that needs a graph).
class EnableGradGuard {
 public:
  EnableGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(true); }
  ~EnableGradGuard() { set_grad_enabled(previous_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

bool is_anomaly_enabled();
void set_anomaly_enabled(bool enabled);

/// RAII: while alive, the first NaN or Inf produced by an op's forward value or by its
/// backward throws a tg::Error that names the op. Costs one scan of every value.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : previous_(is_anomaly_enabled()) { set_anomaly_enabled(true); }
  ~DetectAnomalyGuard() { set_anomaly_enabled(previous_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace tg
