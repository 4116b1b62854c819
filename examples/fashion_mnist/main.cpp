// Fashion-MNIST with an MLP, following the PyTorch recipe: dataset and loader, model,
// optimizer and criterion, fit loop, apply. Prints a progress bar per epoch, a summary line
// per epoch, the test confusion matrix; writes the model (.npz), the curves (.csv, .png).
#include <malloc.h>

#include <cstdio>
#include <iostream>

#include <tapegrad/tapegrad.hpp>

#include "../common/classifier.hpp"

int main(int argc, char** argv) {
  // Keep freed multi-megabyte buffers in the process: page faults are expensive here and a
  // training step frees and reallocates the same sizes every time.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  examples::ClassifierSettings s{.epochs = 10, .batch_size = 64, .lr = 1e-3, .out_dir = "fashion_mnist_out"};
  std::string hidden = "256,128";
  double dropout = 0.2;
  bool cosine = true;
  bool distributed = false;
  int checkpoint_every = 0;
  bool resume = false;
  int stop_after = 0;
  examples::Flags flags("fashion_mnist",
                        "Trains an MLP (784-hidden...-10, ReLU, dropout) with Adam on Fashion-MNIST's 60,000 training\n"
                        "images and reports accuracy on its 10,000 test images. Writes the model, a CSV and a PNG of\n"
                        "the curves into --out.");
  examples::add_training_flags(flags, s)
      .add("hidden", hidden, "hidden layer sizes, comma-separated")
      .add("dropout", dropout, "dropout probability after each hidden layer");
  examples::add_data_flags(flags, s)
      .add("cosine", cosine, "anneal the learning rate to 0 along a cosine over the epochs")
      .add("out", s.out_dir, "folder for the model (.npz), the metrics (.csv) and the plot (.png)")
      .add("distributed", distributed, examples::DataParallel::flag_help("fashion_mnist"))
      .add("checkpoint-every", checkpoint_every,
           "save the whole training state to <out>/checkpoint.npz every N steps and after each epoch (0: never)")
      .add("resume", resume, "continue from <out>/checkpoint.npz where it stopped (bit-identical to an unbroken run)")
      .add("stop-after", stop_after, "stop after N steps of this process without saving, as a crash would (0: run on)");
  flags.parse_or_exit(argc, argv);
  examples::DataParallel parallel("fashion_mnist", distributed, argc, argv);

  try {
    if (s.epochs < 1 || s.batch_size < 1) throw std::invalid_argument("--epochs and --batch-size must be positive");
    if (checkpoint_every < 0 || stop_after < 0)
      throw std::invalid_argument("--checkpoint-every and --stop-after must be >= 0");
    tg::manual_seed(static_cast<std::uint64_t>(s.seed));

    // 1. data
    tg::data::FashionMNIST<float> train_set(s.data_dir, /*train=*/true, static_cast<std::size_t>(s.limit));
    tg::data::FashionMNIST<float> test_set(s.data_dir, /*train=*/false, static_cast<std::size_t>(s.limit));
    tg::data::DataLoader train_loader =
        parallel.loader(train_set, static_cast<std::size_t>(s.batch_size), static_cast<std::uint64_t>(s.seed));

    // 2. model, 3. optimizer and criterion
    std::vector<std::size_t> sizes{784};
    const auto hidden_sizes = examples::parse_sizes("--hidden", hidden, "256,128");
    if (hidden_sizes.empty()) throw std::invalid_argument("--hidden: empty list");
    sizes.insert(sizes.end(), hidden_sizes.begin(), hidden_sizes.end());
    sizes.push_back(10);
    tg::nn::MLP<float> model(sizes, {.activation = tg::nn::Activation::relu, .dropout = dropout});
    tg::optim::Adam<float> optimizer(model.parameters(), {.lr = s.lr});
    tg::optim::CosineAnnealingLR schedule(optimizer, s.epochs);
    parallel.average_gradients_of(model);
    if (distributed) tg::manual_seed(static_cast<std::uint64_t>(s.seed + parallel.rank()));  // each rank its own dropout masks
    std::cout << "Fashion-MNIST: " << train_set.size() << " training and " << test_set.size() << " test images, "
              << train_loader.num_batches() << " batches of " << s.batch_size << " per epoch\n"
              << model << "\nAdam lr " << s.lr << (cosine ? " (cosine annealing)" : "") << ", cross-entropy, seed "
              << s.seed << "\n\n"
              << parallel.shards_summary(train_loader.num_batches(), static_cast<std::size_t>(s.batch_size));

    examples::ClassifierRun run{.epochs = s.epochs,
                                .out_dir = s.out_dir,
                                .model_file = "fashion_mnist_mlp.npz",
                                .title = "tapegrad MLP on Fashion-MNIST",
                                .schedule = cosine ? &schedule : nullptr,
                                .parallel = &parallel,
                                .eval_batch_size = 1000};
    // The training state: model, Adam's buffers, the schedule, the generator (dropout), and where
    // the run is: the epoch and the batches done in it (the loader's order depends only on the
    // seed and the epoch, so the remaining batches of that epoch are the same ones again).
    const std::string checkpoint_path = s.out_dir + "/checkpoint.npz";
    if (resume) {
      run.start_at = tg::nn::load_training_state(checkpoint_path, model, optimizer, run.schedule);
      std::cout << "resumed from " << checkpoint_path << ": epoch " << run.start_at.epoch + 1 << ", "
                << run.start_at.step << " steps done in it\n\n";
    }
    auto save_checkpoint = [&](tg::nn::TrainingProgress at) {
      if (parallel.is_root())  // one writer; every rank holds the same state
        tg::nn::save_training_state(checkpoint_path, model, optimizer, run.schedule, at);
    };
    int steps_taken = 0;
    run.after_step = [&](tg::nn::TrainingProgress done) {
      ++steps_taken;
      if (checkpoint_every > 0 && steps_taken % checkpoint_every == 0) save_checkpoint(done);
      if (stop_after > 0 && steps_taken == stop_after) {  // no save here: a crash would not save either
        std::cout << "\nstopped after " << steps_taken << " steps (--stop-after); resume with --resume\n";
        return false;
      }
      return true;
    };
    run.after_epoch = [&](int epoch) {
      if (checkpoint_every > 0) save_checkpoint({epoch, 0});
    };

    // 4. fit
    const examples::FitResult fitted = examples::fit(model, optimizer, train_loader, test_set, run);
    if (fitted.stopped) return 0;

    // 5. apply: the test set, class by class
    examples::report(model, test_set, run, fitted);
    return examples::check_loss_fell(fitted) ? 0 : 1;
  } catch (const std::exception& e) {
    parallel.fail(e.what());  // --distributed: ends every rank with the message
    return 1;
  }
}
