// Fashion-MNIST with an MLP, following the PyTorch recipe: dataset and loader, model,
// optimizer and criterion, fit loop, apply. Prints a progress bar per epoch, a summary line
// per epoch, the test confusion matrix; writes the model (.npz), the curves (.csv, .png).
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <tapegrad/tapegrad.hpp>

#include "../common/confusion.hpp"
#include "../common/flags.hpp"
#include "../common/metrics_csv.hpp"
#include "../common/plot.hpp"
#include "../common/data_parallel.hpp"
#include "../common/progress.hpp"

namespace {

std::vector<std::size_t> parse_sizes(const std::string& text) {
  std::vector<std::size_t> sizes;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    std::size_t used = 0;
    const long v = std::stol(item, &used);
    if (used != item.size() || v <= 0) throw std::invalid_argument("--hidden: '" + text + "' is not a list like 256,128");
    sizes.push_back(static_cast<std::size_t>(v));
  }
  if (sizes.empty()) throw std::invalid_argument("--hidden: empty list");
  return sizes;
}

struct Evaluation {
  double loss = 0, accuracy = 0;
};

/// Loss and accuracy over a whole dataset, in evaluation mode and without recording.
Evaluation evaluate(tg::nn::Module<float>& model, tg::data::Dataset<float>& data, examples::ConfusionMatrix* confusion) {
  tg::NoGradGuard no_grad;
  model.eval();
  tg::data::DataLoader loader(data, {.batch_size = 1000, .shuffle = false});
  double loss_sum = 0;
  std::size_t correct = 0;
  for (auto& [x, y] : loader) {
    tg::Var logits = model(x);
    loss_sum += tg::nn::cross_entropy(logits, y, {.reduction = tg::nn::Reduction::sum}).item();
    tg::IndexArray predicted = tg::argmax(logits, -1);
    for (std::size_t i = 0; i < y.size(); ++i) correct += predicted(i) == y(i);
    if (confusion) confusion->add(y, predicted);
  }
  model.train();
  const double n = static_cast<double>(data.size());
  return {loss_sum / n, static_cast<double>(correct) / n};
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed multi-megabyte buffers in the process: page faults are expensive here and a
  // training step frees and reallocates the same sizes every time.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  int epochs = 10;
  int batch_size = 64;
  double lr = 1e-3;
  std::string hidden = "256,128";
  double dropout = 0.2;
  int seed = 1;
  std::string data_dir = tg::data::fashion_mnist_default_root;
  int limit = 0;
  std::string out_dir = "fashion_mnist_out";
  bool cosine = true;
  bool distributed = false;
  int checkpoint_every = 0;
  bool resume = false;
  int stop_after = 0;
  examples::Flags flags("fashion_mnist",
                        "Trains an MLP (784-hidden...-10, ReLU, dropout) with Adam on Fashion-MNIST's 60,000 training\n"
                        "images and reports accuracy on its 10,000 test images. Writes the model, a CSV and a PNG of\n"
                        "the curves into --out.");
  flags.add("epochs", epochs, "passes over the training set")
      .add("batch-size", batch_size, "examples per gradient step")
      .add("lr", lr, "Adam's learning rate")
      .add("hidden", hidden, "hidden layer sizes, comma-separated")
      .add("dropout", dropout, "dropout probability after each hidden layer")
      .add("seed", seed, "seed for initialisation, dropout and shuffling")
      .add("data", data_dir, "folder with the IDX files (Debian: dataset-fashion-mnist)")
      .add("limit", limit, "use only the first N training and test images (0: all), for a quick run")
      .add("cosine", cosine, "anneal the learning rate to 0 along a cosine over the epochs")
      .add("out", out_dir, "folder for the model (.npz), the metrics (.csv) and the plot (.png)")
      .add("distributed", distributed,
           "data-parallel over MPI (mpirun -np N fashion_mnist --distributed): each rank trains on its shard "
           "with --batch-size, rank 0 prints and writes")
      .add("checkpoint-every", checkpoint_every,
           "save the whole training state to <out>/checkpoint.npz every N steps and after each epoch (0: never)")
      .add("resume", resume, "continue from <out>/checkpoint.npz where it stopped (bit-identical to an unbroken run)")
      .add("stop-after", stop_after, "stop after N steps of this process without saving, as a crash would (0: run on)");
  flags.parse_or_exit(argc, argv);
  examples::DataParallel parallel("fashion_mnist", distributed, argc, argv);

  try {
    if (epochs < 1 || batch_size < 1) throw std::invalid_argument("--epochs and --batch-size must be positive");
    if (checkpoint_every < 0 || stop_after < 0)
      throw std::invalid_argument("--checkpoint-every and --stop-after must be >= 0");
    tg::manual_seed(static_cast<std::uint64_t>(seed));

    // 1. data
    tg::data::FashionMNIST<float> train_set(data_dir, /*train=*/true, static_cast<std::size_t>(limit));
    tg::data::FashionMNIST<float> test_set(data_dir, /*train=*/false, static_cast<std::size_t>(limit));
    tg::data::DataLoader train_loader =
        parallel.loader(train_set, static_cast<std::size_t>(batch_size), static_cast<std::uint64_t>(seed));

    // 2. model, 3. optimizer and criterion
    std::vector<std::size_t> sizes{784};
    for (auto h : parse_sizes(hidden)) sizes.push_back(h);
    sizes.push_back(10);
    tg::nn::MLP<float> model(sizes, {.activation = tg::nn::Activation::relu, .dropout = dropout});
    tg::optim::Adam<float> optimizer(model.parameters(), {.lr = lr});
    tg::optim::CosineAnnealingLR schedule(optimizer, epochs);
    parallel.average_gradients_of(model);
    if (distributed) tg::manual_seed(static_cast<std::uint64_t>(seed + parallel.rank()));  // each rank its own dropout masks
    std::cout << "Fashion-MNIST: " << train_set.size() << " training and " << test_set.size() << " test images, "
              << train_loader.num_batches() << " batches of " << batch_size << " per epoch\n"
              << model << "\nAdam lr " << lr << (cosine ? " (cosine annealing)" : "") << ", cross-entropy, seed " << seed
              << "\n\n";
    if (distributed)
      std::cout << "data-parallel over " << parallel.world_size() << " ranks: each a shard of " << train_loader.num_batches()
                << " batches of " << batch_size << " per epoch, " << parallel.world_size() * batch_size
                << " images per step in all\n\n";

    std::filesystem::create_directories(out_dir);
    // The training state: model, Adam's buffers, the schedule, the generator (dropout), and where
    // the run is: the epoch and the batches done in it (the loader's order depends only on the
    // seed and the epoch, so the remaining batches of that epoch are the same ones again).
    const std::string checkpoint_path = out_dir + "/checkpoint.npz";
    tg::nn::TrainingProgress start_at;
    if (resume) {
      start_at = tg::nn::load_training_state(checkpoint_path, model, optimizer, cosine ? &schedule : nullptr);
      std::cout << "resumed from " << checkpoint_path << ": epoch " << start_at.epoch + 1 << ", "
                << start_at.step << " steps done in it\n\n";
    }
    auto save_checkpoint = [&](tg::nn::TrainingProgress at) {
      if (parallel.is_root())  // one writer; every rank holds the same state
        tg::nn::save_training_state(checkpoint_path, model, optimizer, cosine ? &schedule : nullptr, at);
    };
    int steps_taken = 0;

    std::optional<examples::CsvWriter> csv;  // rank 0 alone writes files
    if (parallel.is_root())
      csv.emplace(out_dir + "/metrics.csv",
                  std::vector<std::string>{"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"});

    // 4. fit
    double first_loss = -1, last_epoch_loss = 0, total_seconds = 0;
    for (int epoch = static_cast<int>(start_at.epoch) + 1; epoch <= epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      train_loader.set_epoch(static_cast<std::uint64_t>(epoch - 1));
      const auto skip = static_cast<std::size_t>(epoch == start_at.epoch + 1 ? start_at.step : 0);
      examples::ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(epochs),
                                train_loader.num_batches());
      double loss_sum = 0;
      std::size_t seen = 0, correct = 0, batches = 0;
      for (auto batch = train_loader.begin(); batch != train_loader.end(); ++batch) {
        if (batch.batch_index() < skip) continue;  // done before the checkpoint
        auto& [x, y] = *batch;
        tg::Var logits = model(x);
        tg::Var loss = tg::nn::cross_entropy(logits, y);
        optimizer.zero_grad();
        loss.backward();
        parallel.finish_gradients();  // --distributed: the mean over the ranks
        optimizer.step();

        const double l = loss.item();
        if (first_loss < 0) first_loss = l;
        tg::IndexArray predicted = tg::argmax(logits, -1);
        for (std::size_t i = 0; i < y.size(); ++i) correct += predicted(i) == y(i);
        loss_sum += l * static_cast<double>(y.size());
        seen += y.size();
        bar.update(++batches, loss_sum / static_cast<double>(seen), seen);
        const tg::nn::TrainingProgress done{epoch - 1, static_cast<std::int64_t>(batch.batch_index()) + 1};
        ++steps_taken;
        if (checkpoint_every > 0 && steps_taken % checkpoint_every == 0) save_checkpoint(done);
        if (stop_after > 0 && steps_taken == stop_after) {  // no save here: a crash would not save either
          std::cout << "\nstopped after " << steps_taken << " steps (--stop-after); resume with --resume\n";
          return 0;
        }
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (distributed) {  // the epoch's figures over every rank's shard
        loss_sum = parallel.sum(loss_sum);
        seen = static_cast<std::size_t>(parallel.sum(static_cast<double>(seen)));
        correct = static_cast<std::size_t>(parallel.sum(static_cast<double>(correct)));
      }
      total_seconds += seconds;
      // a run resumed from a checkpoint taken after the last batch of an epoch sees no batch of it
      const double seen_or_1 = static_cast<double>(std::max<std::size_t>(seen, 1));
      last_epoch_loss = loss_sum / seen_or_1;
      const double train_accuracy = static_cast<double>(correct) / seen_or_1;
      const Evaluation test = evaluate(model, test_set, nullptr);
      char summary[200];
      std::snprintf(summary, sizeof summary, "train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1f s, %.0f img/s",
                    last_epoch_loss, train_accuracy, test.loss, test.accuracy, seconds,
                    seen_or_1 / seconds);
      bar.finish(summary);
      if (csv) csv->row({double(epoch), last_epoch_loss, train_accuracy, test.loss, test.accuracy, seconds});
      if (cosine) schedule.step();
      if (checkpoint_every > 0) save_checkpoint({epoch, 0});
    }

    // 5. apply: the test set, class by class
    examples::ConfusionMatrix confusion(tg::data::FashionMNIST<float>::class_names());
    const Evaluation final_test = evaluate(model, test_set, &confusion);
    std::cout << "\n";
    confusion.print(std::cout);
    std::printf("\ntest accuracy %.4f after %d epochs (%.1f s per epoch on average)\n", final_test.accuracy, epochs,
                total_seconds / epochs);
    if (distributed) std::cout << parallel.communication_summary() << "\n";

    if (parallel.is_root()) {
      const std::string model_path = out_dir + "/fashion_mnist_mlp.npz";
      tg::nn::save(model, model_path);
      std::cout << "model saved to " << model_path << " (numpy.load opens it)\n";
      std::cout << "metrics in " << csv->path() << "\n";
      if (examples::plot_metrics(csv->path(), out_dir + "/curves.png", "tapegrad MLP on Fashion-MNIST"))
        std::cout << "curves plotted in " << out_dir << "/curves.png\n";
    }

    if (!(last_epoch_loss < first_loss)) {
      std::fprintf(stderr, "the training loss did not fall: first batch %.4f, last epoch %.4f\n", first_loss, last_epoch_loss);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    parallel.fail(e.what());  // --distributed: ends every rank with the message
    return 1;
  }
}
