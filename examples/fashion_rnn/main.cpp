// Fashion-MNIST read row by row: each image is a sequence of 28 steps of 28 pixels, read by a GRU
// or an LSTM (stacked, optionally bidirectional); the last layer's final hidden state goes through
// a linear layer to the 10 classes. Adam with cosine annealing and gradient-norm clipping.
// The same progress bar, confusion matrix, curves (.csv, .png) and model file (.npz) as
// examples/fashion_mnist.
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <tapegrad/tapegrad.hpp>

#include "../common/confusion.hpp"
#include "../common/flags.hpp"
#include "../common/metrics_csv.hpp"
#include "../common/plot.hpp"
#include "../common/progress.hpp"

namespace {

constexpr std::size_t rows = 28, pixels = 28, classes = 10;

/// images [batch, 784] -> a recurrent layer over the 28 rows -> final hidden state(s) of the last
/// layer (both directions side by side) -> linear -> 10 logits.
class RowReader : public tg::nn::Module<float> {
 public:
  RowReader(const std::string& cell, std::size_t hidden, std::size_t layers, bool bidirectional, double dropout)
      : layers_(layers), directions_(bidirectional ? 2 : 1), hidden_(hidden) {
    if (cell == "gru")
      gru_ = register_module("rnn", std::make_shared<tg::nn::GRU<float>>(
                                        pixels, hidden, tg::nn::GRUOptions{.num_layers = layers, .batch_first = true,
                                                                           .dropout = dropout, .bidirectional = bidirectional}));
    else if (cell == "lstm")
      lstm_ = register_module("rnn", std::make_shared<tg::nn::LSTM<float>>(
                                         pixels, hidden, tg::nn::LSTMOptions{.num_layers = layers, .batch_first = true,
                                                                             .dropout = dropout, .bidirectional = bidirectional}));
    else
      throw std::invalid_argument("--cell: '" + cell + "' is not gru or lstm");
    head_ = register_module("head", std::make_shared<tg::nn::Linear<float>>(directions_ * hidden, classes));
  }

  tg::Var forward(const tg::Var& images) override {
    const auto batch = static_cast<std::int64_t>(images.shape()[0]);
    tg::Var sequences = tg::reshape(images, {batch, std::int64_t(rows), std::int64_t(pixels)});
    tg::Var h_n = gru_ ? gru_->forward(sequences, tg::Var()).h_n : lstm_->forward(sequences, {}).state.h;
    // the last layer's final states [directions, batch, hidden] -> [batch, directions * hidden]
    tg::Var last = tg::narrow(h_n, 0, std::int64_t((layers_ - 1) * directions_), std::int64_t(directions_));
    tg::Var features = tg::reshape(tg::transpose(last, 0, 1), {batch, std::int64_t(directions_ * hidden_)});
    return head_->forward(features);
  }

 private:
  std::size_t layers_, directions_, hidden_;
  std::shared_ptr<tg::nn::GRU<float>> gru_;
  std::shared_ptr<tg::nn::LSTM<float>> lstm_;
  std::shared_ptr<tg::nn::Linear<float>> head_;
};

struct Evaluation {
  double loss = 0, accuracy = 0;
};

Evaluation evaluate(tg::nn::Module<float>& model, tg::data::Dataset<float>& data, examples::ConfusionMatrix* confusion) {
  tg::NoGradGuard no_grad;
  model.eval();
  tg::data::DataLoader loader(data, {.batch_size = 500, .shuffle = false});
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
  // Keep freed buffers in the process: page faults are expensive here (see fashion_mnist).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  std::string cell = "gru";
  int epochs = 12, batch_size = 128, hidden = 128, layers = 2, seed = 1, limit = 0;
  double lr = 2e-3, clip = 1.0, dropout = 0.1;
  bool bidirectional = false, cosine = true;
  std::string data_dir = tg::data::fashion_mnist_default_root, out_dir = "fashion_rnn_out";
  examples::Flags flags("fashion_rnn",
                        "Classifies Fashion-MNIST with a recurrent network that reads each image row by row (28 steps\n"
                        "of 28 pixels). Writes the model, a CSV and a PNG of the curves into --out.");
  flags.add("cell", cell, "gru or lstm")
      .add("hidden", hidden, "hidden units per layer and direction")
      .add("layers", layers, "stacked recurrent layers")
      .add("bidirectional", bidirectional, "read the rows in both directions")
      .add("dropout", dropout, "dropout between stacked layers")
      .add("epochs", epochs, "passes over the training set")
      .add("batch-size", batch_size, "examples per gradient step")
      .add("lr", lr, "Adam's learning rate")
      .add("clip", clip, "clip the gradients' global norm to this (0: off)")
      .add("cosine", cosine, "anneal the learning rate to 0 along a cosine over the epochs")
      .add("seed", seed, "seed for initialisation, dropout and shuffling")
      .add("data", data_dir, "folder with the IDX files (Debian: dataset-fashion-mnist)")
      .add("limit", limit, "use only the first N training and test images (0: all), for a quick run")
      .add("out", out_dir, "folder for the model (.npz), the metrics (.csv) and the plot (.png)");
  flags.parse_or_exit(argc, argv);

  try {
    if (epochs < 1 || batch_size < 1 || hidden < 1 || layers < 1)
      throw std::invalid_argument("--epochs, --batch-size, --hidden and --layers must be positive");
    tg::manual_seed(static_cast<std::uint64_t>(seed));
    tg::data::FashionMNIST<float> train_set(data_dir, /*train=*/true, static_cast<std::size_t>(limit));
    tg::data::FashionMNIST<float> test_set(data_dir, /*train=*/false, static_cast<std::size_t>(limit));
    tg::data::DataLoader train_loader(train_set, {.batch_size = static_cast<std::size_t>(batch_size), .shuffle = true,
                                                  .seed = static_cast<std::uint64_t>(seed)});

    RowReader model(cell, std::size_t(hidden), std::size_t(layers), bidirectional, dropout);
    tg::optim::Adam<float> optimizer(model.parameters(), {.lr = lr});
    tg::optim::CosineAnnealingLR schedule(optimizer, epochs);
    std::cout << "Fashion-MNIST row by row: " << train_set.size() << " training and " << test_set.size()
              << " test images, " << train_loader.num_batches() << " batches of " << batch_size << " per epoch\n"
              << model << "\nAdam lr " << lr << (cosine ? " (cosine annealing)" : "") << ", gradient norm clipped to "
              << clip << ", cross-entropy, seed " << seed << "\n\n";

    std::filesystem::create_directories(out_dir);
    examples::CsvWriter csv(out_dir + "/metrics.csv",
                            {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"});
    double first_loss = -1, last_epoch_loss = 0, total_seconds = 0;
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      examples::ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(epochs), train_loader.num_batches());
      double loss_sum = 0;
      std::size_t seen = 0, correct = 0, batches = 0;
      for (auto& [x, y] : train_loader) {
        tg::Var logits = model(x);
        tg::Var loss = tg::nn::cross_entropy(logits, y);
        optimizer.zero_grad();
        loss.backward();
        if (clip > 0) tg::optim::clip_grad_norm(model.parameters(), clip);
        optimizer.step();

        const double l = loss.item();
        if (first_loss < 0) first_loss = l;
        tg::IndexArray predicted = tg::argmax(logits, -1);
        for (std::size_t i = 0; i < y.size(); ++i) correct += predicted(i) == y(i);
        loss_sum += l * static_cast<double>(y.size());
        seen += y.size();
        bar.update(++batches, loss_sum / static_cast<double>(seen), seen);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      total_seconds += seconds;
      last_epoch_loss = loss_sum / static_cast<double>(seen);
      const double train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
      const Evaluation test = evaluate(model, test_set, nullptr);
      char summary[200];
      std::snprintf(summary, sizeof summary, "train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1f s, %.0f img/s",
                    last_epoch_loss, train_accuracy, test.loss, test.accuracy, seconds, static_cast<double>(seen) / seconds);
      bar.finish(summary);
      csv.row({double(epoch), last_epoch_loss, train_accuracy, test.loss, test.accuracy, seconds});
      if (cosine) schedule.step();
    }

    examples::ConfusionMatrix confusion(tg::data::FashionMNIST<float>::class_names());
    const Evaluation final_test = evaluate(model, test_set, &confusion);
    std::cout << "\n";
    confusion.print(std::cout);
    std::printf("\ntest accuracy %.4f after %d epochs (%.1f s per epoch on average)\n", final_test.accuracy, epochs,
                total_seconds / epochs);
    const std::string model_path = out_dir + "/fashion_rnn_" + cell + ".npz";
    tg::nn::save(model, model_path);
    std::cout << "model saved to " << model_path << " (numpy.load opens it)\n";
    std::cout << "metrics in " << csv.path() << "\n";
    if (examples::plot_metrics(csv.path(), out_dir + "/curves.png", "tapegrad " + cell + " on Fashion-MNIST rows"))
      std::cout << "curves plotted in " << out_dir << "/curves.png\n";
    if (!(last_epoch_loss < first_loss)) {
      std::fprintf(stderr, "the training loss did not fall: first batch %.4f, last epoch %.4f\n", first_loss, last_epoch_loss);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_rnn: %s\n", e.what());
    return 1;
  }
}
