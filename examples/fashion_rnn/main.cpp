// Fashion-MNIST read row by row: each image is a sequence of 28 steps of 28 pixels, read by a GRU
// or an LSTM (stacked, optionally bidirectional); the last layer's final hidden state goes through
// a linear layer to the 10 classes. Adam with cosine annealing and gradient-norm clipping.
// The same progress bar, confusion matrix, curves (.csv, .png) and model file (.npz) as
// examples/fashion_mnist.
#include <malloc.h>

#include <cstdio>
#include <iostream>

#include <tapegrad/tapegrad.hpp>

#include "../common/classifier.hpp"

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

}  // namespace

int main(int argc, char** argv) {
  // Keep freed buffers in the process: page faults are expensive here (see fashion_mnist).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  examples::ClassifierSettings s{.epochs = 12, .batch_size = 128, .lr = 2e-3, .out_dir = "fashion_rnn_out"};
  std::string cell = "gru";
  int hidden = 128, layers = 2;
  double clip = 1.0, dropout = 0.1;
  bool bidirectional = false, cosine = true;
  examples::Flags flags("fashion_rnn",
                        "Classifies Fashion-MNIST with a recurrent network that reads each image row by row (28 steps\n"
                        "of 28 pixels). Writes the model, a CSV and a PNG of the curves into --out.");
  flags.add("cell", cell, "gru or lstm")
      .add("hidden", hidden, "hidden units per layer and direction")
      .add("layers", layers, "stacked recurrent layers")
      .add("bidirectional", bidirectional, "read the rows in both directions")
      .add("dropout", dropout, "dropout between stacked layers");
  examples::add_training_flags(flags, s)
      .add("clip", clip, "clip the gradients' global norm to this (0: off)")
      .add("cosine", cosine, "anneal the learning rate to 0 along a cosine over the epochs");
  examples::add_data_flags(flags, s)
      .add("out", s.out_dir, "folder for the model (.npz), the metrics (.csv) and the plot (.png)");
  flags.parse_or_exit(argc, argv);

  try {
    if (s.epochs < 1 || s.batch_size < 1 || hidden < 1 || layers < 1)
      throw std::invalid_argument("--epochs, --batch-size, --hidden and --layers must be positive");
    tg::manual_seed(static_cast<std::uint64_t>(s.seed));
    tg::data::FashionMNIST<float> train_set(s.data_dir, /*train=*/true, static_cast<std::size_t>(s.limit));
    tg::data::FashionMNIST<float> test_set(s.data_dir, /*train=*/false, static_cast<std::size_t>(s.limit));
    tg::data::DataLoader train_loader(train_set, {.batch_size = static_cast<std::size_t>(s.batch_size), .shuffle = true,
                                                  .seed = static_cast<std::uint64_t>(s.seed)});

    RowReader model(cell, std::size_t(hidden), std::size_t(layers), bidirectional, dropout);
    tg::optim::Adam<float> optimizer(model.parameters(), {.lr = s.lr});
    tg::optim::CosineAnnealingLR schedule(optimizer, s.epochs);
    std::cout << "Fashion-MNIST row by row: " << train_set.size() << " training and " << test_set.size()
              << " test images, " << train_loader.num_batches() << " batches of " << s.batch_size << " per epoch\n"
              << model << "\nAdam lr " << s.lr << (cosine ? " (cosine annealing)" : "") << ", gradient norm clipped to "
              << clip << ", cross-entropy, seed " << s.seed << "\n\n";

    examples::ClassifierRun run{.epochs = s.epochs,
                                .out_dir = s.out_dir,
                                .model_file = "fashion_rnn_" + cell + ".npz",
                                .title = "tapegrad " + cell + " on Fashion-MNIST rows",
                                .schedule = cosine ? &schedule : nullptr};
    if (clip > 0) run.before_step = [&] { tg::optim::clip_grad_norm(model.parameters(), clip); };
    const examples::FitResult fitted = examples::fit(model, optimizer, train_loader, test_set, run);
    examples::report(model, test_set, run, fitted);
    return examples::check_loss_fell(fitted) ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_rnn: %s\n", e.what());
    return 1;
  }
}
