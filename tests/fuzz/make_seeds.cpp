// Writes the seeds that tapegrad itself writes into <corpus>/npz (a module saved by nn::save, a
// training state, double arrays, and truncated copies of each) and <corpus>/ops (random
// programs). scripts/fuzz runs it before each campaign, so the seeds follow the current format.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include <tapegrad/tapegrad.hpp>

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

/// A seed and three truncated copies of it (inside the data, the directory, the end record).
void with_truncations(const fs::path& path) {
  const std::string bytes = read_bytes(path);
  for (std::size_t cut : {bytes.size() / 3, bytes.size() - 40, bytes.size() - 1})
    write_bytes(path.string() + ".cut" + std::to_string(cut), bytes.substr(0, cut));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds <corpus folder>\n";
    return 2;
  }
  const fs::path root = argv[1];
  fs::create_directories(root / "npz");
  fs::create_directories(root / "ops");

  // the same model and run as the npz target loads into (targets.hpp)
  tg::manual_seed(1);
  tg::nn::MLP<float> model({3, 4, 2});
  tg::optim::Adam<float> optimizer(model.parameters());
  tg::optim::StepLR scheduler(optimizer, 2);
  tg::Var loss = tg::sum(model(tg::randn<float>({2, 3})));
  loss.backward();
  optimizer.step();
  scheduler.step();
  tg::nn::save(model, (root / "npz" / "tapegrad_model.npz").string());
  tg::nn::save_training_state((root / "npz" / "tapegrad_training_state.npz").string(), model, optimizer, &scheduler,
                              {.epoch = 1, .step = 7});
  tg::save_npz<double>((root / "npz" / "tapegrad_double.npz").string(),
                       {{"w", tg::randn<double>({2, 2}).value()}, {"s", xt::xarray<double>(1.5)}});
  for (const char* name : {"tapegrad_model.npz", "tapegrad_training_state.npz", "tapegrad_double.npz"})
    with_truncations(root / "npz" / name);

  std::mt19937 bytes(7);
  for (int i = 0; i < 32; ++i) {
    std::string program(static_cast<std::size_t>(16 + 8 * i), '\0');
    for (auto& c : program) c = static_cast<char>(bytes());
    write_bytes(root / "ops" / ("random_" + std::to_string(i)), program);
  }
  return 0;
}
