// Four auto-encoders on Fashion-MNIST from Memisevic's lecture: plain, denoising, sparse and
// contractive, the last trained through a penalty computed by differentiating the encoder
// (tg::grad with create_graph). For each: test reconstruction error, the mean Frobenius norm of
// the encoder's Jacobian (the contraction), pictures of reconstructions and filters, the model.
#include <malloc.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <tapegrad/tapegrad.hpp>

#include "../common/flags.hpp"
#include "../common/image_grid.hpp"
#include "../common/metrics_csv.hpp"
#include "../common/plot.hpp"
#include "../common/progress.hpp"
#include "autoencoder.hpp"

namespace {

using autoencoders::AutoEncoder;
using Images = tg::data::FashionMNIST<float>;

const std::vector<std::string> all_models{"plain", "denoising", "sparse", "contractive"};

struct Settings {
  int epochs = 5;
  int batch_size = 64;
  double lr = 1e-3;
  int hidden = 256;
  std::string noise = "masking";
  double mask_fraction = 0.3;
  double noise_std = 0.3;
  double lambda_sparse = 0.5;
  double lambda_contractive = 0.5;
  int probes = 1;
  int seed = 1;
};

struct Evaluation {
  double bce = 0;            // binary cross-entropy per image, summed over its 784 pixels
  double mse = 0;            // squared error per pixel
  double jacobian_norm = 0;  // mean over images of ||∂h/∂x||_F
  double code_mean = 0;      // mean hidden activation: what the sparse one lowers
};

struct Result {
  std::string model;
  Evaluation test;
  double reconstruction_jacobian = 0;  // root mean square of ||∂x̂/∂x||_F
  double seconds = 0;
};

std::vector<std::string> parse_models(const std::string& text) {
  std::vector<std::string> models;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (std::find(all_models.begin(), all_models.end(), item) == all_models.end())
      throw std::invalid_argument("--models: '" + item + "' is not one of plain,denoising,sparse,contractive");
    models.push_back(item);
  }
  if (models.empty()) throw std::invalid_argument("--models: empty list");
  return models;
}

/// The denoising auto-encoder's input: masking noise zeroes each pixel with probability
/// mask_fraction; Gaussian noise adds N(0, noise_std²) to each (not clipped, as Vincent et al.).
tg::Var corrupt(const tg::Var& x, const Settings& s) {
  tg::NoGradGuard no_grad;
  if (s.noise == "masking") return x * (tg::rand<float>(x.shape()) >= float(s.mask_fraction));
  return x + tg::randn<float>(x.shape()) * float(s.noise_std);
}

/// Test reconstruction error and the encoder's Jacobian norm (closed form: the encoder is sigmoid).
Evaluation evaluate(AutoEncoder<float>& model, tg::data::Dataset<float>& data) {
  tg::NoGradGuard no_grad;
  tg::data::DataLoader loader(data, {.batch_size = 1000, .shuffle = false});
  double bce = 0, mse = 0, jacobian = 0, code = 0;
  for (auto& [x, y] : loader) {
    const tg::Var h = model.encode(x), logits = model.decode_logits(h);
    bce += tg::nn::binary_cross_entropy_with_logits(logits, x, {.reduction = tg::nn::Reduction::sum}).item();
    mse += tg::nn::mse_loss(tg::sigmoid(logits), x, {.reduction = tg::nn::Reduction::sum}).item();
    jacobian += tg::sum(tg::sqrt(autoencoders::jacobian_norm_sq_closed_form(h, model.encoder->weight))).item();
    code += tg::sum(h).item();
  }
  const double n = static_cast<double>(data.size());
  const double hidden = static_cast<double>(model.encoder->out_features());
  return {bce / n, mse / (n * Images::image_pixels), jacobian / n, code / (n * hidden)};
}

/// sqrt(mean over images of ||∂x̂/∂x||_F²), by Hutchinson probes through the whole auto-encoder:
/// the lecture's claim about denoising is about this map, not the encoder alone.
double reconstruction_jacobian_rms(AutoEncoder<float>& model, tg::data::Dataset<float>& data, int probes) {
  tg::data::DataLoader loader(data, {.batch_size = 1000, .shuffle = false});
  double sum = 0;
  for (auto& [batch, y] : loader) {
    const tg::Var x(batch.value(), true);
    const tg::Var x_hat = model(x);
    for (int k = 0; k < probes; ++k) {
      const tg::Var r = autoencoders::rademacher<float>(x_hat.shape());
      const tg::Var jt_r = tg::grad({x_hat}, {x}, {r}, {.retain_graph = true})[0];
      sum += tg::sum(jt_r * jt_r).item();
    }
  }
  return std::sqrt(sum / (probes * static_cast<double>(data.size())));
}

/// Row-major images of a [n, 784] array, one std::vector each.
std::vector<std::vector<float>> rows_of(const xt::xarray<float>& a) {
  std::vector<std::vector<float>> rows(a.shape()[0]);
  for (std::size_t i = 0; i < rows.size(); ++i)
    rows[i].assign(a.data() + i * a.shape()[1], a.data() + (i + 1) * a.shape()[1]);
  return rows;
}

/// Rows of ten test images: original, (noisy input,) reconstruction; and the first 50 filters.
void draw(AutoEncoder<float>& model, const std::string& name, const Images& test_set, const Settings& s,
          const std::string& out_dir) {
  tg::NoGradGuard no_grad;
  const std::size_t n = std::min<std::size_t>(10, test_set.size());
  std::vector<std::size_t> first(n);
  for (std::size_t i = 0; i < n; ++i) first[i] = i;
  const tg::Var x = test_set.get_batch(first).inputs;
  const tg::Var input = name == "denoising" ? corrupt(x, s) : x;
  std::vector<std::vector<float>> tiles = rows_of(x.value());
  if (name == "denoising")
    for (auto& row : rows_of(input.value())) tiles.push_back(std::move(row));
  for (auto& row : rows_of(model(input).value())) tiles.push_back(std::move(row));
  examples::write_image_grid(out_dir + "/" + name + "_reconstructions.png", tiles, 28, 28,
                             {.columns = n, .range = std::pair{0.0f, 1.0f}});

  const xt::xarray<float>& w = model.encoder->weight.value();
  auto filters = rows_of(w);
  filters.resize(std::min<std::size_t>(filters.size(), 50));
  examples::write_image_grid(out_dir + "/" + name + "_filters.png", filters, 28, 28, {.columns = 10});
}

Result train(const std::string& name, const Settings& s, Images& train_set, Images& test_set,
             const std::string& out_dir) {
  tg::manual_seed(static_cast<std::uint64_t>(s.seed));  // every model starts from the same weights
  AutoEncoder<float> model(Images::image_pixels, static_cast<std::size_t>(s.hidden));
  tg::optim::Adam<float> optimizer(model.parameters(), {.lr = s.lr});
  tg::data::DataLoader loader(train_set, {.batch_size = static_cast<std::size_t>(s.batch_size), .shuffle = true,
                                          .seed = static_cast<std::uint64_t>(s.seed)});
  examples::CsvWriter csv(out_dir + "/" + name + "_metrics.csv",
                          {"epoch", "train_loss", "test_loss", "test_mse", "jacobian_norm", "code_mean", "seconds"});
  std::cout << "\n== " << name << " ==\n";

  double seconds = 0;
  Evaluation test;
  for (int epoch = 1; epoch <= s.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    examples::ProgressBar bar(name + " " + std::to_string(epoch) + "/" + std::to_string(s.epochs),
                              loader.num_batches());
    double loss_sum = 0;
    std::size_t seen = 0, batches = 0;
    for (auto& [x, y] : loader) {
      const float batch = static_cast<float>(x.shape()[0]);
      // the contractive penalty differentiates h in x, so x must be a leaf that requires grad
      const tg::Var input = name == "denoising"     ? corrupt(x, s)
                            : name == "contractive" ? tg::Var(x.value(), true)
                                                    : x;
      const tg::Var h = model.encode(input);
      // Binary cross-entropy (the pixels are intensities in [0, 1]; sigmoid output + BCE is the
      // Bernoulli likelihood), summed over pixels and averaged over the batch, as the penalties.
      tg::Var loss = tg::nn::binary_cross_entropy_with_logits(model.decode_logits(h), x,
                                                              {.reduction = tg::nn::Reduction::sum}) / batch;
      if (name == "sparse") loss = loss + tg::sum(h) * float(s.lambda_sparse / batch);  // |h| = h: h > 0
      if (name == "contractive")
        loss = loss + autoencoders::contractive_penalty_estimate(h, input, s.probes) *
                          float(s.lambda_contractive / batch);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();

      loss_sum += loss.item() * batch;
      seen += x.shape()[0];
      bar.update(++batches, loss_sum / static_cast<double>(seen), seen);
    }
    const double epoch_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    seconds += epoch_seconds;
    test = evaluate(model, test_set);
    char summary[200];
    std::snprintf(summary, sizeof summary, "train loss %.2f | test BCE %.2f MSE %.4f ||J||_F %.3f | %.1f s",
                  loss_sum / static_cast<double>(seen), test.bce, test.mse, test.jacobian_norm, epoch_seconds);
    bar.finish(summary);
    csv.row({double(epoch), loss_sum / static_cast<double>(seen), test.bce, test.mse, test.jacobian_norm,
             test.code_mean, epoch_seconds});
  }

  const double recon_jacobian = reconstruction_jacobian_rms(model, test_set, 4);
  tg::nn::save(model, out_dir + "/autoencoder_" + name + ".npz");
  examples::plot_metrics(csv.path(), out_dir + "/" + name + "_curves.png", "tapegrad " + name + " auto-encoder");
  draw(model, name, test_set, s, out_dir);
  return {name, test, recon_jacobian, seconds};
}

/// Squared error per pixel of predicting every test image by the mean training image.
double mean_image_mse(const Images& train_set, const Images& test_set) {
  const xt::xarray<float> mean = xt::mean(train_set.images(), {0});
  return xt::mean(xt::square(test_set.images() - mean))();
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed multi-megabyte buffers in the process (see examples/fashion_mnist).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  Settings s;
  std::string models_text = "plain,denoising,sparse,contractive";
  std::string data_dir = tg::data::fashion_mnist_default_root;
  int limit = 0;
  std::string out_dir = "autoencoders_out";
  examples::Flags flags("autoencoders",
                        "Trains four auto-encoders 784-hidden-784 (sigmoid encoder and decoder, untied weights,\n"
                        "binary cross-entropy, Adam) on Fashion-MNIST: plain, denoising, sparse (L1 on the code)\n"
                        "and contractive (the encoder's Jacobian norm, by double backward). Reports the test\n"
                        "reconstruction error and the mean Frobenius norm of the encoder's Jacobian; writes the\n"
                        "models, CSVs and PNGs (curves, reconstructions, filters) into --out.");
  flags.add("epochs", s.epochs, "passes over the training set, per model")
      .add("batch-size", s.batch_size, "examples per gradient step")
      .add("lr", s.lr, "Adam's learning rate")
      .add("hidden", s.hidden, "hidden units (code size)")
      .add("models", models_text, "which to train, comma-separated")
      .add("noise", s.noise, "denoising corruption: masking or gaussian")
      .add("mask-fraction", s.mask_fraction, "masking noise: fraction of pixels set to 0")
      .add("noise-std", s.noise_std, "gaussian noise: standard deviation")
      .add("lambda-sparse", s.lambda_sparse, "weight of the L1 penalty on the code")
      .add("lambda-contractive", s.lambda_contractive, "weight of the squared Frobenius norm of dh/dx")
      .add("probes", s.probes, "Rademacher probes per step for the contractive penalty's estimate")
      .add("seed", s.seed, "seed for initialisation, noise and shuffling")
      .add("data", data_dir, "folder with the IDX files (Debian: dataset-fashion-mnist)")
      .add("limit", limit, "use only the first N training and test images (0: all), for a quick run")
      .add("out", out_dir, "folder for the models (.npz), metrics (.csv) and pictures (.png)");
  flags.parse_or_exit(argc, argv);

  try {
    if (s.epochs < 1 || s.batch_size < 1 || s.hidden < 1 || s.probes < 1 || limit < 0)
      throw std::invalid_argument(
          "--epochs, --batch-size, --hidden and --probes must be positive, --limit not negative");
    if (s.noise != "masking" && s.noise != "gaussian")
      throw std::invalid_argument("--noise: '" + s.noise + "' is not masking or gaussian");
    const auto models = parse_models(models_text);

    Images train_set(data_dir, /*train=*/true, static_cast<std::size_t>(limit), /*normalize=*/false);
    Images test_set(data_dir, /*train=*/false, static_cast<std::size_t>(limit), /*normalize=*/false);
    std::filesystem::create_directories(out_dir);
    const double baseline_mse = mean_image_mse(train_set, test_set);
    std::cout << "Fashion-MNIST in [0, 1]: " << train_set.size() << " training and " << test_set.size()
              << " test images; auto-encoders 784-" << s.hidden << "-784, Adam lr " << s.lr << ", batch "
              << s.batch_size << ", " << s.epochs << " epochs, seed " << s.seed << "\n"
              << "denoising: " << (s.noise == "masking" ? "masking " + std::to_string(s.mask_fraction)
                                                        : "gaussian std " + std::to_string(s.noise_std))
              << "; sparse: lambda " << s.lambda_sparse << "; contractive: lambda " << s.lambda_contractive << ", "
              << s.probes << " probe(s)\n";

    std::vector<Result> results;
    for (const auto& name : models) results.push_back(train(name, s, train_set, test_set, out_dir));

    std::printf("\n| model | test BCE per image | test MSE per pixel | mean ‖∂h/∂x‖_F | RMS ‖∂x̂/∂x‖_F | mean h "
                "| train time |\n|---|---|---|---|---|---|---|\n");
    for (const auto& r : results)
      std::printf("| %s | %.2f | %.4f | %.3f | %.2f | %.3f | %.0f s |\n", r.model.c_str(), r.test.bce, r.test.mse,
                  r.test.jacobian_norm, r.reconstruction_jacobian, r.test.code_mean, r.seconds);
    std::printf("| mean training image | | %.4f | | | | |\n", baseline_mse);
    std::cout << "models, metrics and pictures in " << out_dir << "\n";

    // The exit status a smoke run checks: every model reconstructs better than the mean image.
    for (const auto& r : results)
      if (!(r.test.mse < baseline_mse)) {
        std::fprintf(stderr, "%s: test MSE %.4f is not below the mean image's %.4f\n", r.model.c_str(), r.test.mse,
                     baseline_mse);
        return 1;
      }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "autoencoders: %s\n", e.what());
    return 1;
  }
}
