#pragma once
// Fashion-MNIST (Zalando): 28x28 grey images of clothing in 10 classes, 60000 for training
// and 10000 for testing, read from the four IDX files as distributed (gzipped or not).
#include <cstddef>
#include <string>
#include <vector>

#include "loader.hpp"

namespace tg::data {

/// Where Debian's dataset-fashion-mnist package puts the files (scripts/setup installs it).
inline constexpr const char* fashion_mnist_default_root = "/usr/share/datasets/fashion-mnist";

template <class T = float>
class FashionMNIST final : public Dataset<T> {
 public:
  /// Pixel mean and standard deviation of the 60000 training images scaled to [0, 1]
  /// (0.28604 and 0.35302 measured over all 47M pixels). Test images are normalised with
  /// the same numbers, as they must be: the model only ever sees training statistics.
  static constexpr double mean = 0.2860;
  static constexpr double stddev = 0.3530;
  static constexpr std::size_t image_side = 28;
  static constexpr std::size_t image_pixels = image_side * image_side;
  static constexpr std::size_t num_classes = 10;

  /// Reads <root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]: the first `limit`
  /// examples (0 = all). Images become x = (pixel / 255 - mean) / stddev, or pixel / 255
  /// in [0, 1] with normalize = false. Throws tg::Error naming the file when one is
  /// missing, corrupt, or when images and labels disagree.
  explicit FashionMNIST(std::string root = fashion_mnist_default_root, bool train = true, std::size_t limit = 0,
                        bool normalize = true);

  std::size_t size() const override { return data_.size(); }
  /// Images [B, 784] (row-major 28x28) and labels [B].
  Batch<T> get_batch(std::span<const std::size_t> indices) const override { return data_.get_batch(indices); }
  /// Image i [784] and its label.
  Example<T> get(std::size_t i) const { return data_.get(i); }

  /// Every image, [N, 784].
  const xt::xarray<T>& images() const { return data_.inputs(); }
  /// Every label, [N], each in 0..9.
  const IndexArray& labels() const { return data_.targets(); }
  bool train() const { return train_; }
  bool normalized() const { return normalize_; }

  /// "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
  /// "Bag", "Ankle boot": the name of label k is class_names()[k].
  static const std::vector<std::string>& class_names();

 private:
  bool train_;
  bool normalize_;
  TensorDataset<T> data_;
};

extern template class FashionMNIST<float>;
extern template class FashionMNIST<double>;

}  // namespace tg::data
