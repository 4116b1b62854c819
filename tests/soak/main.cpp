// Soak test: a long training loop whose resident memory must stay flat after warm-up. Each step
// is a whole training step (forward, loss, zero_grad, backward, optimizer step, the schedule),
// and every --checkpoint-every steps the whole training state is saved and loaded back, so the
// graph's freeing, the optimizer's state, the .npz writer and reader all run thousands of times.
// RSS (/proc/self/statm) is sampled every --sample-every steps; the run fails if the median of
// the last quarter of the samples exceeds the median of the first quarter after warm-up by more
// than --max-growth-mb, or if the loss becomes NaN. Under the sanitizer build, LeakSanitizer
// checks at exit that nothing was leaked.
//
//   build/tests/soak --model mlp --steps 100000          (scripts/soak; the ctest entries are shorter)
//   build/tests/soak --model lstm --steps 100000
//
// A model is one function from the options and the data to a step; add one to `models` below.
// mlp: the Fashion-MNIST MLP; lstm: an LSTM reading each image as 14 steps of two rows.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "../../examples/common/flags.hpp"

namespace {

struct Options {
  std::string model = "mlp";
  long steps = 100000;
  long warmup = 0;          // 0: a tenth of the steps, at least 200
  long sample_every = 0;    // 0: steps / 200, at least 10
  long checkpoint_every = 0;  // 0: steps / 20
  double max_growth_mb = 8;
  int batch_size = 64;
  int limit = 10000;
  std::string data = tg::data::fashion_mnist_default_root;
  std::string out = "soak_out";
};

/// One training step of some model on Fashion-MNIST; returns the loss.
struct Soak {
  std::function<double(tg::data::Batch<float>&)> step;
  /// Saves the whole training state and loads it back (the checkpoint path in the loop).
  std::function<void(const std::string& path, std::int64_t step)> checkpoint;
};

using ModelFactory = std::function<Soak(const Options&)>;

/// The Fashion-MNIST example's MLP (784-256-128-10, ReLU, dropout 0.2) with Adam and a
/// cosine schedule restarted every 1000 steps.
Soak mlp(const Options&) {
  auto model = std::make_shared<tg::nn::MLP<float>>(std::vector<std::size_t>{784, 256, 128, 10},
                                                    tg::nn::MLPOptions{.dropout = 0.2});
  auto optimizer = std::make_shared<tg::optim::Adam<float>>(model->parameters(), tg::optim::AdamOptions{.lr = 1e-3});
  auto schedule = std::make_shared<tg::optim::CosineAnnealingLR>(*optimizer, 1000);
  Soak soak;
  soak.step = [=](tg::data::Batch<float>& batch) {
    tg::Var loss = tg::nn::cross_entropy((*model)(batch.inputs), batch.targets);
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
    schedule->set_last_epoch((schedule->last_epoch() + 1) % 1000);
    return static_cast<double>(loss.item());
  };
  soak.checkpoint = [=](const std::string& path, std::int64_t step) {
    tg::nn::save_training_state(path, *model, *optimizer, schedule.get(), {.epoch = 0, .step = step});
    tg::nn::load_training_state(path, *model, *optimizer, schedule.get());
  };
  return soak;
}

/// Each image read as a sequence of 14 steps of two rows (56 pixels) by nn::LSTM (hidden 32,
/// batch_first); its final hidden state through Linear(32, 10). (Small so that 10^5 steps take
/// minutes: 28 steps of hidden 64 cost 4 times as much per step.) Adam with gradient-norm clipping and the same
/// restarted cosine schedule: the recurrent layer's time loop, its split and fused cell ops
/// and the clipping run every step.
Soak lstm(const Options&) {
  constexpr std::int64_t rows = 14, pixels = 56, hidden = 32;
  auto net = std::make_shared<tg::nn::Sequential<float>>();  // holds the parameters' names: rnn.*, head.*
  auto rnn = net->push_back("rnn", std::make_shared<tg::nn::LSTM<float>>(pixels, hidden, tg::nn::LSTMOptions{.batch_first = true}));
  auto head = net->push_back("head", std::make_shared<tg::nn::Linear<float>>(hidden, 10));
  auto optimizer = std::make_shared<tg::optim::Adam<float>>(net->parameters(), tg::optim::AdamOptions{.lr = 2e-3});
  auto schedule = std::make_shared<tg::optim::CosineAnnealingLR>(*optimizer, 1000);
  Soak soak;
  soak.step = [=](tg::data::Batch<float>& batch) {
    const auto n = static_cast<std::int64_t>(batch.inputs.shape()[0]);
    tg::Var h_n = rnn->forward(tg::reshape(batch.inputs, {n, rows, pixels}), {}).state.h;  // [1, n, hidden]
    tg::Var logits = head->forward(tg::reshape(h_n, {n, hidden}));
    tg::Var loss = tg::nn::cross_entropy(logits, batch.targets);
    optimizer->zero_grad();
    loss.backward();
    tg::optim::clip_grad_norm(net->parameters(), 1.0);
    optimizer->step();
    schedule->set_last_epoch((schedule->last_epoch() + 1) % 1000);
    return static_cast<double>(loss.item());
  };
  soak.checkpoint = [=](const std::string& path, std::int64_t step) {
    tg::nn::save_training_state(path, *net, *optimizer, schedule.get(), {.epoch = 0, .step = step});
    tg::nn::load_training_state(path, *net, *optimizer, schedule.get());
  };
  return soak;
}

const std::map<std::string, ModelFactory> models = {
    {"mlp", mlp},
    {"lstm", lstm},
};

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer holds freed memory in a quarantine (256 MB) before reusing it, so RSS grows by
// design there; that build checks for leaks (LeakSanitizer at exit) instead of RSS.
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif

double rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  // as the examples do: freed multi-megabyte buffers stay in the heap and are reused
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  Options o;
  std::string model_names;
  for (const auto& [name, factory] : models) model_names += (model_names.empty() ? "" : ", ") + name;
  examples::Flags flags("soak", "Trains a model for many steps and fails if its resident memory grows after warm-up.");
  flags.add("model", o.model, "which model to train: " + model_names)
      .add("steps", o.steps, "training steps")
      .add("warmup", o.warmup, "steps before the memory baseline (0: a tenth of the steps, at least 200)")
      .add("sample-every", o.sample_every, "steps between RSS samples (0: steps / 200, at least 10)")
      .add("checkpoint-every", o.checkpoint_every, "steps between saving and reloading the training state (0: steps / 20)")
      .add("max-growth-mb", o.max_growth_mb, "allowed RSS growth from the first to the last quarter of the samples")
      .add("batch-size", o.batch_size, "examples per step")
      .add("limit", o.limit, "training images used (they are cycled)")
      .add("data", o.data, "folder with the Fashion-MNIST IDX files")
      .add("out", o.out, "folder for the checkpoint and rss.csv");
  flags.parse_or_exit(argc, argv);
  try {
    auto factory = models.find(o.model);
    if (factory == models.end()) throw std::invalid_argument("--model: '" + o.model + "' is not one of " + model_names);
    if (o.steps < 1 || o.batch_size < 1) throw std::invalid_argument("--steps and --batch-size must be positive");
    if (o.warmup == 0) o.warmup = std::max(200L, o.steps / 10);
    if (o.sample_every == 0) o.sample_every = std::max(10L, o.steps / 200);
    if (o.checkpoint_every == 0) o.checkpoint_every = std::max(1L, o.steps / 20);
    std::filesystem::create_directories(o.out);
    const std::string checkpoint = o.out + "/training_state.npz";

    tg::manual_seed(1);
    tg::data::FashionMNIST<float> data(o.data, true, static_cast<std::size_t>(o.limit));
    tg::data::DataLoader loader(data, {.batch_size = static_cast<std::size_t>(o.batch_size), .shuffle = true, .seed = 1});
    Soak soak = factory->second(o);

    std::ofstream csv(o.out + "/rss.csv");
    csv << "step,rss_mb,loss\n";
    std::vector<double> samples;
    const auto start = std::chrono::steady_clock::now();
    double loss = 0;
    long step = 0;
    std::printf("soak: %s, %ld steps of %d, RSS sampled every %ld steps after %ld, checkpoint every %ld\n",
                o.model.c_str(), o.steps, o.batch_size, o.sample_every, o.warmup, o.checkpoint_every);
    while (step < o.steps) {
      for (auto& batch : loader) {
        loss = soak.step(batch);
        ++step;
        if (!std::isfinite(loss)) throw std::runtime_error("the loss became " + std::to_string(loss) + " at step " +
                                                           std::to_string(step));
        if (step % o.checkpoint_every == 0) soak.checkpoint(checkpoint, step);
        if (step % o.sample_every == 0) {
          const double rss = rss_mb();
          csv << step << "," << rss << "," << loss << std::endl;  // flushed: a long run can be watched
          if (step > o.warmup) samples.push_back(rss);
          if (step % (o.sample_every * 20) == 0) {
            std::printf("step %7ld  loss %.4f  rss %.1f MB\n", step, loss, rss);
            std::fflush(stdout);
          }
        }
        if (step == o.steps) break;
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (samples.size() < 8) throw std::invalid_argument("too few RSS samples after warm-up: lower --sample-every");
    const std::size_t quarter = samples.size() / 4;
    const double first = median({samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(quarter)});
    const double last = median({samples.end() - static_cast<std::ptrdiff_t>(quarter), samples.end()});
    const double peak = *std::max_element(samples.begin(), samples.end());
    std::printf("%ld steps in %.1f s (%.2f ms per step); final loss %.4f\n", step, seconds, 1e3 * seconds / double(step),
                loss);
    std::printf("RSS after warm-up: first quarter %.1f MB, last quarter %.1f MB (growth %+.2f MB, allowed %.1f), "
                "peak %.1f MB; %zu samples in %s/rss.csv\n",
                first, last, last - first, o.max_growth_mb, peak, samples.size(), o.out.c_str());
    if (!kRssMeaningful) {
      std::printf("AddressSanitizer build: RSS growth not judged (its quarantine holds freed memory); "
                  "LeakSanitizer checks for leaks at exit\n");
      return 0;
    }
    if (last - first > o.max_growth_mb) {
      std::fprintf(stderr, "soak: resident memory grew by %.2f MB after warm-up (allowed %.1f)\n", last - first,
                   o.max_growth_mb);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return 1;
  }
}
