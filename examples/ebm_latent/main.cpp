// Sparse coding on Fashion-MNIST: an energy-based model with a latent variable Z, in the four
// parts of LeCun's recipe (sparse_coding.hpp holds the pieces; the tests check them):
//
//   architecture   E(W, Y, Z) = ‖Y − W Z‖² + λ‖Z‖₁     W [784, k]: a dictionary of k unit-norm atoms
//   inference      Ž = argmin_z E(W, Y, z)             FISTA: a gradient step on ‖Y − W Z‖² (tg::grad),
//                                                      then the soft threshold, which gives exact zeros
//   loss           the energy loss E(W, Y, Ž)          Ž held fixed
//   optimizer      Adam on W, then every atom rescaled to unit norm
//
// The energy loss cannot collapse here, although it pushes nothing up: with unit-norm atoms and
// the L1 price on Z, no W makes E small for every Y (k atoms cannot reconstruct 784-dimensional
// images cheaply unless the images lie near their span), so lowering E on the data shapes W.
//
// Then decision making with latent variables: one dictionary W_y per class, trained the same
// way on that class's images, and y* = argmin_y min_z E(W_y, X, z): the class whose atoms
// explain the image most cheaply.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>

#include <tapegrad/tapegrad.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xview.hpp>

#include "../common/confusion.hpp"
#include "../common/flags.hpp"
#include "../common/image_grid.hpp"
#include "../common/metrics_csv.hpp"
#include "../common/plot.hpp"
#include "../common/progress.hpp"
#include "sparse_coding.hpp"

namespace {

using tg::Var;
namespace sc = sparse_coding;

std::vector<std::size_t> parse_classes(const std::string& text) {
  std::vector<std::size_t> classes;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    std::size_t used = 0;
    const long v = std::stol(item, &used);
    if (used != item.size() || v < 0 || v > 9) throw std::invalid_argument("--classes: '" + text + "' is not a list like 0,1,7");
    if (std::find(classes.begin(), classes.end(), std::size_t(v)) != classes.end())
      throw std::invalid_argument("--classes: " + item + " is listed twice");
    classes.push_back(static_cast<std::size_t>(v));
  }
  if (classes.size() < 2) throw std::invalid_argument("--classes: need at least two classes to choose between");
  return classes;
}

/// The rows of images whose label is in `classes` (at most `per_class` of each; 0: all), with the
/// label replaced by its position in `classes`.
std::pair<xt::xarray<float>, tg::IndexArray> select(const tg::data::FashionMNIST<float>& data,
                                                    const std::vector<std::size_t>& classes, std::size_t per_class) {
  std::vector<std::size_t> rows, taken(classes.size(), 0);
  std::vector<std::int64_t> labels;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto c = std::find(classes.begin(), classes.end(), static_cast<std::size_t>(data.labels()(i)));
    if (c == classes.end()) continue;
    const auto k = static_cast<std::size_t>(c - classes.begin());
    if (per_class && taken[k] == per_class) continue;
    ++taken[k];
    rows.push_back(i);
    labels.push_back(static_cast<std::int64_t>(k));
  }
  xt::xarray<float> x = xt::view(data.images(), xt::keep(rows), xt::all());
  tg::IndexArray y = xt::adapt(labels, std::vector<std::size_t>{labels.size()});
  return {std::move(x), std::move(y)};
}

/// A dictionary and its optimizer. The atoms start as k random training images, or as random
/// directions (N(0, 1) pixels); either way rescaled to unit norm.
struct Dictionary {
  Var w;
  std::unique_ptr<tg::optim::Adam<float>> optimizer;

  Dictionary(const xt::xarray<float>& images, std::size_t atoms, bool from_images, double lr, std::mt19937_64& rng) {
    if (from_images) {
      std::vector<std::size_t> rows(images.shape()[0]);
      std::iota(rows.begin(), rows.end(), std::size_t{0});
      std::shuffle(rows.begin(), rows.end(), rng);
      rows.resize(std::min(atoms, rows.size()));
      w = Var(xt::xarray<float>(xt::transpose(xt::view(images, xt::keep(rows), xt::all()))), true);
    } else {
      w = tg::randn<float>({images.shape()[1], atoms}, true);
    }
    sc::normalize_columns(w);
    optimizer = std::make_unique<tg::optim::Adam<float>>(std::vector<Var>{w}, tg::optim::AdamOptions{.lr = lr});
  }

  /// One pass of the energy loss over the images: infer Ž with W fixed, step W, renormalise.
  /// Returns the mean energy at Ž over the pass.
  double train_epoch(tg::data::DataLoader<float>& loader, double lambda, const sc::IstaOptions& ista,
                     examples::ProgressBar* bar, std::size_t& batches, std::size_t& seen, double& energy_sum) {
    double sum = 0;
    std::size_t n = 0;
    for (auto& [x, labels] : loader) {
      const sc::SparseCode<float> code = sc::ista(w, x, lambda, ista);  // inference: W fixed
      Var loss = tg::mean(sc::energy(w, x, code.z, lambda));           // energy loss: Ž fixed
      optimizer->zero_grad();
      loss.backward();
      optimizer->step();
      sc::normalize_columns(w);
      sum += static_cast<double>(loss.item()) * static_cast<double>(labels.size());
      n += labels.size();
      energy_sum += static_cast<double>(loss.item()) * static_cast<double>(labels.size());
      seen += labels.size();
      if (bar) bar->update(++batches, energy_sum / static_cast<double>(seen), seen);
    }
    return sum / static_cast<double>(n);
  }
};

/// Ž for every row of images, in chunks, without recording: per-sample energies and the codes.
struct Inference {
  xt::xarray<float> energy;  // [N]
  sc::Sparsity sparsity;
};
Inference infer(const Var& w, const xt::xarray<float>& images, double lambda, const sc::IstaOptions& ista) {
  tg::NoGradGuard no_grad;
  const std::size_t n = images.shape()[0], chunk = 1000;
  Inference result{xt::zeros<float>({n}), {}};
  double zeros = 0, nonzeros = 0;
  for (std::size_t a = 0; a < n; a += chunk) {
    const std::size_t b = std::min(n, a + chunk);
    const sc::SparseCode<float> code = sc::ista(w, Var(xt::xarray<float>(xt::view(images, xt::range(a, b), xt::all()))), lambda, ista);
    xt::view(result.energy, xt::range(a, b)) = code.energy.value();
    const sc::Sparsity s = sc::sparsity(code.z);
    zeros += s.zero_fraction * static_cast<double>(code.z.numel());
    nonzeros += s.mean_l0 * static_cast<double>(b - a);
  }
  result.sparsity = {zeros / static_cast<double>(n * w.shape()[1]), nonzeros / static_cast<double>(n)};
  return result;
}

/// y* = argmin_y min_z E(W_y, X, z) for every test image: one inference per class dictionary.
tg::IndexArray classify(const std::vector<Dictionary>& dictionaries, const xt::xarray<float>& images, double lambda,
                        const sc::IstaOptions& ista) {
  xt::xarray<float> energies = xt::zeros<float>({images.shape()[0], dictionaries.size()});
  for (std::size_t c = 0; c < dictionaries.size(); ++c)
    xt::view(energies, xt::all(), c) = infer(dictionaries[c].w, images, lambda, ista).energy;
  return tg::energy::predict(Var(std::move(energies)));
}

double accuracy(const tg::IndexArray& predicted, const tg::IndexArray& labels) {
  std::size_t correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted(i) == labels(i);
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

/// The atoms (columns of W) as 28x28 images.
std::vector<std::vector<float>> atoms(const Var& w) {
  std::vector<std::vector<float>> tiles;
  for (std::size_t j = 0; j < w.shape()[1]; ++j) {
    xt::xarray<float> column = xt::view(w.value(), xt::all(), j);
    tiles.emplace_back(column.begin(), column.end());
  }
  return tiles;
}

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);  // reuse freed buffers instead of page-faulting them in again
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  int epochs = 5;
  int atoms_count = 64;
  double lambda = 1.0;
  double lr = 1e-2;
  int batch_size = 100;
  int train_size = 10000;
  int test_size = 2000;
  int ista_steps = 100;
  double ista_tolerance = 1e-3;
  std::string classes_text = "0,1,2,3,4,5,6,7,8,9";
  int class_atoms = 16;
  int class_train_size = 1000;
  int class_test_size = 200;
  std::string init = "random";
  int seed = 1;
  std::string data_dir = tg::data::fashion_mnist_default_root;
  std::string out_dir = "ebm_latent_out";
  examples::Flags flags(
      "ebm_latent",
      "Sparse coding E(W, Y, Z) = |Y - W Z|^2 + lambda |Z|_1 on Fashion-MNIST images (pixels in [0, 1]):\n"
      "infers the latent code Z by FISTA (gradient step + soft threshold), learns the dictionary W\n"
      "with the energy loss, and reports the test energy and the sparsity of the codes per epoch.\n"
      "Then classifies by the lowest min_z E(W_y, X, z) over one dictionary per class. Writes\n"
      "metrics.csv, curves.png, dictionary.png and class_dictionaries.png into --out.");
  flags.add("epochs", epochs, "passes over the training images (the class dictionaries too)")
      .add("atoms", atoms_count, "atoms k of the dictionary learned on all classes")
      .add("lambda", lambda, "weight of the L1 term lambda |Z|_1")
      .add("lr", lr, "Adam's learning rate for W")
      .add("batch-size", batch_size, "images per step of W")
      .add("train-size", train_size, "training images for the dictionary (the first N)")
      .add("test-size", test_size, "test images for the energy and sparsity (the first N)")
      .add("ista-steps", ista_steps, "FISTA steps per inference, at most")
      .add("ista-tolerance", ista_tolerance, "stop inference when no code moves more than this in a step")
      .add("classes", classes_text, "classes for the classification variant, comma-separated (0-9)")
      .add("class-atoms", class_atoms, "atoms per class dictionary")
      .add("class-train-size", class_train_size, "training images per class")
      .add("class-test-size", class_test_size, "test images per class")
      .add("init", init, "initial atoms: random (N(0, 1) directions) or images (random training images)")
      .add("seed", seed, "seed for the initial atoms and the shuffling")
      .add("data", data_dir, "folder with the IDX files (Debian: dataset-fashion-mnist)")
      .add("out", out_dir, "folder for metrics.csv and the pictures");
  flags.parse_or_exit(argc, argv);

  try {
    if (epochs < 1 || atoms_count < 1 || batch_size < 1 || train_size < 1 || test_size < 1 || ista_steps < 1 ||
        class_atoms < 1 || class_train_size < 1 || class_test_size < 1)
      throw std::invalid_argument("--epochs, --atoms, --batch-size, the sizes and --ista-steps must be positive");
    if (lambda < 0 || lr <= 0) throw std::invalid_argument("--lambda must be >= 0 and --lr > 0");
    if (init != "random" && init != "images") throw std::invalid_argument("--init: '" + init + "' is neither random nor images");
    const std::vector<std::size_t> classes = parse_classes(classes_text);
    tg::manual_seed(static_cast<std::uint64_t>(seed));
    const sc::IstaOptions ista{.max_steps = static_cast<std::size_t>(ista_steps), .tolerance = ista_tolerance};
    const auto start = std::chrono::steady_clock::now();
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));

    // data: pixels in [0, 1], so an all-black image costs nothing to explain
    tg::data::FashionMNIST<float> train_set(data_dir, /*train=*/true, 0, /*normalize=*/false);
    tg::data::FashionMNIST<float> test_set(data_dir, /*train=*/false, 0, /*normalize=*/false);
    const std::size_t n_train = std::min<std::size_t>(train_size, train_set.size());
    const std::size_t n_test = std::min<std::size_t>(test_size, test_set.size());
    const xt::xarray<float> train_x = xt::view(train_set.images(), xt::range(0, n_train), xt::all());
    const tg::IndexArray train_y = xt::view(train_set.labels(), xt::range(0, n_train));
    const xt::xarray<float> test_x = xt::view(test_set.images(), xt::range(0, n_test), xt::all());
    tg::data::TensorDataset<float> train_data(train_x, train_y);
    tg::data::DataLoader loader(train_data, {.batch_size = static_cast<std::size_t>(batch_size), .shuffle = true,
                                             .seed = static_cast<std::uint64_t>(seed)});
    Dictionary dictionary(train_x, static_cast<std::size_t>(atoms_count), init == "images", lr, rng);

    // the classification variant: a dictionary per class, from that class's images only
    auto [class_test_x, class_test_y] = select(test_set, classes, static_cast<std::size_t>(class_test_size));
    auto [class_train_x, class_train_y] = select(train_set, classes, static_cast<std::size_t>(class_train_size));
    std::vector<std::unique_ptr<tg::data::TensorDataset<float>>> class_data;
    std::vector<tg::data::DataLoader<float>> class_loaders;
    std::vector<Dictionary> class_dictionaries;
    std::vector<std::string> class_names;
    for (std::size_t c = 0; c < classes.size(); ++c) {
      std::vector<std::size_t> rows;
      for (std::size_t i = 0; i < class_train_y.size(); ++i)
        if (class_train_y(i) == static_cast<std::int64_t>(c)) rows.push_back(i);
      xt::xarray<float> x = xt::view(class_train_x, xt::keep(rows), xt::all());
      tg::IndexArray y = xt::view(class_train_y, xt::keep(rows));
      class_dictionaries.emplace_back(x, static_cast<std::size_t>(class_atoms), init == "images", lr, rng);
      class_data.push_back(std::make_unique<tg::data::TensorDataset<float>>(std::move(x), std::move(y)));
      class_loaders.emplace_back(*class_data.back(), tg::data::LoaderOptions{
                                                         .batch_size = static_cast<std::size_t>(batch_size),
                                                         .shuffle = true, .seed = static_cast<std::uint64_t>(seed + 1 + c)});
      class_names.push_back(tg::data::FashionMNIST<float>::class_names()[classes[c]]);
    }
    std::size_t class_batches = 0;
    for (auto& l : class_loaders) class_batches += l.num_batches();

    std::printf("sparse coding: %zu training and %zu test images (28x28, pixels in [0, 1]), %d atoms, lambda %g,\n"
                "FISTA up to %d steps (tolerance %g), Adam lr %g on W, batches of %d, seed %d\n"
                "classification: %zu classes, %d atoms and %d training images each, %zu test images\n\n",
                static_cast<std::size_t>(train_x.shape()[0]), static_cast<std::size_t>(test_x.shape()[0]), atoms_count,
                lambda, ista_steps, ista_tolerance, lr, batch_size, seed, classes.size(), class_atoms,
                class_train_size, static_cast<std::size_t>(class_test_y.size()));

    std::filesystem::create_directories(out_dir);
    examples::CsvWriter csv(out_dir + "/metrics.csv", {"epoch", "train_energy_loss", "test_energy_loss",
                                                       "test_zero_fraction", "test_mean_l0", "class_test_accuracy",
                                                       "seconds"});
    // epoch 0: the initial atoms, before any step of W
    const Inference initial = infer(dictionary.w, test_x, lambda, ista);
    const double initial_energy = xt::mean(initial.energy)();
    double initial_accuracy = accuracy(classify(class_dictionaries, class_test_x, lambda, ista), class_test_y);
    std::printf("epoch 0 (initial atoms): test energy %.3f, zeros %.1f%%, mean |z|_0 %.1f of %d | class accuracy %.4f\n",
                initial_energy, 100 * initial.sparsity.zero_fraction, initial.sparsity.mean_l0, atoms_count,
                initial_accuracy);
    csv.row({0, std::nan(""), initial_energy, initial.sparsity.zero_fraction, initial.sparsity.mean_l0, initial_accuracy,
             0});

    double test_energy = initial_energy, class_accuracy = initial_accuracy;
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      const auto epoch_start = std::chrono::steady_clock::now();
      examples::ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(epochs),
                                loader.num_batches() + class_batches);
      std::size_t batches = 0, seen = 0;
      double energy_sum = 0;
      const double train_energy = dictionary.train_epoch(loader, lambda, ista, &bar, batches, seen, energy_sum);
      for (std::size_t c = 0; c < classes.size(); ++c)
        class_dictionaries[c].train_epoch(class_loaders[c], lambda, ista, &bar, batches, seen, energy_sum);

      const Inference test = infer(dictionary.w, test_x, lambda, ista);
      test_energy = xt::mean(test.energy)();
      class_accuracy = accuracy(classify(class_dictionaries, class_test_x, lambda, ista), class_test_y);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      char summary[240];
      std::snprintf(summary, sizeof summary,
                    "train energy %.3f | test energy %.3f, zeros %.1f%%, mean |z|_0 %.1f | class accuracy %.4f | %.1f s",
                    train_energy, test_energy, 100 * test.sparsity.zero_fraction, test.sparsity.mean_l0, class_accuracy,
                    seconds);
      bar.finish(summary);
      csv.row({double(epoch), train_energy, test_energy, test.sparsity.zero_fraction, test.sparsity.mean_l0,
               class_accuracy, seconds});
    }

    // apply: the classes, one by one
    examples::ConfusionMatrix confusion(class_names);
    confusion.add(class_test_y, classify(class_dictionaries, class_test_x, lambda, ista));
    std::cout << "\nclassification by the lowest min_z E(W_y, X, z):\n";
    confusion.print(std::cout);
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("\ntest energy %.3f -> %.3f; class accuracy %.4f (chance %.4f); %.0f s in all\n", initial_energy,
                test_energy, class_accuracy, 1.0 / static_cast<double>(classes.size()), total);

    std::cout << "metrics in " << csv.path() << "\n";
    if (examples::plot_metrics(csv.path(), out_dir + "/curves.png", "sparse coding on Fashion-MNIST"))
      std::cout << "curves plotted in " << out_dir << "/curves.png\n";
    if (examples::write_image_grid(out_dir + "/dictionary.png", atoms(dictionary.w), 28, 28, {.columns = 16}))
      std::cout << "dictionary drawn in " << out_dir << "/dictionary.png\n";
    std::vector<std::vector<float>> class_tiles;  // one row per class
    for (const auto& d : class_dictionaries)
      for (auto& tile : atoms(d.w)) class_tiles.push_back(std::move(tile));
    if (examples::write_image_grid(out_dir + "/class_dictionaries.png", class_tiles, 28, 28,
                                   {.columns = static_cast<std::size_t>(class_atoms)}))
      std::cout << "class dictionaries drawn in " << out_dir << "/class_dictionaries.png (a row per class)\n";

    // exit status for the smoke test: the energy loss lowered the test energy and the class
    // dictionaries beat chance
    if (!(test_energy < initial_energy) || !(class_accuracy > 1.0 / static_cast<double>(classes.size()))) {
      std::fprintf(stderr, "ebm_latent: did not learn: test energy %.4f -> %.4f, class accuracy %.4f\n",
                   initial_energy, test_energy, class_accuracy);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ebm_latent: %s\n", e.what());
    return 1;
  }
}
