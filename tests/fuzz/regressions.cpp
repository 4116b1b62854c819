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
  // fixed in autograd/variable.cpp: arange refuses non-finite bounds and counts past 2^53.
  // The bytes pick ops by their place in the op table (the op catalogue, 89 entries when these
  // were found by decoding random inputs): they reach arange(-1, 1.8e308, 4). A longer catalogue
  // sends them to another op; the direct checks below keep the fix covered.
  replay(tg::fuzz::ops_one,
  std::string(
      "\327\212\214\146\062\355\311\170\027\045\170\304\373\130\032\322\167\266\220\126\236\023\102\157"
      "\377\206\125\166\360\241\036\147\254\005\122\263\154\021\077\173\025\055\276\130\345\237\037\220"
      "\034\125\060\326\133\362\316\333\236\274\120\076\271\325\276\111\264\333\142\304\160\330\005\302"
      "\044\146\155\167\210\041\043\135\161\027\375\373\367\045\200\141\126\315\172\021\355\220\073\205"
      "\221\162\160\053\275\005\333\300\316\262\076\100\045\275\213\224\077\256\302\277\063\273\366\315"
      "\165\307\262\014\130\024\162\136\361\367\166\026\046\244\137\157\177\140\157\222\074\116\020\011"
      "\001\230\371\161\066\162\043\311\220\203\371\052\120\215\330\050\225\331\042\320\207\034\334\362"
      "\217\151\304\351\251\021\267\273\102\055\377\203\061\226\054\060\013\327\354\051\345\261\025\151"
      "\123\215\044\054\024\135\254\051",
      200));
  CHECK_THROWS_AS(tg::arange<double>(-8, 1e308, 1), tg::Error);
  CHECK_THROWS_AS(tg::arange<double>(-1, 1.79769e308, 4), tg::Error);
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
