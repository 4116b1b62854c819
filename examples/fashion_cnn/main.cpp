// Fashion-MNIST with a small CNN: two convolution blocks (conv, BatchNorm, ReLU, max-pool) and a
// linear classifier, under 100,000 parameters. The same recipe, flags and outputs as
// examples/fashion_mnist (progress bar, per-epoch line, confusion matrix, .npz model, CSV and PNG
// curves), plus a picture of what the first layer learned: its filters. `--distributed` trains
// data-parallel over MPI as fashion_mnist does (mpirun -np 2 fashion_cnn --distributed).
#include <malloc.h>

#include <iostream>

#include <tapegrad/tapegrad.hpp>

#include "../common/classifier.hpp"
#include "../common/image_grid.hpp"

namespace {

namespace nn = tg::nn;

/// conv k x k (same size) -> BatchNorm2d -> ReLU -> 2x2 max-pool: halves the image side.
class ConvBlock : public nn::Module<float> {
 public:
  ConvBlock(std::size_t in, std::size_t out, std::size_t kernel) {
    // no conv bias: the BatchNorm's own bias follows and would absorb it
    conv = register_module("conv", std::make_shared<nn::Conv2d<float>>(in, out, kernel, nn::ConvLayerOptions<2>{.padding = "same", .bias = false}));
    norm = register_module("norm", std::make_shared<nn::BatchNorm2d<float>>(out));
    pool = register_module("pool", std::make_shared<nn::MaxPool2d<float>>(2));
  }
  tg::Var forward(const tg::Var& x) override { return (*pool)(tg::relu((*norm)((*conv)(x)))); }
  std::string type_name() const override { return "ConvBlock"; }

  std::shared_ptr<nn::Conv2d<float>> conv;
  std::shared_ptr<nn::BatchNorm2d<float>> norm;
  std::shared_ptr<nn::MaxPool2d<float>> pool;
};

/// [B, 784] images -> [B, 1, 28, 28] -> block1 [B, c1, 14, 14] -> block2 [B, c2, 7, 7] -> dropout
/// -> flatten -> linear to 10 logits.
class FashionCNN : public nn::Module<float> {
 public:
  FashionCNN(std::size_t c1, std::size_t c2, std::size_t kernel1, std::size_t kernel2, double dropout) {
    block1 = register_module("block1", std::make_shared<ConvBlock>(1, c1, kernel1));
    block2 = register_module("block2", std::make_shared<ConvBlock>(c1, c2, kernel2));
    drop = register_module("dropout", std::make_shared<nn::Dropout<float>>(dropout));
    flatten = register_module("flatten", std::make_shared<nn::Flatten<float>>());
    classifier = register_module("classifier", std::make_shared<nn::Linear<float>>(c2 * 7 * 7, 10));
  }
  tg::Var forward(const tg::Var& images) override {
    const auto batch = static_cast<std::int64_t>(images.shape()[0]);
    tg::Var x = tg::reshape(images, {batch, 1, 28, 28});
    return (*classifier)((*flatten)((*drop)((*block2)((*block1)(x)))));
  }
  std::string type_name() const override { return "FashionCNN"; }

  std::shared_ptr<ConvBlock> block1, block2;
  std::shared_ptr<nn::Dropout<float>> drop;
  std::shared_ptr<nn::Flatten<float>> flatten;
  std::shared_ptr<nn::Linear<float>> classifier;
};

/// --channels and --kernels: two sizes, one per block.
std::vector<std::size_t> parse_pair(const std::string& flag, const std::string& text) {
  const auto sizes = examples::parse_sizes(flag, text, "32,64");
  if (sizes.size() != 2) throw std::invalid_argument(flag + ": '" + text + "' must name two sizes, one per block");
  return sizes;
}

/// conv1's filters as a grid of k x k tiles, each scaled to its own range.
bool draw_filters(const nn::Conv2d<float>& conv, const std::string& path) {
  const auto& w = conv.weight.value();  // [c1, 1, k, k]
  const std::size_t count = w.shape()[0], kh = w.shape()[2], kw = w.shape()[3];
  std::vector<std::vector<float>> tiles(count);
  for (std::size_t f = 0; f < count; ++f) tiles[f].assign(w.data() + f * kh * kw, w.data() + (f + 1) * kh * kw);
  return examples::write_image_grid(path, tiles, kh, kw, {.columns = 8, .pixels_per_cell = 16});
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed multi-megabyte buffers in the process: page faults are expensive here and a
  // training step frees and reallocates the same sizes every time.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  // 8 epochs: 0.9209 test accuracy with the defaults below (the README run)
  examples::ClassifierSettings s{.epochs = 8, .batch_size = 64, .lr = 2e-3, .out_dir = "fashion_cnn_out"};
  std::string channels = "32,64";
  std::string kernels = "3,3";
  double dropout = 0.3;
  bool cosine = true;
  bool distributed = false;
  examples::Flags flags("fashion_cnn",
                        "Trains a CNN (two blocks of conv, BatchNorm, ReLU, 2x2 max-pool; dropout; a linear classifier)\n"
                        "with Adam on Fashion-MNIST's 60,000 training images and reports accuracy on its 10,000 test\n"
                        "images. Writes the model, a CSV and a PNG of the curves and a PNG of conv1's filters into --out.");
  examples::add_training_flags(flags, s)
      .add("channels", channels, "output channels of the two conv blocks, comma-separated")
      .add("kernels", kernels, "kernel sizes of the two convolutions, comma-separated")
      .add("dropout", dropout, "dropout probability before the classifier");
  examples::add_data_flags(flags, s)
      .add("cosine", cosine, "anneal the learning rate to 0 along a cosine over the epochs")
      .add("out", s.out_dir, "folder for the model (.npz), the metrics (.csv) and the plots (.png)")
      .add("distributed", distributed, examples::DataParallel::flag_help("fashion_cnn"));
  flags.parse_or_exit(argc, argv);
  examples::DataParallel parallel("fashion_cnn", distributed, argc, argv);

  try {
    if (s.epochs < 1 || s.batch_size < 1) throw std::invalid_argument("--epochs and --batch-size must be positive");
    const auto c = parse_pair("--channels", channels);
    const auto k = parse_pair("--kernels", kernels);
    tg::manual_seed(static_cast<std::uint64_t>(s.seed));

    // 1. data
    tg::data::FashionMNIST<float> train_set(s.data_dir, /*train=*/true, static_cast<std::size_t>(s.limit));
    tg::data::FashionMNIST<float> test_set(s.data_dir, /*train=*/false, static_cast<std::size_t>(s.limit));
    tg::data::DataLoader train_loader =
        parallel.loader(train_set, static_cast<std::size_t>(s.batch_size), static_cast<std::uint64_t>(s.seed));

    // 2. model, 3. optimizer and criterion
    FashionCNN model(c[0], c[1], k[0], k[1], dropout);
    tg::optim::Adam<float> optimizer(model.parameters(), {.lr = s.lr});
    tg::optim::CosineAnnealingLR schedule(optimizer, s.epochs);
    parallel.average_gradients_of(model);
    if (distributed) tg::manual_seed(static_cast<std::uint64_t>(s.seed + parallel.rank()));  // each rank its own dropout masks
    std::cout << "Fashion-MNIST: " << train_set.size() << " training and " << test_set.size() << " test images, "
              << train_loader.num_batches() << " batches of " << s.batch_size << " per epoch\n"
              << model << "\nAdam lr " << s.lr << (cosine ? " (cosine annealing)" : "") << ", cross-entropy, seed "
              << s.seed << "\n\n"
              << parallel.shards_summary(train_loader.num_batches(), static_cast<std::size_t>(s.batch_size));

    // 4. fit; 5. apply: the test set, class by class
    const examples::ClassifierRun run{.epochs = s.epochs,
                                      .out_dir = s.out_dir,
                                      .model_file = "fashion_cnn.npz",
                                      .title = "tapegrad CNN on Fashion-MNIST",
                                      .schedule = cosine ? &schedule : nullptr,
                                      .parallel = &parallel,
                                      .broadcast_buffers = true,  // rank 0's BatchNorm statistics on every rank
                                      .print_parameter_count = true};
    const examples::FitResult fitted = examples::fit(model, optimizer, train_loader, test_set, run);
    examples::report(model, test_set, run, fitted);
    if (parallel.is_root() && draw_filters(*model.block1->conv, s.out_dir + "/conv1_filters.png"))
      std::cout << "conv1's filters drawn in " << s.out_dir << "/conv1_filters.png\n";
    return examples::check_loss_fell(fitted) ? 0 : 1;
  } catch (const std::exception& e) {
    parallel.fail(e.what());  // --distributed: ends every rank with the message
    return 1;
  }
}
