#pragma once
// The side-by-side comparison's workloads (benchmarks/README.md, W1-W6). Each workload is written
// twice, once per library, in tapegrad_<id>_<name>.cpp and libtorch_<id>_<name>.cpp; both files
// register it under the same id with TG_COMPARE_WORKLOAD, and driver.cpp (compiled once per
// side) times it. This header includes nothing of either library, so both programs share it:
// its helpers are templates over the side's types (tg::Var or torch::Tensor, a module handle).
#include <chrono>
#include <functional>
#include <string>
#include <utility>
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

/// Times one iteration: `loss = forward()` is the forward pass, `loss.backward()` alone the
/// backward pass; then `after()` (zeroing gradients) runs outside the timing, before the loss
/// and its graph go away.
template <class Forward, class After>
Timing timed_step(Forward&& forward, After&& after) {
  Stopwatch watch;
  auto loss = forward();
  const double forward_ms = watch.lap_ms();
  loss.backward();
  const double backward_ms = watch.lap_ms();
  after();
  return Timing{forward_ms, backward_ms};
}

/// One iteration of a workload (zeroing gradients is the step's business, outside the timing).
using Step = std::function<Timing()>;

/// The step of a module on one fixed input (W3-W6): `loss_of(module, x)` timed as the forward
/// pass, its backward() timed alone, then `module->zero_grad()`. The module is a handle (a
/// shared_ptr on tapegrad's side, a ModuleHolder on libtorch's), so the step shares it.
template <class Module, class Input, class Loss>
Step module_step(Module module, Input x, Loss loss_of) {
  return [module, x, loss_of]() mutable {
    return timed_step([&] { return loss_of(module, x); }, [&] { module->zero_grad(); });
  };
}

/// module_step with W5's and W6's loss, the mean of the output squared, out = output(module, x).
/// `mean` is found by argument-dependent lookup: tg::mean for a tg::Var, at::mean for a tensor.
template <class Module, class Input, class Output>
Step mean_square_step(Module module, Input x, Output output) {
  return module_step(std::move(module), std::move(x), [output](Module& m, const Input& in) {
    auto out = output(m, in);
    return mean(out * out);
  });
}

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
