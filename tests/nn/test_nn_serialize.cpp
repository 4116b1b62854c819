// .npz files: round trips in C++, the .npy header layout, atomic replacement, errors on
// missing/corrupt files and mismatched modules, and (when NumPy is installed) both directions
// with numpy.load / numpy.savez.
#include "testing.hpp"
#include "files.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

using namespace tg;
using tg::testing::check_error;
namespace fs = std::filesystem;

namespace {

/// A fresh, empty folder for one test case's files.
fs::path scratch(const std::string& name) { return tg::testing::scratch("test_nn_serialize", name); }

using tg::testing::python_with_numpy;
using tg::testing::read_bytes;
using tg::testing::write_bytes;

bool has_temporaries(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) return true;
  return false;
}

struct Model : nn::Module<float> {
  Model() {
    mlp = register_module("mlp", std::make_shared<nn::MLP<float>>(std::vector<std::size_t>{4, 5, 3}));
    bn = register_module("bn", std::make_shared<nn::BatchNorm1d<float>>(3));
  }
  Var forward(const Var& x) override { return bn->forward(mlp->forward(x)); }
  std::shared_ptr<nn::MLP<float>> mlp;
  std::shared_ptr<nn::BatchNorm1d<float>> bn;
};

}  // namespace

TEST_CASE("save_npz / load_npz round-trip arrays of any rank, in float and double") {
  const fs::path dir = scratch("roundtrip");
  StateDict<double> arrays;
  arrays["scalar"] = xt::xarray<double>(3.25);
  arrays["vector"] = xt::xarray<double>{1, -2, 3.5};
  arrays["cube"] = xt::xarray<double>{{{1, 2}, {3, 4}, {5, 6}}};
  arrays["empty"] = xt::zeros<double>({0, 4});
  arrays["layer.0.weight"] = xt::xarray<double>{{1e-30, 1e30}};
  const std::string path = (dir / "a.npz").string();
  save_npz(path, arrays);
  auto back = load_npz<double>(path);
  REQUIRE(back.size() == arrays.size());
  for (const auto& [name, array] : arrays) {
    INFO(name);
    CHECK(back.at(name).shape() == array.shape());
    CHECK(back.at(name) == array);
  }
  CHECK(back.at("scalar").dimension() == 0);
  // float64 data read into a float model converts
  auto as_float = load_npz<float>(path);
  CHECK(as_float.at("vector")(2) == 3.5f);
  // and float round-trips too
  StateDict<float> f{{"w", xt::xarray<float>{0.1f, 0.2f}}};
  save_npz((dir / "f.npz").string(), f);
  CHECK(load_npz<float>((dir / "f.npz").string()).at("w") == f.at("w"));
  CHECK_FALSE(has_temporaries(dir));
}

TEST_CASE("entries are .npy 1.0 files with a 64-byte aligned header") {
  const fs::path dir = scratch("header");
  save_npz((dir / "h.npz").string(), StateDict<float>{{"w", xt::xarray<float>{{1, 2, 3}, {4, 5, 6}}}});
  const std::string bytes = read_bytes(dir / "h.npz");
  CHECK(bytes.compare(0, 4, "PK\x03\x04") == 0);
  CHECK(bytes.find("w.npy") != std::string::npos);
  const auto at = bytes.find("\x93NUMPY\x01");
  REQUIRE(at != std::string::npos);
  CHECK(bytes[at + 7] == 0);
  const std::size_t header_len = static_cast<unsigned char>(bytes[at + 8]) | static_cast<unsigned char>(bytes[at + 9]) << 8;
  CHECK((10 + header_len) % 64 == 0);
  const std::string header = bytes.substr(at + 10, header_len);
  CHECK(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0) == 0);
  CHECK(header.back() == '\n');
  float first;
  std::memcpy(&first, bytes.data() + at + 10 + header_len, 4);
  CHECK(first == 1.0f);
}

TEST_CASE("an empty state dict makes an empty archive") {
  const fs::path dir = scratch("empty");
  save_npz((dir / "e.npz").string(), StateDict<float>{});
  CHECK(load_npz<float>((dir / "e.npz").string()).empty());
  nn::Sequential<float> stateless{std::make_shared<nn::ReLU<float>>()};
  nn::save(stateless, (dir / "relu.npz").string());
  nn::load(stateless, (dir / "relu.npz").string());
}

TEST_CASE("a save replaces the old file atomically; a failed save leaves it untouched") {
  const fs::path dir = scratch("atomic");
  const std::string path = (dir / "m.npz").string();
  save_npz(path, StateDict<float>{{"a", xt::xarray<float>{1, 2}}});
  save_npz(path, StateDict<float>{{"b", xt::xarray<float>{3}}});
  auto now = load_npz<float>(path);
  CHECK(now.size() == 1);
  CHECK(now.count("b") == 1);
  // a save that fails half-way (a bad name after a good one) keeps the previous file
  StateDict<float> bad{{"", xt::xarray<float>{9}}, {"z", xt::xarray<float>{9}}};
  check_error([&] { save_npz(path, bad); }, {"save_npz", path, "empty name"});
  CHECK(load_npz<float>(path).count("b") == 1);
  CHECK_FALSE(has_temporaries(dir));
  // a new file gets the usual rw-r--r--, not the temporary file's private mode
  CHECK(fs::status(path).permissions() == (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                            fs::perms::others_read));
  check_error([&] { save_npz((dir / "no" / "such" / "dir.npz").string(), now); }, {"save_npz", "no/such/dir.npz"});
}

TEST_CASE("load_npz: missing, non-zip, truncated and corrupted files are errors") {
  const fs::path dir = scratch("corrupt");
  check_error([&] { load_npz<float>((dir / "absent.npz").string()); }, {"load_npz", "no such file", "absent.npz"});
  write_bytes(dir / "text.npz", "this is not a zip archive at all, just text");
  check_error([&] { load_npz<float>((dir / "text.npz").string()); }, {"load_npz", "text.npz", "not an .npz file"});
  const std::string good = (dir / "good.npz").string();
  xt::xarray<float> big = xt::ones<float>({64, 64});
  save_npz(good, StateDict<float>{{"w", big}});
  const std::string bytes = read_bytes(good);
  write_bytes(dir / "half.npz", bytes.substr(0, bytes.size() / 2));
  check_error([&] { load_npz<float>((dir / "half.npz").string()); }, {"load_npz", "half.npz"});
  // flip a data byte: the CRC no longer matches
  std::string flipped = bytes;
  const auto data = flipped.find("\x93NUMPY") + 128 + 100;
  flipped[data] = static_cast<char>(flipped[data] ^ 0x55);
  write_bytes(dir / "flipped.npz", flipped);
  check_error([&] { load_npz<float>((dir / "flipped.npz").string()); }, {"load_npz", "flipped.npz", "corrupt", "'w.npy'"});
}

namespace {

/// zip's CRC-32 (reflected polynomial 0xEDB88320), to re-seal an entry whose bytes a test patched.
std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::uint32_t le32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

void put_le32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
}

/// A one-entry .npz written by save_npz for a float array of shape [2], with the .npy header's
/// shape text replaced by `shape` (taken from the header's padding, so no size changes) and
/// both CRCs (local header and central directory) made to match again.
std::string npz_with_shape(const fs::path& dir, const std::string& shape) {
  const fs::path good = dir / "good.npz";
  save_npz(good.string(), StateDict<float>{{"w", xt::xarray<float>{1, 2}}});
  std::string zip = read_bytes(good);
  REQUIRE(zip.compare(0, 4, "PK\x03\x04") == 0);
  const std::size_t size = le32(zip, 18);
  const std::size_t data = 30 + (static_cast<unsigned char>(zip[26]) | static_cast<unsigned char>(zip[27]) << 8) +
                           (static_cast<unsigned char>(zip[28]) | static_cast<unsigned char>(zip[29]) << 8);
  const std::string old_text = "'shape': (2,), }";
  const std::string new_text = "'shape': " + shape + ", }";
  const auto at = zip.find(old_text, data);
  REQUIRE(at != std::string::npos);
  REQUIRE(new_text.size() >= old_text.size());
  REQUIRE(zip.find_first_not_of(' ', at + old_text.size()) >= at + new_text.size());  // room in the padding
  zip.replace(at, new_text.size(), new_text);
  const std::uint32_t crc = crc32(zip.substr(data, size));
  const auto central = zip.find("PK\x01\x02");
  REQUIRE(central != std::string::npos);
  REQUIRE(le32(zip, 14) == le32(zip, central + 16));
  put_le32(zip, 14, crc);
  put_le32(zip, central + 16, crc);
  return zip;
}

}  // namespace

TEST_CASE("load_npz: a shape whose element or byte count overflows is an error, not a wrapped size") {
  const fs::path dir = scratch("overflow");
  // the patching itself is sound: the same shape text reads back the array
  write_bytes(dir / "same.npz", npz_with_shape(dir, "(2,)"));
  CHECK(load_npz<float>((dir / "same.npz").string()).at("w") == xt::xarray<float>{1, 2});
  // (2^63 + 1) * 2 wraps to 2 elements, and 2 * 4 bytes is exactly what the entry holds
  write_bytes(dir / "count.npz", npz_with_shape(dir, "(9223372036854775809, 2)"));
  check_error([&] { load_npz<float>((dir / "count.npz").string()); },
              {"load_npz", "count.npz", "entry 'w'", "[9223372036854775809,2]", "more bytes than fit"});
  // 2^62 + 2 elements fit, but times 4 bytes wraps to 8
  write_bytes(dir / "bytes.npz", npz_with_shape(dir, "(4611686018427387906,)"));
  check_error([&] { load_npz<float>((dir / "bytes.npz").string()); },
              {"load_npz", "bytes.npz", "entry 'w'", "[4611686018427387906]", "more bytes than fit"});
}

TEST_CASE("nn::save / nn::load round-trip a module's parameters and buffers") {
  const fs::path dir = scratch("module");
  const std::string path = (dir / "model.npz").string();
  manual_seed(1);
  Model a;
  a(randn<float>({8, 4}));  // moves the running statistics
  nn::save(a, path);
  auto dict = load_npz<float>(path);
  std::vector<std::string> names;
  for (const auto& [name, array] : dict) names.push_back(name);
  CHECK(names == std::vector<std::string>{"bn.bias", "bn.running_mean", "bn.running_var", "bn.weight", "mlp.0.bias",
                                          "mlp.0.weight", "mlp.2.bias", "mlp.2.weight"});
  manual_seed(2);
  Model b;
  CHECK(b.mlp->named_parameters()[0].second.value() != a.mlp->named_parameters()[0].second.value());
  nn::load(b, path);
  for (const auto& [name, array] : a.state_dict()) CHECK(b.state_dict().at(name) == array);
  a.eval();
  b.eval();
  Var x = randn<float>({3, 4});
  CHECK(a(x).value() == b(x).value());
}

TEST_CASE("nn::load names the file and every missing or mismatched entry") {
  const fs::path dir = scratch("mismatch");
  const std::string path = (dir / "model.npz").string();
  Model a;
  nn::save(a, path);
  nn::MLP<float> other({4, 5, 3});  // the same layers without the "mlp." prefix
  check_error([&] { nn::load(other, path); },
              {"load", "model.npz", "load_state_dict: MLP", "missing 0.weight", "unexpected bn.bias", "mlp.0.weight"});
  struct Wider : nn::Module<float> {
    Wider() {
      register_module("mlp", std::make_shared<nn::MLP<float>>(std::vector<std::size_t>{4, 6, 3}));
      register_module("bn", std::make_shared<nn::BatchNorm1d<float>>(3));
    }
  } wider;
  check_error([&] { nn::load(wider, path); },
              {"load", "model.npz", "shape mismatch: mlp.0.weight is [6,4] in the module but [5,4] in the state dict",
               "mlp.0.bias is [6]", "mlp.2.weight is [3,6]"});
  struct Bigger : nn::Module<float> {
    Bigger() {
      register_module("mlp", std::make_shared<nn::MLP<float>>(std::vector<std::size_t>{4, 5, 3}));
      register_module("bn", std::make_shared<nn::BatchNorm1d<float>>(3));
      register_module("head", std::make_shared<nn::Linear<float>>(3, 1));
    }
  } bigger;
  check_error([&] { nn::load(bigger, path); }, {"load", "missing head.weight, head.bias"});
  nn::load(bigger, path, false);  // non-strict: the head keeps its init
  CHECK(bigger.state_dict().at("mlp.0.weight") == a.state_dict().at("mlp.0.weight"));
  // a float file loads into a double model
  struct DoubleModel : nn::Module<double> {
    DoubleModel() {
      register_module("mlp", std::make_shared<nn::MLP<double>>(std::vector<std::size_t>{4, 5, 3}));
      register_module("bn", std::make_shared<nn::BatchNorm1d<double>>(3));
    }
  } as_double;
  nn::load(as_double, path);
  CHECK(as_double.state_dict().at("mlp.2.bias")(1) == doctest::Approx(a.state_dict().at("mlp.2.bias")(1)));
}

TEST_CASE("numpy.load reads what tapegrad writes, and tapegrad reads numpy.savez") {
  const std::string python = python_with_numpy();
  if (python.empty()) {
    MESSAGE("python3 with NumPy not found (apt-get install python3-numpy): skipping the NumPy checks");
    return;
  }
  const fs::path dir = scratch("numpy");
  manual_seed(3);
  Model model;
  model(randn<float>({8, 4}));
  nn::save(model, (dir / "model.npz").string());
  save_npz((dir / "double.npz").string(), StateDict<double>{{"x", xt::xarray<double>{{1.5, -2.25}}},
                                                              {"s", xt::xarray<double>(7.0)}});
  save_npz((dir / "empty.npz").string(), StateDict<float>{});

  // a script that asserts every name, dtype, shape and value, then writes files back
  std::ostringstream py;
  py << std::setprecision(9) << "import numpy as np\n"
     << "d = np.load('" << (dir / "model.npz").string() << "')\n"
     << "assert sorted(d.files) == sorted([";
  const auto state = model.state_dict();
  for (const auto& [name, array] : state) py << "'" << name << "', ";
  py << "]), d.files\n";
  for (const auto& [name, array] : state) {
    py << "a = d['" << name << "']\n"
       << "assert a.dtype == np.float32, a.dtype\n"
       << "assert a.shape == (";
    for (auto n : array.shape()) py << n << ",";
    py << "), a.shape\n"
       << "assert np.allclose(a.ravel(), [";
    for (auto v : array) py << v << ",";
    py << "], rtol=1e-6, atol=1e-7), '" << name << "'\n";
  }
  py << "e = np.load('" << (dir / "double.npz").string() << "')\n"
     << "assert e['x'].dtype == np.float64 and e['x'].shape == (1, 2) and e['x'][0, 1] == -2.25\n"
     << "assert e['s'].shape == () and e['s'] == 7.0\n"
     << "assert len(np.load('" << (dir / "empty.npz").string() << "').files) == 0\n"
     << "np.savez('" << (dir / "from_numpy.npz").string() << "', w=np.arange(6.0).reshape(2, 3), "
     << "b=np.array([0.5], dtype=np.float32))\n"
     << "np.savez_compressed('" << (dir / "compressed.npz").string() << "', w=np.full((3, 2), 2.5))\n"
     << "np.savez('" << (dir / "ints.npz").string() << "', i=np.arange(3))\n"
     << "np.savez('" << (dir / "fortran.npz").string() << "', f=np.asfortranarray(np.ones((2, 3))))\n";
  write_bytes(dir / "check.py", py.str());
  const std::string command = python + " " + (dir / "check.py").string();
  REQUIRE(std::system(command.c_str()) == 0);

  auto from_numpy = load_npz<float>((dir / "from_numpy.npz").string());
  CHECK(from_numpy.at("w").shape() == Shape{2, 3});
  CHECK(from_numpy.at("w")(1, 2) == 5.0f);
  CHECK(from_numpy.at("b")(0) == 0.5f);
  CHECK(load_npz<double>((dir / "compressed.npz").string()).at("w")(2, 1) == 2.5);
  check_error([&] { load_npz<float>((dir / "ints.npz").string()); }, {"load_npz", "'i'", "dtype '<i8'", "float32"});
  check_error([&] { load_npz<float>((dir / "fortran.npz").string()); }, {"load_npz", "'f'", "Fortran order"});
}
