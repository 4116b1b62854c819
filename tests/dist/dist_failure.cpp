// A data-parallel training loop in which one rank fails, for the ctest check that the failure
// ends every rank with its message (no hang) and leaves rank 0's last checkpoint intact
// (expect_failure.cmake runs it under mpirun, then runs it again with --verify).
//   dist_failure --checkpoint PATH --fail-rank R --fail-step S [--uncaught]
//   dist_failure --verify PATH --min-step A --max-step B
// Rank 0 saves a checkpoint after every step; rank R throws at step S, when rank 0 has saved
// step S - 2 for sure and may be writing step S - 1 (it is killed in the middle or not): the
// checkpoint must load and hold one of those two steps. With --uncaught the
// exception leaves main unhandled (the std::terminate handler of tg::dist::Environment takes
// over), otherwise tg::dist::run_or_abort catches it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include <tapegrad/nn/dist/dist.hpp>
#include <tapegrad/tapegrad.hpp>

namespace {

/// A network big enough that a checkpoint takes a while to write (~4 MB), with its step count
/// as a buffer, so the checkpoint says which step it holds.
struct Net : tg::nn::Module<float> {
  Net() {
    fc1 = register_module("fc1", std::make_shared<tg::nn::Linear<float>>(784, 1024));
    fc2 = register_module("fc2", std::make_shared<tg::nn::Linear<float>>(1024, 10));
    step = register_buffer("step", tg::zeros<float>({1}));
  }
  tg::Var forward(const tg::Var& x) override { return (*fc2)(tg::relu((*fc1)(x))); }
  std::shared_ptr<tg::nn::Linear<float>> fc1, fc2;
  tg::Var step;
};

int train(const std::string& checkpoint, int fail_rank, int fail_step) {
  tg::manual_seed(1);
  Net net;
  tg::dist::GradientAverager<float> averager(net);
  tg::optim::SGD<float> optimizer(net.parameters(), {.lr = 0.01});
  for (int step = 1; step <= 1000; ++step) {
    if (tg::dist::rank() == fail_rank && step == fail_step)
      throw std::runtime_error("injected failure at step " + std::to_string(step));
    tg::Var x = tg::randn<float>({16, 784});
    tg::IndexArray y = xt::zeros<tg::Index>({16});
    optimizer.zero_grad();
    tg::nn::cross_entropy(net(x), y).backward();
    averager.finish();  // rank 0 waits here for the failed rank, until it is ended
    optimizer.step();
    net.step.mutable_value()(0) = float(step);
    if (tg::dist::is_root()) tg::nn::save(net, checkpoint);
  }
  return 0;
}

int verify(const std::string& checkpoint, int min_step, int max_step) {
  Net net;
  try {
    tg::nn::load(net, checkpoint);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "the checkpoint does not load: %s\n", e.what());
    return 1;
  }
  const float step = net.step.value()(0);
  std::printf("checkpoint '%s' loads; it holds step %g\n", checkpoint.c_str(), double(step));
  if (step < float(min_step) || step > float(max_step)) {
    std::fprintf(stderr, "expected a step from %d to %d, found %g\n", min_step, max_step, double(step));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string checkpoint, verify_path;
  int fail_rank = 1, fail_step = 3, min_step = 0, max_step = 0;
  bool uncaught = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (flag == "--checkpoint") checkpoint = value();
    else if (flag == "--verify") verify_path = value();
    else if (flag == "--fail-rank") fail_rank = std::atoi(value().c_str());
    else if (flag == "--fail-step") fail_step = std::atoi(value().c_str());
    else if (flag == "--min-step") min_step = std::atoi(value().c_str());
    else if (flag == "--max-step") max_step = std::atoi(value().c_str());
    else if (flag == "--uncaught") uncaught = true;
    else {
      std::fprintf(stderr, "dist_failure: unknown flag '%s'\n", flag.c_str());
      return 2;
    }
  }
  if (!verify_path.empty()) return verify(verify_path, min_step, max_step);

  tg::dist::Environment environment(argc, argv);
  if (uncaught) return train(checkpoint, fail_rank, fail_step);  // std::terminate -> abort_all
  return tg::dist::run_or_abort([&] { return train(checkpoint, fail_rank, fail_step); });
}
