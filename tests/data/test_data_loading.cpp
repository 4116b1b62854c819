// nn/data: IDX files (plain and gzipped, corrupted), Fashion-MNIST, TensorDataset, DataLoader.
#include "testing.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <set>
#include <unistd.h>

using namespace tg;
using namespace tg::data;
using tg::testing::check_error;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

/// A fresh folder under the system's temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("tapegrad_test_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

/// An IDX file's bytes: magic (0, 0, type, rank), big-endian dims, then data.
Bytes idx_bytes(const std::vector<std::uint32_t>& dims, const Bytes& data, std::uint8_t type = 0x08) {
  Bytes out = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (auto d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(d >> shift));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_plain(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

Bytes read_plain(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

Bytes iota_bytes(std::size_t n, std::uint8_t start = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(start + 7 * i);
  return b;
}

}  // namespace

// ---- IDX --------------------------------------------------------------------------------------

TEST_CASE("read_idx reads a plain IDX file") {
  TempDir dir;
  const Bytes data = iota_bytes(6);
  write_plain(dir.file("a.idx"), idx_bytes({2, 3}, data));
  const auto a = read_idx(dir.file("a.idx"));
  CHECK(a.dims == std::vector<std::size_t>{2, 3});
  CHECK(a.numel() == 6);
  CHECK(a.data == data);
}

TEST_CASE("read_idx reads a gzipped IDX file, large dimensions included") {
  TempDir dir;
  // 300 x 256 x 3: dimensions above 255 check the big-endian decoding of every byte.
  const Bytes data = iota_bytes(300 * 256 * 3, 5);
  write_gz(dir.file("b.idx.gz"), idx_bytes({300, 256, 3}, data));
  const auto b = read_idx(dir.file("b.idx.gz"));
  CHECK(b.dims == std::vector<std::size_t>{300, 256, 3});
  CHECK(b.data == data);

  // A rank-1 labels file, and a file with a zero dimension (no data at all).
  write_gz(dir.file("labels.gz"), idx_bytes({5}, {9, 0, 0, 3, 0}));
  CHECK(read_idx(dir.file("labels.gz")).data == Bytes{9, 0, 0, 3, 0});
  write_plain(dir.file("empty.idx"), idx_bytes({0, 28, 28}, {}));
  const auto e = read_idx(dir.file("empty.idx"));
  CHECK(e.dims == std::vector<std::size_t>{0, 28, 28});
  CHECK(e.data.empty());
}

TEST_CASE("read_idx: a missing file, a folder, an empty file") {
  TempDir dir;
  check_error([&] { read_idx(dir.file("nope.gz")); }, {"read_idx: ", "nope.gz", "no such file"});
  check_error([&] { read_idx(dir.path.string()); }, {"read_idx: ", "is a directory"});
  write_plain(dir.file("empty"), {});
  check_error([&] { read_idx(dir.file("empty")); },
              {"read_idx: ", "empty", "truncated header: expected a 4-byte magic number, got 0 bytes"});
}

TEST_CASE("read_idx: a bad magic number is quoted byte by byte") {
  TempDir dir;
  write_plain(dir.file("bad.idx"), {0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 7});
  check_error([&] { read_idx(dir.file("bad.idx")); }, {"read_idx: ", "bad.idx", "bad magic number 0x12 0x34 0x08 0x01"});
  // A gzipped text file decompresses fine but is no IDX file.
  const std::string text = "hello, world";
  write_gz(dir.file("text.gz"), Bytes(text.begin(), text.end()));
  check_error([&] { read_idx(dir.file("text.gz")); }, {"text.gz", "bad magic number 0x68 0x65 0x6c 0x6c"});
  // Rank 0 is no IDX file either.
  write_plain(dir.file("rank0"), {0, 0, 0x08, 0});
  check_error([&] { read_idx(dir.file("rank0")); }, {"rank0", "bad rank 0"});
}

TEST_CASE("read_idx: dimensions whose product overflows are an error, not a small allocation") {
  TempDir dir;
  // 2^32-1 cubed is ~2^96 elements: wrapped, it would pass the size check with a few bytes
  write_plain(dir.file("huge.idx"), idx_bytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, iota_bytes(8)));
  check_error([&] { read_idx(dir.file("huge.idx")); },
              {"read_idx: ", "huge.idx", "[4294967295,4294967295,4294967295]", "overflow the element count"});
}

TEST_CASE("read_idx: an element type other than unsigned byte") {
  TempDir dir;
  write_plain(dir.file("float.idx"), idx_bytes({1}, {0, 0, 0x80, 0x3f}, 0x0d));
  check_error([&] { read_idx(dir.file("float.idx")); },
              {"float.idx", "unsupported type code 0x0d (float32)", "only 0x08 (unsigned byte)"});
}

TEST_CASE("read_idx: truncated header or data, plain and gzipped") {
  TempDir dir;
  // Rank 3 announces 12 bytes of dimensions; only 5 follow.
  write_plain(dir.file("head"), {0, 0, 0x08, 3, 0, 0, 0, 2, 0});
  check_error([&] { read_idx(dir.file("head")); }, {"truncated header: expected 12 bytes of dimensions, got 5"});

  const Bytes full = idx_bytes({2, 3}, iota_bytes(6));
  const Bytes cut(full.begin(), full.end() - 2);
  write_plain(dir.file("short.idx"), cut);
  check_error([&] { read_idx(dir.file("short.idx")); },
              {"read_idx: ", "short.idx", "truncated data: expected 6 bytes for dimensions [2,3], got 4"});
  write_gz(dir.file("short.idx.gz"), cut);
  check_error([&] { read_idx(dir.file("short.idx.gz")); }, {"short.idx.gz", "expected 6 bytes", "got 4"});

  // A gzip stream itself cut short: zlib sees an unexpected end of file, which reads as
  // truncated data with however many bytes did come out.
  const Bytes big = idx_bytes({100, 1000}, iota_bytes(100000));
  write_gz(dir.file("cut.gz"), big);
  Bytes gz = read_plain(dir.file("cut.gz"));
  gz.resize(gz.size() / 2);
  write_plain(dir.file("cut.gz"), gz);
  check_error([&] { read_idx(dir.file("cut.gz")); }, {"cut.gz", "truncated data: expected 100000 bytes", "got "});
}

TEST_CASE("read_idx: bytes after the data and a corrupt gzip checksum") {
  TempDir dir;
  Bytes extra = idx_bytes({2}, {1, 2});
  extra.push_back(3);
  write_plain(dir.file("extra"), extra);
  check_error([&] { read_idx(dir.file("extra")); }, {"unexpected bytes after the 2 bytes of data", "[2]"});

  write_gz(dir.file("crc.gz"), idx_bytes({4}, {1, 2, 3, 4}));
  Bytes gz = read_plain(dir.file("crc.gz"));
  gz[gz.size() - 8] ^= 0xff;  // the CRC-32 of the uncompressed data starts 8 bytes from the end
  write_plain(dir.file("crc.gz"), gz);
  check_error([&] { read_idx(dir.file("crc.gz")); }, {"crc.gz", "corrupt compressed data (zlib: incorrect data check)"});
}

// ---- Fashion-MNIST on a small fake copy ----------------------------------------------------------

namespace {
/// A Fashion-MNIST folder of n images whose pixel p of image i is (i + p) % 256.
void write_fake_fashion(const TempDir& dir, const std::string& prefix, std::uint32_t n, const Bytes& labels,
                        bool gz = true) {
  Bytes pixels(std::size_t{n} * 784);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < 784; ++p) pixels[i * 784 + p] = static_cast<std::uint8_t>((i + p) % 256);
  auto write = gz ? write_gz : write_plain;
  const std::string ext = gz ? ".gz" : "";
  write(dir.file(prefix + "-images-idx3-ubyte" + ext), idx_bytes({n, 28, 28}, pixels));
  write(dir.file(prefix + "-labels-idx1-ubyte" + ext), idx_bytes({static_cast<std::uint32_t>(labels.size())}, labels));
}
}  // namespace

TEST_CASE("FashionMNIST on a small fake copy: scaling, normalisation, limit, get") {
  TempDir dir;
  write_fake_fashion(dir, "train", 4, {9, 0, 3, 2});
  write_fake_fashion(dir, "t10k", 3, {1, 1, 8}, /*gz=*/false);  // uncompressed files are found too

  FashionMNIST<double> raw(dir.path.string(), true, 0, /*normalize=*/false);
  REQUIRE(raw.size() == 4);
  CHECK(raw.images().shape() == Shape{4, 784});
  CHECK(raw.labels() == IndexArray{9, 0, 3, 2});
  CHECK(raw.images()(2, 5) == doctest::Approx(7.0 / 255));
  CHECK(raw.images()(1, 254) == doctest::Approx(1.0));
  CHECK_FALSE(raw.normalized());

  FashionMNIST<float> norm(dir.path.string());
  CHECK(norm.train());
  CHECK(norm.images()(2, 5) == doctest::Approx((7.0 / 255 - 0.2860) / 0.3530).epsilon(1e-6));

  auto ex = norm.get(3);
  CHECK(ex.target == 2);
  CHECK(ex.input.shape() == Shape{784});
  CHECK(ex.input(0) == norm.images()(3, 0));

  FashionMNIST<float> test(dir.path.string(), false, /*limit=*/2);
  CHECK_FALSE(test.train());
  CHECK(test.size() == 2);
  CHECK(test.labels() == IndexArray{1, 1});
  CHECK(FashionMNIST<float>(dir.path.string(), false, 100).size() == 3);  // limit beyond N: all

  const std::size_t rows[] = {3, 0};
  auto batch = norm.get_batch(rows);
  CHECK(batch.inputs.shape() == Shape{2, 784});
  CHECK(batch.targets == IndexArray{2, 9});
  CHECK_FALSE(batch.inputs.requires_grad());
}

TEST_CASE("FashionMNIST: missing folder or files, disagreeing counts, bad labels and shapes") {
  TempDir dir;
  check_error([&] { FashionMNIST<float>(dir.file("absent")); },
              {"FashionMNIST: ", "no folder", "absent", "dataset-fashion-mnist"});
  check_error([&] { FashionMNIST<float>(dir.path.string()); },
              {"FashionMNIST: ", "no train-images-idx3-ubyte or train-images-idx3-ubyte.gz in"});

  write_fake_fashion(dir, "train", 3, {1, 2});
  check_error([&] { FashionMNIST<float>(dir.path.string()); },
              {"FashionMNIST: ", "holds 3 images but", "train-labels-idx1-ubyte.gz holds 2 labels"});

  write_fake_fashion(dir, "train", 3, {1, 10, 2});
  check_error([&] { FashionMNIST<float>(dir.path.string()); }, {"label 10 at index 1 is outside 0..9"});

  write_gz(dir.file("train-images-idx3-ubyte.gz"), idx_bytes({3, 28, 27}, Bytes(3 * 28 * 27)));
  check_error([&] { FashionMNIST<float>(dir.path.string()); }, {"images have dimensions [3,28,27], expected [N,28,28]"});

  // A corrupt file inside the folder: read_idx's message comes through.
  write_gz(dir.file("t10k-images-idx3-ubyte.gz"), {1, 2, 3, 4});
  write_gz(dir.file("t10k-labels-idx1-ubyte.gz"), idx_bytes({1}, {0}));
  check_error([&] { FashionMNIST<float>(dir.path.string(), false); },
              {"read_idx: ", "t10k-images-idx3-ubyte.gz", "bad magic number 0x01 0x02 0x03 0x04"});
}

TEST_CASE("FashionMNIST class names") {
  const auto& names = FashionMNIST<>::class_names();
  REQUIRE(names.size() == 10);
  CHECK(names[0] == "T-shirt/top");
  CHECK(names[9] == "Ankle boot");
}

// ---- the real Fashion-MNIST --------------------------------------------------------------------

TEST_CASE("FashionMNIST: the real files from Debian's dataset-fashion-mnist") {
  if (!fs::is_directory(fashion_mnist_default_root)) {
    MESSAGE("skipped: " << fashion_mnist_default_root << " is missing (apt-get install dataset-fashion-mnist)");
    return;
  }
  FashionMNIST<float> train;
  FashionMNIST<float> test(fashion_mnist_default_root, false);
  REQUIRE(train.size() == 60000);
  REQUIRE(test.size() == 10000);
  CHECK(train.images().shape() == Shape{60000, 784});
  CHECK(test.images().shape() == Shape{10000, 784});

  // Read from the files themselves: the first labels, and exactly 6000 / 1000 per class.
  CHECK(train.labels()(0) == 9);
  CHECK(FashionMNIST<>::class_names()[train.labels()(0)] == "Ankle boot");
  CHECK(std::vector<Index>(train.labels().begin(), train.labels().begin() + 4) == std::vector<Index>{9, 0, 0, 3});
  CHECK(std::vector<Index>(test.labels().begin(), test.labels().begin() + 4) == std::vector<Index>{9, 2, 1, 1});
  for (const auto* ds : {&train, &test}) {
    CHECK(xt::amin(ds->labels())() == 0);
    CHECK(xt::amax(ds->labels())() == 9);
    std::vector<std::size_t> counts(10, 0);
    for (auto label : ds->labels()) ++counts[static_cast<std::size_t>(label)];
    for (auto c : counts) CHECK(c == ds->size() / 10);
  }

  // Normalised with the training statistics: mean ~0 and std ~1 over the training pixels.
  double sum = 0, sum2 = 0;
  for (float v : train.images()) {
    sum += v;
    sum2 += double(v) * v;
  }
  const double n = double(train.images().size());
  const double mean = sum / n, var = sum2 / n - mean * mean;
  CHECK(std::abs(mean) < 1e-3);
  CHECK(std::sqrt(var) == doctest::Approx(1.0).epsilon(1e-3));

  // The raw bytes of the first training image add up to 76247.
  FashionMNIST<double> raw(fashion_mnist_default_root, true, /*limit=*/1, /*normalize=*/false);
  REQUIRE(raw.size() == 1);
  CHECK(xt::sum(raw.images())() * 255 == doctest::Approx(76247));
  CHECK(xt::amax(raw.images())() == doctest::Approx(1.0));
}

// ---- TensorDataset -------------------------------------------------------------------------------

TEST_CASE("TensorDataset gathers rows of inputs and targets") {
  xt::xarray<float> x = {{{0, 1}, {2, 3}}, {{4, 5}, {6, 7}}, {{8, 9}, {10, 11}}};  // [3,2,2]
  TensorDataset<float> ds(x, IndexArray{5, 6, 7});
  CHECK(ds.size() == 3);
  const std::size_t rows[] = {2, 0, 2};
  auto b = ds.get_batch(rows);
  CHECK(b.inputs.shape() == Shape{3, 2, 2});
  CHECK(b.inputs.value()(0, 1, 1) == 11);
  CHECK(b.inputs.value()(1, 0, 1) == 1);
  CHECK(b.targets == IndexArray{7, 5, 7});
  auto e = ds.get(1);
  CHECK(e.input == xt::xarray<float>{{4, 5}, {6, 7}});
  CHECK(e.target == 6);

  const std::size_t none[] = {0};
  CHECK(ds.get_batch(std::span<const std::size_t>(none, 0)).inputs.shape() == Shape{0, 2, 2});
}

TEST_CASE("TensorDataset errors") {
  xt::xarray<double> x = xt::zeros<double>({4, 3});
  check_error([&] { TensorDataset<double>(x, IndexArray{1, 2, 3}); },
              {"TensorDataset: ", "inputs [4,3] and targets [3]", "number of examples"});
  TensorDataset<double> ds(x, IndexArray{1, 2, 3, 4});
  const std::size_t rows[] = {1, 4};
  check_error([&] { ds.get_batch(rows); }, {"TensorDataset: ", "index 4 (batch position 1) out of range for 4 examples of shape [4,3]"});
  check_error([&] { ds.get(9); }, {"TensorDataset::get", "index 9"});
}

// ---- DataLoader --------------------------------------------------------------------------------

namespace {
/// N examples whose input row i is {i, -i} and whose label is i: a batch shows its indices.
TensorDataset<float> counting_dataset(std::size_t n) {
  xt::xarray<float> x(Shape{n, 2});
  IndexArray y(Shape{n});
  for (std::size_t i = 0; i < n; ++i) {
    x(i, 0) = float(i);
    x(i, 1) = -float(i);
    y(i) = Index(i);
  }
  return TensorDataset<float>(std::move(x), std::move(y));
}

/// One epoch of the loader: the labels of each batch.
std::vector<std::vector<Index>> run_epoch(DataLoader<float>& loader) {
  std::vector<std::vector<Index>> batches;
  for (auto& [x, y] : loader) {
    REQUIRE(x.shape()[0] == y.size());
    for (std::size_t k = 0; k < y.size(); ++k) REQUIRE(x.value()(k, 0) == float(y(k)));  // inputs match targets
    batches.emplace_back(y.begin(), y.end());
  }
  return batches;
}

std::vector<Index> flat(const std::vector<std::vector<Index>>& batches) {
  std::vector<Index> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}
}  // namespace

TEST_CASE("DataLoader without shuffle: batches in order, last one smaller or dropped") {
  auto ds = counting_dataset(10);
  DataLoader loader(ds, {.batch_size = 4});
  CHECK(loader.num_batches() == 3);
  auto batches = run_epoch(loader);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0] == std::vector<Index>{0, 1, 2, 3});
  CHECK(batches[2] == std::vector<Index>{8, 9});

  DataLoader dropping(ds, {.batch_size = 4, .drop_last = true});
  CHECK(dropping.num_batches() == 2);
  batches = run_epoch(dropping);
  REQUIRE(batches.size() == 2);
  CHECK(batches[1] == std::vector<Index>{4, 5, 6, 7});

  // Exact multiples lose nothing either way; a batch larger than the dataset is one batch or none.
  CHECK(DataLoader(ds, {.batch_size = 5, .drop_last = true}).num_batches() == 2);
  CHECK(DataLoader(ds, {.batch_size = 32}).num_batches() == 1);
  DataLoader none(ds, {.batch_size = 32, .drop_last = true});
  CHECK(run_epoch(none).empty());
}

TEST_CASE("DataLoader: a huge batch size is one batch, not a wrapped count of none") {
  // (n + b - 1) / b wrapped to 0 for b near SIZE_MAX: the whole dataset was skipped silently
  auto ds = counting_dataset(10);
  const std::size_t huge = std::numeric_limits<std::size_t>::max();
  DataLoader loader(ds, {.batch_size = huge});
  CHECK(loader.num_batches() == 1);
  auto batches = run_epoch(loader);
  REQUIRE(batches.size() == 1);
  CHECK(batches[0] == std::vector<Index>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(DataLoader(ds, {.batch_size = huge - 8}).num_batches() == 1);
  CHECK(DataLoader(ds, {.batch_size = huge, .drop_last = true}).num_batches() == 0);
}

TEST_CASE("DataLoader with shuffle: every index once per epoch, reproducible, new order each epoch") {
  auto ds = counting_dataset(103);
  DataLoader loader(ds, {.batch_size = 10, .shuffle = true, .seed = 42});
  CHECK(loader.epoch() == 0);
  const auto e0 = run_epoch(loader);
  CHECK(loader.epoch() == 1);
  const auto e1 = run_epoch(loader);

  for (const auto& epoch : {e0, e1}) {
    REQUIRE(epoch.size() == 11);
    for (std::size_t b = 0; b + 1 < epoch.size(); ++b) CHECK(epoch[b].size() == 10);
    CHECK(epoch.back().size() == 3);
    auto all = flat(epoch);
    std::sort(all.begin(), all.end());
    std::vector<Index> expected(103);
    std::iota(expected.begin(), expected.end(), Index{0});
    CHECK(all == expected);  // a permutation: each index exactly once
  }
  CHECK(flat(e0) != flat(e1));

  // Same seed and epoch, same order: a second loader, and the first one sent back to epoch 0.
  DataLoader again(ds, {.batch_size = 10, .shuffle = true, .seed = 42});
  CHECK(run_epoch(again) == e0);
  CHECK(run_epoch(again) == e1);
  loader.set_epoch(0);
  CHECK(run_epoch(loader) == e0);
  const auto order1 = loader.order(1);
  CHECK(flat(e1) == std::vector<Index>(order1.begin(), order1.end()));

  // Another seed, another order; neighbouring (seed, epoch) pairs do not collide.
  DataLoader other(ds, {.batch_size = 10, .shuffle = true, .seed = 43});
  CHECK(other.order(0) != loader.order(0));
  CHECK(other.order(0) != loader.order(1));

  // With drop_last the shuffled epoch has whole batches only, all distinct indices.
  DataLoader dropping(ds, {.batch_size = 10, .shuffle = true, .seed = 42, .drop_last = true});
  const auto d0 = run_epoch(dropping);
  REQUIRE(d0.size() == 10);
  auto all = flat(d0);
  CHECK(std::set<Index>(all.begin(), all.end()).size() == 100);
  const auto first = flat(e0);
  CHECK(all == std::vector<Index>(first.begin(), first.begin() + 100));  // the same order, cut short
}

TEST_CASE("DataLoader: the shuffle is uniform enough that every position moves") {
  // Over 200 epochs of 8 examples, each index should land in each position about 25 times.
  auto ds = counting_dataset(8);
  DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .seed = 7});
  std::vector<std::vector<int>> where(8, std::vector<int>(8, 0));
  for (std::uint64_t e = 0; e < 200; ++e) {
    const auto order = loader.order(e);
    for (std::size_t p = 0; p < 8; ++p) ++where[order[p]][p];
  }
  for (const auto& row : where)
    for (int count : row) {
      CHECK(count > 5);
      CHECK(count < 55);
    }
}

TEST_CASE("DataLoader: iterator details and bad options") {
  auto ds = counting_dataset(5);
  DataLoader loader(ds, {.batch_size = 2});
  auto it = loader.begin();
  CHECK(it.epoch() == 0);
  CHECK(it.num_batches() == 3);
  CHECK(it.batch_index() == 0);
  CHECK(it->targets == IndexArray{0, 1});
  ++it;
  CHECK(it.batch_index() == 1);
  CHECK((*it).targets == IndexArray{2, 3});
  it++;
  CHECK_FALSE(it == loader.end());
  ++it;
  CHECK(it == loader.end());
  static_assert(std::input_iterator<DataLoader<float>::iterator>);

  check_error([&] { DataLoader<float>(ds, {.batch_size = 0}); }, {"DataLoader: ", "batch_size must be positive"});

  // An empty dataset gives empty epochs.
  TensorDataset<float> empty(xt::xarray<float>(Shape{0, 3}), IndexArray(Shape{0}));
  DataLoader empty_loader(empty, {.batch_size = 4, .shuffle = true});
  CHECK(empty_loader.num_batches() == 0);
  CHECK(run_epoch(empty_loader).empty());
}
