// Fashion-MNIST with a vision transformer (ViT, Dosovitskiy et al. 2020): each 28x28 image is cut
// into patches (7x7: 16 of them, or 4x4: 49), each patch embedded by one Linear layer, a learned
// class token put in front, learned positions added, a pre-norm TransformerEncoder run over the
// tokens, and the class token's final state classified. Same loop, progress bar, confusion
// matrix, curves and model file as examples/fashion_mnist; also a PNG of where the class token
// looks in a few test images (the last layer's attention, averaged over heads).
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <tapegrad/tapegrad.hpp>
#include <xtensor/xview.hpp>

#include "../common/classifier.hpp"
#include "../common/image_grid.hpp"

namespace {

constexpr std::size_t side = 28;

struct ViTOptions {
  std::size_t patch = 7, d_model = 64, heads = 4, layers = 4, feedforward = 128;
  double dropout = 0.1;
};

/// Patches -> tokens -> encoder -> class token -> logits.
class ViT : public tg::nn::Module<float> {
 public:
  explicit ViT(const ViTOptions& o)
      : patch_(o.patch), grid_(side / o.patch), tokens_(grid_ * grid_ + 1) {
    embed = register_module("embed", std::make_shared<tg::nn::Linear<float>>(patch_ * patch_, o.d_model));
    class_token = register_parameter("class_token", tg::zeros<float>({1, 1, o.d_model}));
    tg::nn::init::normal_(class_token, 0, 0.02);
    positions = register_module("positions", std::make_shared<tg::nn::LearnedPositionalEncoding<float>>(
                                                 tokens_, o.d_model, tg::nn::PositionalEncodingOptions{.dropout = o.dropout}));
    encoder = register_module("encoder", std::make_shared<tg::nn::TransformerEncoder<float>>(
                                             o.d_model, o.heads, o.layers,
                                             tg::nn::TransformerLayerOptions{.dim_feedforward = o.feedforward,
                                                                             .dropout = o.dropout,
                                                                             .activation = tg::nn::Activation::gelu,
                                                                             .batch_first = true,
                                                                             .norm_first = true},
                                             /*final_norm=*/true));
    head = register_module("head", std::make_shared<tg::nn::Linear<float>>(o.d_model, 10));
  }

  /// Images [B, 784] -> tokens [B, 1 + patches, d_model] (class token first, positions added).
  tg::Var tokens(const tg::Var& images) {
    const auto b = static_cast<std::int64_t>(images.shape()[0]);
    const auto g = static_cast<std::int64_t>(grid_), p = static_cast<std::int64_t>(patch_);
    // [B, gy, py, gx, px] -> [B, gy, gx, py, px]: one blocked permute copy
    tg::Var patches = tg::reshape(tg::permute(tg::reshape(images, {b, g, p, g, p}), {0, 1, 3, 2, 4}), {b, g * g, p * p});
    tg::Var cls = tg::expand(class_token, {images.shape()[0], 1, class_token.shape()[2]});
    return positions->forward(tg::concat<float>({cls, embed->forward(patches)}, 1));
  }

  tg::Var forward(const tg::Var& images) override {
    tg::Var states = encoder->forward(tokens(images));
    const auto b = static_cast<std::int64_t>(images.shape()[0]);
    return head->forward(tg::reshape(tg::narrow(states, 1, 0, 1), {b, -1}));
  }

  /// The class token's attention over the patches in the last layer, averaged over heads:
  /// [B, patches] (evaluation mode, no recording).
  xt::xarray<float> class_attention(const tg::Var& images) {
    tg::NoGradGuard no_grad;
    tg::Var x = tokens(images);
    auto& layers = encoder->layers;
    for (std::size_t i = 0; i + 1 < layers.size(); ++i) x = layers[i]->forward(x);
    auto& last = *layers.back();
    tg::Var normed = last.norm1->forward(x);  // pre-norm: attention sees norm1(x)
    tg::Var weights = last.self_attn->forward(normed, normed, normed).weights;  // [B, T, T]
    return xt::xarray<float>(xt::view(weights.value(), xt::all(), 0, xt::range(1, tokens_)));
  }

  std::size_t grid() const { return grid_; }
  std::size_t patch() const { return patch_; }

  std::shared_ptr<tg::nn::Linear<float>> embed, head;
  tg::Var class_token;
  std::shared_ptr<tg::nn::LearnedPositionalEncoding<float>> positions;
  std::shared_ptr<tg::nn::TransformerEncoder<float>> encoder;

 private:
  std::size_t patch_, grid_, tokens_;
};

/// For each of the first `count` test images: the image, then the class token's attention
/// blown up to 28x28 (each patch one flat block), side by side in one PNG.
bool write_attention_maps(ViT& model, const tg::data::FashionMNIST<float>& test_set, std::size_t count,
                          const std::string& path) {
  count = std::min(count, test_set.size());
  if (count == 0) return false;
  xt::xarray<float> images = xt::view(test_set.images(), xt::range(0, count));
  model.eval();
  const xt::xarray<float> attention = model.class_attention(tg::Var(images));
  model.train();
  std::vector<std::vector<float>> tiles;
  const std::size_t g = model.grid(), p = model.patch();
  for (std::size_t i = 0; i < count; ++i) {
    tiles.emplace_back(images.data() + i * side * side, images.data() + (i + 1) * side * side);
    std::vector<float> map(side * side, 0.0f);
    for (std::size_t r = 0; r < side; ++r)
      for (std::size_t c = 0; c < side; ++c)
        if (r / p < g && c / p < g) map[r * side + c] = attention(i, (r / p) * g + c / p);
    tiles.push_back(std::move(map));
  }
  return examples::write_image_grid(path, tiles, side, side, {.columns = 8, .pixels_per_cell = 4});
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed multi-megabyte buffers in the process: page faults are expensive here.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  examples::ClassifierSettings s{.epochs = 8, .batch_size = 128, .lr = 2e-3, .out_dir = "fashion_vit_out"};
  int patch = 7, d_model = 64, heads = 4, layers = 4, feedforward = 128;
  double dropout = 0.0, weight_decay = 0.05, min_accuracy = 0;
  examples::Flags flags("fashion_vit",
                        "Trains a vision transformer (patch embedding, class token, pre-norm encoder stack) with AdamW\n"
                        "and a cosine schedule on Fashion-MNIST; reports test accuracy, writes the model, the curves\n"
                        "and a PNG of the class token's attention over the patches of a few test images into --out.");
  examples::add_training_flags(flags, s, "AdamW's peak learning rate (cosine-annealed to 0)")
      .add("weight-decay", weight_decay, "AdamW's decoupled weight decay")
      .add("patch", patch, "patch side, 7 (16 patches) or 4 (49 patches)")
      .add("d-model", d_model, "token width")
      .add("heads", heads, "attention heads")
      .add("layers", layers, "encoder layers")
      .add("feedforward", feedforward, "hidden width of each layer's feed-forward block")
      .add("dropout", dropout, "dropout in the encoder and on the positions");
  examples::add_data_flags(flags, s)
      .add("min-accuracy", min_accuracy, "exit 1 if the final test accuracy is below this")
      .add("out", s.out_dir, "folder for the model (.npz), metrics (.csv), curves and attention maps (.png)");
  flags.parse_or_exit(argc, argv);

  try {
    if (s.epochs < 1 || s.batch_size < 1) throw std::invalid_argument("--epochs and --batch-size must be positive");
    if (patch != 7 && patch != 4) throw std::invalid_argument("--patch must be 7 or 4");
    tg::manual_seed(static_cast<std::uint64_t>(s.seed));

    tg::data::FashionMNIST<float> train_set(s.data_dir, /*train=*/true, static_cast<std::size_t>(s.limit));
    tg::data::FashionMNIST<float> test_set(s.data_dir, /*train=*/false, static_cast<std::size_t>(s.limit));
    tg::data::DataLoader train_loader(train_set, {.batch_size = static_cast<std::size_t>(s.batch_size), .shuffle = true,
                                                  .seed = static_cast<std::uint64_t>(s.seed)});

    ViT model({.patch = static_cast<std::size_t>(patch), .d_model = static_cast<std::size_t>(d_model),
               .heads = static_cast<std::size_t>(heads), .layers = static_cast<std::size_t>(layers),
               .feedforward = static_cast<std::size_t>(feedforward), .dropout = dropout});
    tg::optim::AdamW<float> optimizer(model.parameters(), {.lr = s.lr, .weight_decay = weight_decay});
    tg::optim::CosineAnnealingLR schedule(optimizer, s.epochs);
    std::cout << "Fashion-MNIST: " << train_set.size() << " training and " << test_set.size() << " test images, "
              << train_loader.num_batches() << " batches of " << s.batch_size << " per epoch\n"
              << model << "\nAdamW lr " << s.lr << " (cosine), weight decay " << weight_decay << ", cross-entropy, seed "
              << s.seed << "\n\n";

    const examples::ClassifierRun run{.epochs = s.epochs,
                                      .out_dir = s.out_dir,
                                      .model_file = "fashion_vit.npz",
                                      .title = "tapegrad ViT on Fashion-MNIST",
                                      .schedule = &schedule};
    const examples::FitResult fitted = examples::fit(model, optimizer, train_loader, test_set, run);
    const examples::Evaluation final_test = examples::report(model, test_set, run, fitted);
    if (write_attention_maps(model, test_set, 16, s.out_dir + "/attention.png"))
      std::cout << "attention maps (image, class token's attention) in " << s.out_dir << "/attention.png\n";

    if (!examples::check_loss_fell(fitted)) return 1;
    if (final_test.accuracy < min_accuracy) {
      std::fprintf(stderr, "test accuracy %.4f is below --min-accuracy %.4f\n", final_test.accuracy, min_accuracy);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_vit: %s\n", e.what());
    return 1;
  }
}
