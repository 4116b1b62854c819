// Replays the fuzz targets (targets.hpp) in the ordinary builds: every seed of the corpora, and
// every input on which a fuzzer once found a bug, with the bytes it found (the fix named beside
// each). A regression aborts with "fuzz finding: ..." or a sanitizer report, failing the suite.
// A new finding: python3 tests/fuzz/bytes_to_cpp.py <crash file>, and a case below.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "targets.hpp"

namespace fs = std::filesystem;

namespace {

void replay(void (*target)(const std::uint8_t*, std::size_t), const std::string& bytes) {
  target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

/// Runs every file of tests/fuzz/corpus/<name> through the target; returns how many.
std::size_t replay_corpus(const std::string& name, void (*target)(const std::uint8_t*, std::size_t)) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(TAPEGRAD_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / name)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes(std::istreambuf_iterator<char>(in), {});
    INFO("seed " << entry.path().string());
    replay(target, bytes);
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("the seed corpora are read or refused with a tg::Error, never a crash") {
  CHECK(replay_corpus("npz", tg::fuzz::npz_one) >= 20);
  CHECK(replay_corpus("idx", tg::fuzz::idx_one) >= 10);
  CHECK(replay_corpus("ops", tg::fuzz::ops_one) >= 20);
}

TEST_CASE("the seeds tapegrad and numpy wrote load") {
  // the targets accept refusals; here the valid seeds must actually load
  const fs::path npz = fs::path(TAPEGRAD_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "npz";
  CHECK(tg::load_npz<float>((npz / "numpy_float32.npz").string()).at("0.weight").shape() == tg::Shape{4, 3});
  CHECK(tg::load_npz_arrays((npz / "numpy_ints.npz").string()).at("u4").dtype == "<u4");
  const tg::NpyArrays big_endian = tg::load_npz_arrays((npz / "numpy_big_endian.npz").string());
  CHECK(tg::from_npy<double>(big_endian.at("w"), "test", "w")(1, 2) == 5.0);  // byte-swapped on load
  CHECK(tg::from_npy<std::int64_t>(big_endian.at("i"), "test", "i")(2) == 2);
  tg::nn::MLP<float> model({3, 4, 2});
  tg::optim::Adam<float> optimizer(model.parameters());
  tg::optim::StepLR scheduler(optimizer, 2);
  const auto progress =
      tg::nn::load_training_state((npz / "tapegrad_training_state.npz").string(), model, optimizer, &scheduler);
  CHECK(progress == tg::nn::TrainingProgress{.epoch = 1, .step = 7});
  CHECK(tg::data::read_idx((fs::path(TAPEGRAD_SOURCE_DIR) / "tests/fuzz/corpus/idx/idx_images.gz").string()).dims ==
        std::vector<std::size_t>{3, 4, 4});
}

// ---- findings ---------------------------------------------------------------------------------

TEST_CASE("ops finding 1: arange with an infinite or huge count converted it to size_t (UBSan)") {
  // fixed in autograd/variable.cpp: arange refuses non-finite bounds and counts past 2^53
  replay(tg::fuzz::ops_one,
  std::string(
      "\067\066\224\116\346\115\237\335\132\253\155\103\307\015\174\122\126\342\146\305\162\024\247\303"
      "\115\216\223\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050"
      "\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050"
      "\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050\050"
      "\050\050\050\050\050\050\050\050\050\050\050\266\174\377\243\117\050\004\233\000\114\155\272\307"
      "\125\244\266\174\377\243\117\050\004\233\010\114\155\244\307\302\165\241\216\055\171\140\042\137"
      "\160\126\067\100\260\326\171\157\322\062\034\021\177\217\137\043\163\361\133\221\273\011\202\011"
      "\302\361\034\106\262\265\250\042\277\301\360\134\154\130\041\153\175\326\257\201\235\052\160\165"
      "\271\306\342\242\046\036\267\257\055\231\027\345\347\071\042\010\275",
      209));
  CHECK_THROWS_AS(tg::arange<double>(-8, 1e308, 1), tg::Error);
}

TEST_CASE("review finding: a float16 entry was converted as if it held float64 values (an out-of-bounds read)") {
  // fixed in autograd/serialize.cpp: only '<f4' and '<f8' convert to float arrays
  const std::string path = std::string(TAPEGRAD_SOURCE_DIR) + "/tests/fuzz/corpus/npz/numpy_float16.npz";
  CHECK(tg::load_npz_arrays(path).at("h").dtype == "<f2");
  try {
    tg::load_npz<float>(path);
    FAIL("expected tg::Error");
  } catch (const tg::Error& e) {
    CHECK(std::string(e.what()).find("'<f2' is not float32 or float64") != std::string::npos);
  }
}
