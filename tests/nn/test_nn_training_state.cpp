// Training state files: a round trip of everything, a resumed run bit-identical to an
// uninterrupted one, numpy.load on the file, clear errors that leave the live run untouched,
// and a saver killed (SIGKILL) at many instants always leaving a loadable file.
#include "testing.hpp"
#include "files.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using namespace tg;
using tg::testing::check_error;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) { return tg::testing::scratch("test_nn_training_state", name); }

/// A small run: an MLP with dropout (it draws from the generator), Adam, a step schedule, and
/// batches picked by the generator, so every part of the saved state matters for the next step.
struct Run {
  std::shared_ptr<nn::MLP<float>> model;
  std::unique_ptr<optim::Adam<float>> optimizer;
  std::unique_ptr<optim::StepLR> scheduler;
  xt::xarray<float> inputs;
  IndexArray targets;

  explicit Run(std::uint64_t init_seed) {
    manual_seed(100);  // the data: the same for every run
    inputs = randn<float>({64, 6}).value();
    targets = xt::cast<Index>(xt::floor(rand<float>({64}).value() * 3.0f));
    manual_seed(init_seed);
    model = std::make_shared<nn::MLP<float>>(std::vector<std::size_t>{6, 16, 3}, nn::MLPOptions{.dropout = 0.3});
    optimizer = std::make_unique<optim::Adam<float>>(model->parameters(), optim::AdamOptions{.lr = 0.01});
    scheduler = std::make_unique<optim::StepLR>(*optimizer, 4, 0.5);
  }

  /// One step on 8 examples drawn by the generator; the schedule steps every 5 steps.
  void step(std::int64_t index) {
    std::uniform_int_distribution<std::size_t> pick(0, 63);
    xt::xarray<float> x = xt::xarray<float>::from_shape({8, 6});
    IndexArray y = IndexArray::from_shape({8});
    for (std::size_t i = 0; i < 8; ++i) {
      const std::size_t row = pick(generator());
      std::copy_n(inputs.data() + row * 6, 6, x.data() + i * 6);
      y(i) = targets(row);
    }
    Var loss = nn::cross_entropy((*model)(Var(x)), y);
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
    if ((index + 1) % 5 == 0) scheduler->step();
  }

  void save(const std::string& path, nn::TrainingProgress progress) const {
    nn::save_training_state(path, *model, *optimizer, scheduler.get(), progress);
  }
  nn::TrainingProgress load(const std::string& path) {
    return nn::load_training_state(path, *model, *optimizer, scheduler.get());
  }
};

/// Everything a failed load must leave as it was.
struct Snapshot {
  StateDict<float> model, optimizer;
  StateDict<double> scheduler;
  std::mt19937_64 rng;
  explicit Snapshot(const Run& run)
      : model(run.model->state_dict()),
        optimizer(run.optimizer->state_dict()),
        scheduler(run.scheduler->state_dict()),
        rng(generator()) {}
  bool operator==(const Snapshot&) const = default;
};

}  // namespace

TEST_CASE("save_training_state / load_training_state restore the model, optimizer, scheduler, generator and progress") {
  const std::string path = (scratch("round_trip") / "run.npz").string();
  Run run(1);
  for (std::int64_t s = 0; s < 12; ++s) run.step(s);
  run.save(path, {.epoch = 3, .step = 12});
  const Snapshot saved(run);
  const double lr_saved = run.optimizer->lr(0);
  const std::uint64_t next_draw = std::mt19937_64(generator())();

  for (std::int64_t s = 12; s < 20; ++s) run.step(s);  // moves every part of the state
  REQUIRE_FALSE(Snapshot(run) == saved);

  const nn::TrainingProgress progress = run.load(path);
  CHECK(progress == nn::TrainingProgress{.epoch = 3, .step = 12});
  CHECK(Snapshot(run) == saved);
  CHECK(run.scheduler->last_epoch() == 2);
  CHECK(run.optimizer->lr(0) == lr_saved);
  CHECK(run.optimizer->step_count(0) == 12);
  CHECK(generator()() == next_draw);
}

TEST_CASE("a run resumed from its training state after k steps ends bit-identical to an uninterrupted one") {
  const fs::path dir = scratch("resume");
  constexpr std::int64_t total = 23;
  Run uninterrupted(7);
  for (std::int64_t s = 0; s < total; ++s) uninterrupted.step(s);

  for (std::int64_t k : {1, 5, 11, 22}) {
    const std::string path = (dir / ("at_" + std::to_string(k) + ".npz")).string();
    {
      Run first(7);
      for (std::int64_t s = 0; s < k; ++s) first.step(s);
      first.save(path, {.epoch = 0, .step = k});
      for (std::int64_t s = k; s < k + 3; ++s) first.step(s);  // the crashed process went on a bit
    }
    generator().seed(12345);                                    // a new process: another seed,
    Run resumed(99);                                            // another initialisation
    const auto progress = resumed.load(path);
    REQUIRE(progress.step == k);
    for (std::int64_t s = progress.step; s < total; ++s) resumed.step(s);
    INFO("resumed after " << k << " steps");
    CHECK(resumed.model->state_dict() == uninterrupted.model->state_dict());
    CHECK(resumed.optimizer->state_dict() == uninterrupted.optimizer->state_dict());
    CHECK(resumed.scheduler->last_epoch() == uninterrupted.scheduler->last_epoch());
  }
}

TEST_CASE("a training state is an .npz that numpy.load opens, with CRC-32s zlib agrees with") {
  const std::string python = tg::testing::python_with_numpy();
  if (python.empty()) {
    MESSAGE("python3 with NumPy not found (apt-get install python3-numpy): skipping the NumPy check");
    return;
  }
  const fs::path dir = scratch("numpy");
  const std::string path = (dir / "run.npz").string();
  Run run(3);
  for (std::int64_t s = 0; s < 4; ++s) run.step(s);
  run.save(path, {.epoch = 2, .step = 4});
  const float w00 = run.model->state_dict().at("0.weight")(0, 0);
  tg::testing::write_bytes(dir / "check.py", R"(import sys, zlib, numpy as np
f = np.load(sys.argv[1])
names = sorted(f.files)
assert int(f["format.version"]) == 1, f["format.version"]
assert f["progress.epoch"].dtype == np.int64 and int(f["progress.epoch"]) == 2 and int(f["progress.step"]) == 4
assert f["rng.mt19937_64"].dtype == np.uint64 and f["rng.mt19937_64"].shape == (313,)
crcs = f["format.crc32"]
assert crcs.dtype == np.uint32
others = [n for n in names if n != "format.crc32"]
assert len(crcs) == len(others)
for crc, n in zip(crcs, others):
    assert zlib.crc32(np.ascontiguousarray(f[n]).tobytes()) == crc, n
assert f["model.0.weight"].dtype == np.float32 and f["model.0.weight"].shape == (16, 6)
assert f["optimizer.state.0.exp_avg"].shape == (16, 6)
assert int(f["optimizer.state.0.step"]) == 4
print(repr(float(f["model.0.weight"][0, 0])), int(f["scheduler.last_epoch"]))
)");
  const std::string out = (dir / "out.txt").string();
  REQUIRE(std::system((python + " " + (dir / "check.py").string() + " " + path + " > " + out).c_str()) == 0);
  std::istringstream printed(tg::testing::read_bytes(out));
  double w = 0;
  int last_epoch = -1;
  printed >> w >> last_epoch;
  CHECK(static_cast<float>(w) == w00);
  CHECK(last_epoch == 0);
}

TEST_CASE("load_training_state: bad files are tg::Errors naming the file and the problem, and change nothing") {
  const fs::path dir = scratch("errors");
  const std::string good = (dir / "good.npz").string();
  Run saved_run(1);
  for (std::int64_t s = 0; s < 3; ++s) saved_run.step(s);
  saved_run.save(good, {.epoch = 1, .step = 3});
  const std::string bytes = tg::testing::read_bytes(good);

  Run live(2);
  for (std::int64_t s = 0; s < 2; ++s) live.step(s);
  const Snapshot before(live);
  auto refused = [&](const std::string& file, std::initializer_list<std::string> fragments) {
    Snapshot expected = before;
    expected.rng = generator();  // the files below are made with manual_seed
    check_error([&] { live.load(file); }, fragments);
    CHECK(Snapshot(live) == expected);
  };
  auto variant = [&](const std::string& name, const NpyArrays& arrays) {
    const std::string file = (dir / name).string();
    save_npz_arrays(file, arrays);
    return file;
  };

  refused((dir / "absent.npz").string(), {"load_training_state", "absent.npz", "no such file"});
  tg::testing::write_bytes(dir / "half.npz", bytes.substr(0, bytes.size() / 2));
  refused((dir / "half.npz").string(), {"load_training_state", "half.npz"});
  std::string flipped = bytes;  // a data byte of the first array: zip's own CRC catches it
  flipped[flipped.find("\x93NUMPY") + 130] ^= 0x20;
  tg::testing::write_bytes(dir / "flipped.npz", flipped);
  refused((dir / "flipped.npz").string(), {"load_training_state", "flipped.npz", "corrupt"});

  const NpyArrays arrays = load_npz_arrays(good);
  NpyArrays changed = arrays;  // a value changed and the archive re-made: only our CRC sees it
  changed.at("model.0.bias").bytes[0] ^= 0x01;
  refused(variant("changed.npz", changed), {"changed.npz", "array 'model.0.bias' is corrupt", "CRC-32"});
  NpyArrays newer = arrays;
  newer.at("format.version") = to_npy(xt::xarray<std::int64_t>(2));
  refused(variant("newer.npz", newer), {"newer.npz", "format version 2", "newer tapegrad", "up to 1"});
  NpyArrays no_crc = arrays;
  no_crc.erase("format.crc32");
  refused(variant("no_crc.npz", no_crc), {"no_crc.npz", "no 'format.crc32'"});

  nn::save(*saved_run.model, (dir / "model_only.npz").string());
  refused((dir / "model_only.npz").string(), {"model_only.npz", "not a training state", "tg::nn::load"});

  // another model: a wider hidden layer; every name with a shape mismatch is listed
  {
    manual_seed(5);
    nn::MLP<float> wide({6, 20, 3});
    optim::Adam<float> adam(wide.parameters());
    optim::StepLR steps(adam, 4, 0.5);
    nn::save_training_state((dir / "wide.npz").string(), wide, adam, &steps, {});
  }
  refused((dir / "wide.npz").string(),
          {"load_training_state", "wide.npz", "shape mismatch: 0.weight is [16,6] in the module but [20,6]", "0.bias"});

  // the right model with another optimizer: the model is loaded first, then put back
  {
    manual_seed(5);
    nn::MLP<float> same({6, 16, 3}, {.dropout = 0.3});
    optim::SGD<float> sgd(same.parameters(), {.lr = 0.1, .momentum = 0.9});
    optim::StepLR steps(sgd, 4, 0.5);
    Var loss = tg::sum(same(randn<float>({2, 6})));
    loss.backward();
    sgd.step();
    nn::save_training_state((dir / "sgd.npz").string(), same, sgd, &steps, {});
  }
  refused((dir / "sgd.npz").string(), {"load_training_state", "sgd.npz", "Adam.load_state_dict", "missing"});

  // a double model's file into a float run
  {
    nn::MLP<double> doubled({6, 16, 3});
    optim::Adam<double> adam(doubled.parameters());
    nn::save_training_state((dir / "double.npz").string(), doubled, adam, nullptr, {});
  }
  refused((dir / "double.npz").string(), {"double.npz", "'model.0.bias' holds <f8 values", "another value type"});
  // a file without a scheduler into a run with one (the remaining arrays' checksums kept)
  std::map<std::string, std::uint32_t> crc_of;
  const auto crcs = from_npy<std::uint32_t>(arrays.at("format.crc32"), "test", "format.crc32");
  std::size_t k = 0;
  for (const auto& [name, array] : arrays)
    if (name != "format.crc32") crc_of[name] = crcs(k++);
  NpyArrays no_scheduler = arrays;
  no_scheduler.erase("scheduler.base_lrs");
  no_scheduler.erase("scheduler.last_epoch");
  std::vector<std::uint32_t> kept;
  for (const auto& [name, array] : no_scheduler)
    if (name != "format.crc32") kept.push_back(crc_of.at(name));
  xt::xarray<std::uint32_t> kept_array = xt::xarray<std::uint32_t>::from_shape({kept.size()});
  std::copy(kept.begin(), kept.end(), kept_array.begin());
  no_scheduler.at("format.crc32") = to_npy(kept_array);
  refused(variant("no_scheduler.npz", no_scheduler), {"no_scheduler.npz", "no scheduler state"});
  // and the saved one is still good
  CHECK(live.load(good) == nn::TrainingProgress{.epoch = 1, .step = 3});
}

TEST_CASE("a saver killed (SIGKILL) at any instant leaves the previous or the new state, loadable") {
  const fs::path dir = scratch("killed");
  const std::string path = (dir / "run.npz").string();
  // big enough that a save takes a few milliseconds, so the kills land inside saves
  manual_seed(1);
  nn::MLP<float> model({256, 512, 256});
  optim::Adam<float> adam(model.parameters());
  auto fill = [&](float v) {
    for (auto& p : model.parameters()) std::fill(p.mutable_value().begin(), p.mutable_value().end(), v);
  };
  fill(0);
  nn::save_training_state(path, model, adam, nullptr, {.epoch = 0, .step = 0});

  const auto start = std::chrono::steady_clock::now();
  nn::save_training_state(path, model, adam, nullptr, {.epoch = 0, .step = 0});
  const double save_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  std::mt19937 delays(42);
  std::int64_t newest = 0;
  int interrupted = 0;
  constexpr int kills = 40;
  for (int k = 0; k < kills; ++k) {
    std::fflush(nullptr);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // save states newest+1, newest+2, ...: every value of state i is i
      for (std::int64_t i = newest + 1;; ++i) {
        fill(static_cast<float>(i));
        nn::save_training_state(path, model, adam, nullptr, {.epoch = 0, .step = i});
      }
    }
    // from before the first save ends to several saves in
    const auto delay = std::uniform_real_distribution<double>(0.2, 4.0)(delays) * save_ms;
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delay));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));

    std::size_t temporaries = 0;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().filename().string() != "run.npz") {
        ++temporaries;
        fs::remove(entry.path());
      }
    interrupted += temporaries > 0;

    fill(-1);
    const auto progress = nn::load_training_state(path, model, adam, nullptr);
    INFO("kill " << k << " after " << delay << " ms");
    CHECK(progress.step >= newest);
    for (const auto& p : model.parameters()) CHECK(xt::all(xt::equal(p.value(), static_cast<float>(progress.step))));
    newest = progress.step;
  }
  MESSAGE(kills << " kills; " << interrupted << " of them inside a save (temporary files left); a save takes "
                << save_ms << " ms; " << newest << " states saved in all");
  CHECK(interrupted > 0);
}
