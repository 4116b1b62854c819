// Fashion-MNIST: the four IDX files, checked against each other, turned into a TensorDataset.
#include "fashion_mnist.hpp"

#include <algorithm>
#include <array>
#include <filesystem>

#include "idx.hpp"

namespace tg::data {

namespace {

constexpr const char* op = "FashionMNIST";

/// <root>/<stem>.gz as distributed, else the uncompressed <root>/<stem>.
std::string find_file(const std::string& root, const std::string& stem) {
  namespace fs = std::filesystem;
  std::error_code ec;
  TG_CHECK(fs::is_directory(root, ec), op,
           "no folder " + root + " (install Debian's dataset-fashion-mnist, or pass the folder holding the IDX files)");
  for (const auto& name : {stem + ".gz", stem}) {
    const auto path = (fs::path(root) / name).string();
    if (fs::exists(path, ec)) return path;
  }
  throw Error(std::string(op) + ": no " + stem + " or " + stem + ".gz in " + root);
}

template <class T>
TensorDataset<T> load(const std::string& root, bool train, std::size_t limit, bool normalize) {
  const std::string prefix = train ? "train" : "t10k";
  const auto image_path = find_file(root, prefix + "-images-idx3-ubyte");
  const auto label_path = find_file(root, prefix + "-labels-idx1-ubyte");
  const IdxArray images = read_idx(image_path);
  const IdxArray labels = read_idx(label_path);

  constexpr std::size_t side = FashionMNIST<T>::image_side;
  TG_CHECK(images.dims.size() == 3 && images.dims[1] == side && images.dims[2] == side, op,
           image_path + ": images have dimensions " + shape_str(images.dims) + ", expected [N,28,28]");
  TG_CHECK(labels.dims.size() == 1, op,
           label_path + ": labels have dimensions " + shape_str(labels.dims) + ", expected [N]");
  TG_CHECK(images.dims[0] == labels.dims[0], op,
           image_path + " holds " + std::to_string(images.dims[0]) + " images but " + label_path + " holds " +
               std::to_string(labels.dims[0]) + " labels");

  const std::size_t n = limit == 0 ? images.dims[0] : std::min(limit, images.dims[0]);
  constexpr std::size_t pixels = FashionMNIST<T>::image_pixels;

  // 256 possible bytes: map each through one table, so every pixel costs one load.
  std::array<T, 256> table;
  for (std::size_t b = 0; b < 256; ++b) {
    const double x = static_cast<double>(b) / 255.0;
    table[b] = static_cast<T>(normalize ? (x - FashionMNIST<T>::mean) / FashionMNIST<T>::stddev : x);
  }
  xt::xarray<T> x(Shape{n, pixels});
  std::transform(images.data.begin(), images.data.begin() + static_cast<std::ptrdiff_t>(n * pixels), x.data(),
                 [&](std::uint8_t b) { return table[b]; });

  IndexArray y(Shape{n});
  for (std::size_t i = 0; i < n; ++i) {
    const auto label = labels.data[i];
    TG_CHECK(label < FashionMNIST<T>::num_classes, op,
             label_path + ": label " + std::to_string(label) + " at index " + std::to_string(i) + " is outside 0..9");
    y(i) = label;
  }
  return TensorDataset<T>(std::move(x), std::move(y));
}

}  // namespace

template <class T>
FashionMNIST<T>::FashionMNIST(std::string root, bool train, std::size_t limit, bool normalize)
    : train_(train), normalize_(normalize), data_(load<T>(root, train, limit, normalize)) {}

template <class T>
const std::vector<std::string>& FashionMNIST<T>::class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

template class FashionMNIST<float>;
template class FashionMNIST<double>;

}  // namespace tg::data
