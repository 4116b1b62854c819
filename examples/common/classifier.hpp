#pragma once
// What the Fashion-MNIST classifier examples (fashion_mnist, fashion_cnn, fashion_rnn,
// fashion_vit) share: their common flags, the fit loop (a progress bar and a summary line per
// epoch, the metrics CSV), the evaluation, and the end-of-run report (confusion matrix, accuracy,
// the model as .npz, the curves as PNG). What differs stays in the example: the model, its own
// flags, its optimizer, its extra pictures; its own step (gradient clipping, a checkpoint) comes in
// as a hook.
//
//   examples::ClassifierRun run{.epochs = s.epochs, .out_dir = s.out_dir, .model_file = "fashion_vit.npz",
//                               .title = "tapegrad ViT on Fashion-MNIST", .schedule = &schedule};
//   const examples::FitResult fitted = examples::fit(model, optimizer, train_loader, test_set, run);
//   examples::report(model, test_set, run, fitted);
//   return examples::check_loss_fell(fitted) ? 0 : 1;
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

#include "confusion.hpp"
#include "data_parallel.hpp"
#include "flags.hpp"
#include "metrics_csv.hpp"
#include "plot.hpp"
#include "progress.hpp"

namespace examples {

/// The settings behind the flags every classifier example has; the example gives its defaults.
struct ClassifierSettings {
  int epochs = 10, batch_size = 64;
  double lr = 1e-3;
  int seed = 1, limit = 0;
  std::string data_dir = tg::data::fashion_mnist_default_root;
  std::string out_dir;
};

/// --epochs, --batch-size, --lr.
inline Flags& add_training_flags(Flags& flags, ClassifierSettings& s, std::string lr_help = "Adam's learning rate") {
  return flags.add("epochs", s.epochs, "passes over the training set")
      .add("batch-size", s.batch_size, "examples per gradient step")
      .add("lr", s.lr, std::move(lr_help));
}

/// --seed, --data, --limit.
inline Flags& add_data_flags(Flags& flags, ClassifierSettings& s) {
  return flags.add("seed", s.seed, "seed for initialisation, dropout and shuffling")
      .add("data", s.data_dir, "folder with the IDX files (Debian: dataset-fashion-mnist)")
      .add("limit", s.limit, "use only the first N training and test images (0: all), for a quick run");
}

struct Evaluation {
  double loss = 0, accuracy = 0;
};

/// Mean cross-entropy and accuracy over a whole dataset, in evaluation mode and without
/// recording, `batch_size` images at a time; every prediction also counted into `confusion`.
inline Evaluation evaluate(tg::nn::Module<float>& model, const tg::data::Dataset<float>& data, std::size_t batch_size,
                           ConfusionMatrix* confusion = nullptr) {
  tg::NoGradGuard no_grad;
  model.eval();
  tg::data::DataLoader loader(data, {.batch_size = batch_size, .shuffle = false});
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

/// How a classifier is trained and reported on, beyond the model, optimizer and data.
struct ClassifierRun {
  int epochs = 1;
  std::string out_dir;     // created; gets metrics.csv, curves.png and the model
  std::string model_file;  // the model's .npz, in out_dir
  std::string title;       // the curves' title
  tg::optim::LRScheduler* schedule = nullptr;  // stepped after every epoch (nullptr: a constant lr)
  /// --distributed: waits for the ranks' mean gradient before each step, sums each epoch's figures
  /// over the ranks; rank 0 alone writes files. nullptr: one process.
  DataParallel* parallel = nullptr;
  bool broadcast_buffers = false;  // with parallel: rank 0's buffers (BatchNorm statistics) before each evaluation
  std::size_t eval_batch_size = 500;
  bool print_parameter_count = false;  // in the final accuracy line
  tg::nn::TrainingProgress start_at{};  // resumed: the epochs done, and the batches done in the next
  /// After backward, before the optimizer step (and after the ranks' mean): e.g. clipping.
  std::function<void()> before_step{};
  /// After each step, with the progress it completes; false ends the run there (FitResult::stopped).
  std::function<bool(tg::nn::TrainingProgress)> after_step{};
  /// At the end of each epoch, after the schedule's step (e.g. a checkpoint).
  std::function<void(int epoch)> after_epoch{};
};

struct FitResult {
  double first_loss = -1;       // the run's first batch's (-1: resumed, the run began elsewhere)
  double last_epoch_loss = 0;   // the last epoch's mean
  double total_seconds = 0;     // training only, over every epoch run
  std::string csv_path;         // the metrics ("" on a rank other than 0)
  bool stopped = false;         // after_step ended the run
};

/// Trains with cross-entropy for run.epochs epochs (from run.start_at), drawing a progress bar,
/// then a line per epoch with the train and test loss and accuracy, each also a row of metrics.csv.
inline FitResult fit(tg::nn::Module<float>& model, tg::optim::OptimizerBase& optimizer,
                     tg::data::DataLoader<float>& train_loader, const tg::data::Dataset<float>& test_set,
                     const ClassifierRun& run) {
  std::filesystem::create_directories(run.out_dir);
  std::optional<CsvWriter> csv;  // rank 0 alone writes files
  if (!run.parallel || run.parallel->is_root())
    csv.emplace(run.out_dir + "/metrics.csv",
                std::vector<std::string>{"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"});
  FitResult result;
  if (csv) result.csv_path = csv->path();
  // A resumed run's first batch is not the run's first: its loss is no baseline for the check.
  const bool resumed = run.start_at.epoch != 0 || run.start_at.step != 0;

  for (int epoch = static_cast<int>(run.start_at.epoch) + 1; epoch <= run.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    train_loader.set_epoch(static_cast<std::uint64_t>(epoch - 1));
    const auto skip = static_cast<std::size_t>(epoch == run.start_at.epoch + 1 ? run.start_at.step : 0);
    ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(run.epochs), train_loader.num_batches());
    double loss_sum = 0;
    std::size_t seen = 0, correct = 0, batches = 0;
    for (auto batch = train_loader.begin(); batch != train_loader.end(); ++batch) {
      if (batch.batch_index() < skip) continue;  // done before the checkpoint
      auto& [x, y] = *batch;
      tg::Var logits = model(x);
      tg::Var loss = tg::nn::cross_entropy(logits, y);
      optimizer.zero_grad();
      loss.backward();
      if (run.parallel) run.parallel->finish_gradients();  // --distributed: the mean over the ranks
      if (run.before_step) run.before_step();
      optimizer.step();

      const double l = loss.item();
      if (result.first_loss < 0 && !resumed) result.first_loss = l;
      tg::IndexArray predicted = tg::argmax(logits, -1);
      for (std::size_t i = 0; i < y.size(); ++i) correct += predicted(i) == y(i);
      loss_sum += l * static_cast<double>(y.size());
      seen += y.size();
      bar.update(++batches, loss_sum / static_cast<double>(seen), seen);
      if (run.after_step && !run.after_step({epoch - 1, static_cast<std::int64_t>(batch.batch_index()) + 1})) {
        result.stopped = true;
        return result;
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (run.parallel) {  // the epoch's figures over every rank's shard
      loss_sum = run.parallel->sum(loss_sum);
      seen = static_cast<std::size_t>(run.parallel->sum(static_cast<double>(seen)));
      correct = static_cast<std::size_t>(run.parallel->sum(static_cast<double>(correct)));
    }
    result.total_seconds += seconds;
    // a run resumed from a checkpoint taken after the last batch of an epoch sees no batch of it
    const double seen_or_1 = static_cast<double>(std::max<std::size_t>(seen, 1));
    result.last_epoch_loss = loss_sum / seen_or_1;
    const double train_accuracy = static_cast<double>(correct) / seen_or_1;
    if (run.parallel && run.broadcast_buffers) run.parallel->broadcast_from_root(model);
    const Evaluation test = evaluate(model, test_set, run.eval_batch_size);
    char summary[200];
    std::snprintf(summary, sizeof summary, "train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1f s, %.0f img/s",
                  result.last_epoch_loss, train_accuracy, test.loss, test.accuracy, seconds, seen_or_1 / seconds);
    bar.finish(summary);
    if (csv) csv->row({double(epoch), result.last_epoch_loss, train_accuracy, test.loss, test.accuracy, seconds});
    if (run.schedule) run.schedule->step();
    if (run.after_epoch) run.after_epoch(epoch);
  }
  return result;
}

/// The end of a run: the test set's confusion matrix and accuracy, then (rank 0) the model saved
/// into run.out_dir and the curves plotted from the CSV. Returns the final test evaluation.
inline Evaluation report(tg::nn::Module<float>& model, const tg::data::Dataset<float>& test_set,
                         const ClassifierRun& run, const FitResult& fitted) {
  ConfusionMatrix confusion(tg::data::FashionMNIST<float>::class_names());
  const Evaluation test = evaluate(model, test_set, run.eval_batch_size, &confusion);
  std::cout << "\n";
  confusion.print(std::cout);
  std::printf("\ntest accuracy %.4f after %d epochs (%.1f s per epoch on average)", test.accuracy, run.epochs,
              fitted.total_seconds / run.epochs);
  if (run.print_parameter_count) std::printf(", %zu parameters", model.num_parameters());
  std::printf("\n");
  if (run.parallel && run.parallel->distributed()) std::cout << run.parallel->communication_summary() << "\n";

  if (!run.parallel || run.parallel->is_root()) {
    const std::string model_path = run.out_dir + "/" + run.model_file;
    tg::nn::save(model, model_path);
    std::cout << "model saved to " << model_path << " (numpy.load opens it)\n";
    std::cout << "metrics in " << fitted.csv_path << "\n";
    if (plot_metrics(fitted.csv_path, run.out_dir + "/curves.png", run.title))
      std::cout << "curves plotted in " << run.out_dir << "/curves.png\n";
  }
  return test;
}

/// Whether the training loss fell from the first batch to the last epoch; says so on stderr when not.
/// A resumed run does not know its first batch's loss: the run that began it checked that.
inline bool check_loss_fell(const FitResult& fitted) {
  if (fitted.first_loss < 0 || fitted.last_epoch_loss < fitted.first_loss) return true;
  std::fprintf(stderr, "the training loss did not fall: first batch %.4f, last epoch %.4f\n", fitted.first_loss,
               fitted.last_epoch_loss);
  return false;
}

}  // namespace examples
