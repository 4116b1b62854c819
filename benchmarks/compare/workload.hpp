#pragma once
// The side-by-side comparison's workloads (shared/BENCHMARKS.md, W1-W6). Each workload is written
// twice, once per library, in tapegrad_<id>_<name>.cpp and libtorch_<id>_<name>.cpp; both files
// register it under the same id with TG_COMPARE_WORKLOAD, and driver.cpp (compiled once per
// side) times it. This header includes nothing of either library, so both programs share it.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace bench {

/// What one iteration measured: the forward pass, and the backward() call alone.
struct Timing {
  double forward_ms = 0;
  double backward_ms = 0;
};

/// Milliseconds since construction or since the previous lap.
class Stopwatch {
 public:
  double lap_ms() {
    const auto now = std::chrono::steady_clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
    return ms;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

/// One iteration of a workload (zeroing gradients is the step's business, outside the timing).
using Step = std::function<Timing()>;
/// Builds the model and inputs once and returns the step.
using Setup = std::function<Step()>;

struct Workload {
  std::string id;
  std::string description;
  Setup setup;
};

/// Every workload linked into this program, in registration order.
std::vector<Workload>& workloads();

struct Registration {
  Registration(std::string id, std::string description, Setup setup);
};

}  // namespace bench

#define TG_COMPARE_CONCAT_INNER(a, b) a##b
#define TG_COMPARE_CONCAT(a, b) TG_COMPARE_CONCAT_INNER(a, b)
/// TG_COMPARE_WORKLOAD("W4", "CNN on [64,1,28,28] ...", [] { ...; return [=]() mutable { ... }; });
#define TG_COMPARE_WORKLOAD(id, description, ...) \
  static const ::bench::Registration TG_COMPARE_CONCAT(tg_compare_workload_, __LINE__)(id, description, __VA_ARGS__)
