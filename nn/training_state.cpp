// Training state as one .npz: prefixed state dicts, the generator's words, the progress, a
// format version and a CRC-32 per array, written through save_npz_arrays (temporary file,
// fsync, rename, fsync of the folder) and read back checked in full before anything changes.
#include "training_state.hpp"

#include <zlib.h>

#include <sstream>
#include <vector>

namespace tg::nn {

namespace {

constexpr const char* kCrcName = "format.crc32";
constexpr const char* kVersionName = "format.version";
constexpr const char* kRngName = "rng.mt19937_64";

std::uint32_t crc_of(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes the length as uInt: feed it in pieces below 4 GiB
  for (std::size_t at = 0; at < bytes.size(); at += std::size_t{1} << 30) {
    const auto n = static_cast<uInt>(std::min<std::size_t>(bytes.size() - at, std::size_t{1} << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), n);
  }
  return static_cast<std::uint32_t>(crc);
}

/// The generator's state as the words its stream form prints (libstdc++: 312 words, then the index).
xt::xarray<std::uint64_t> rng_words(const std::mt19937_64& rng) {
  std::ostringstream os;
  os << rng;
  std::istringstream is(os.str());
  std::vector<std::uint64_t> words;
  for (std::uint64_t w; is >> w;) words.push_back(w);
  xt::xarray<std::uint64_t> out = xt::xarray<std::uint64_t>::from_shape({words.size()});
  std::copy(words.begin(), words.end(), out.begin());
  return out;
}

template <class V>
NpyArray scalar_npy(V v) {
  return to_npy(xt::xarray<V>(v));
}

/// Everything of the file, read and checked, ready to apply.
template <class T>
struct Loaded {
  StateDict<T> model, optimizer;
  StateDict<double> scheduler;
  std::mt19937_64 rng;
  TrainingProgress progress;
};

template <class T>
Loaded<T> read_checked(const std::string& path, bool want_scheduler) {
  const std::string op = "load_training_state";
  auto fail = [&](const std::string& what) { throw Error(op + ": '" + path + "': " + what); };
  NpyArrays arrays;
  try {
    arrays = load_npz_arrays(path);
  } catch (const Error& e) {
    throw Error(op + ": " + e.what());  // load_npz's message names the file and the problem
  }

  // the version first: a newer file may be laid out differently
  auto version_it = arrays.find(kVersionName);
  if (version_it == arrays.end())
    fail("not a training state: it has no 'format.version' array (a model saved by tg::nn::save loads with "
         "tg::nn::load)");
  const auto version = from_npy<std::int64_t>(version_it->second, op, "'" + path + "': 'format.version'");
  if (version.size() != 1) fail("'format.version' has shape " + shape_str(version.shape()) + ", expected one value");
  const std::int64_t file_version = version.data()[0];
  if (file_version > training_state_version)
    fail("written in format version " + std::to_string(file_version) + " by a newer tapegrad; this one reads versions up to " +
         std::to_string(training_state_version));
  if (file_version < 1) fail("format version " + std::to_string(file_version) + " is invalid");

  // then every array's checksum
  auto crc_it = arrays.find(kCrcName);
  if (crc_it == arrays.end()) fail("it has no 'format.crc32' array of checksums");
  const auto crcs = from_npy<std::uint32_t>(crc_it->second, op, "'" + path + "': 'format.crc32'");
  if (crcs.dimension() != 1 || crcs.size() != arrays.size() - 1)
    fail("'format.crc32' holds " + std::to_string(crcs.size()) + " checksums for " + std::to_string(arrays.size() - 1) +
         " arrays (an array was added or removed)");
  std::size_t k = 0;
  for (const auto& [name, array] : arrays) {
    if (name == kCrcName) continue;
    const std::uint32_t crc = crc_of(array.bytes);
    if (crc != crcs.data()[k]) {
      std::ostringstream msg;
      msg << "array '" << name << "' is corrupt: its CRC-32 is " << std::hex << crc << ", the file recorded " << crcs.data()[k];
      fail(msg.str());
    }
    ++k;
  }

  Loaded<T> out;
  const std::string expected_dtype = to_npy(xt::xarray<T>(T{})).dtype;
  bool has_rng = false, has_epoch = false, has_step = false;
  auto int_scalar = [&](const std::string& name, const NpyArray& a) {
    const auto v = from_npy<std::int64_t>(a, op, "'" + path + "': '" + name + "'");
    if (v.size() != 1) fail("'" + name + "' has shape " + shape_str(v.shape()) + ", expected one value");
    const std::int64_t value = v.data()[0];
    if (value < 0) fail("'" + name + "' is " + std::to_string(value) + ", expected >= 0");
    return value;
  };
  for (const auto& entry : arrays) {
    const std::string& name = entry.first;  // not a structured binding: lambdas capture it (C++20, clang 14)
    const NpyArray& array = entry.second;
    auto take = [&](const char* prefix, auto& dict, const std::string& dtype) {
      const std::string p = prefix;
      if (name.compare(0, p.size(), p) != 0) return false;
      if (array.dtype != dtype)
        fail("'" + name + "' holds " + array.dtype + " values but the " + p.substr(0, p.size() - 1) + " here holds " +
             dtype + " (another value type)");
      using V = typename std::decay_t<decltype(dict)>::mapped_type::value_type;
      dict.emplace(name.substr(p.size()), from_npy<V>(array, op, "'" + path + "': '" + name + "'"));
      return true;
    };
    if (take("model.", out.model, expected_dtype) || take("optimizer.", out.optimizer, expected_dtype) ||
        take("scheduler.", out.scheduler, to_npy(xt::xarray<double>(0.0)).dtype))
      continue;
    if (name == kVersionName || name == kCrcName) continue;
    if (name == "progress.epoch") {
      out.progress.epoch = int_scalar(name, array);
      has_epoch = true;
    } else if (name == "progress.step") {
      out.progress.step = int_scalar(name, array);
      has_step = true;
    } else if (name == kRngName) {
      const auto words = from_npy<std::uint64_t>(array, op, "'" + path + "': '" + name + "'");
      std::ostringstream text;
      for (auto w : words) text << w << ' ';
      std::istringstream is(text.str());
      is >> out.rng;
      if (is.fail() || words.dimension() != 1 || rng_words(out.rng) != words)
        fail("'" + name + "' is not the state of a std::mt19937_64 (" + std::to_string(words.size()) + " words)");
      has_rng = true;
    } else {
      fail("unexpected array '" + name + "'");
    }
  }
  if (!has_rng || !has_epoch || !has_step)
    fail(std::string("missing ") + (!has_rng ? "'rng.mt19937_64'" : !has_epoch ? "'progress.epoch'" : "'progress.step'"));
  if (want_scheduler && out.scheduler.empty()) fail("it holds no scheduler state, but a scheduler was given");
  if (!want_scheduler && !out.scheduler.empty())
    fail("it holds a scheduler state, but no scheduler was given (pass the run's scheduler)");
  return out;
}

}  // namespace

template <class T>
void save_training_state(const std::string& path, const Module<T>& model, const optim::Optimizer<T>& optimizer,
                         const optim::LRScheduler* scheduler, TrainingProgress progress, const std::mt19937_64& rng) {
  TG_CHECK(progress.epoch >= 0 && progress.step >= 0, "save_training_state",
           "'" + path + "': epoch " + std::to_string(progress.epoch) + " and step " + std::to_string(progress.step) +
               " must be >= 0");
  NpyArrays arrays;
  for (const auto& [name, value] : model.state_dict()) arrays.emplace("model." + name, to_npy(value));
  for (const auto& [name, value] : optimizer.state_dict()) arrays.emplace("optimizer." + name, to_npy(value));
  if (scheduler)
    for (const auto& [name, value] : scheduler->state_dict()) arrays.emplace("scheduler." + name, to_npy(value));
  arrays.emplace(kRngName, to_npy(rng_words(rng)));
  arrays.emplace("progress.epoch", scalar_npy<std::int64_t>(progress.epoch));
  arrays.emplace("progress.step", scalar_npy<std::int64_t>(progress.step));
  arrays.emplace(kVersionName, scalar_npy<std::int64_t>(training_state_version));
  // one checksum per array, in name order; the checksum array itself is not counted
  std::vector<std::uint32_t> crcs;
  for (const auto& [name, array] : arrays) crcs.push_back(crc_of(array.bytes));
  xt::xarray<std::uint32_t> crc_array = xt::xarray<std::uint32_t>::from_shape({crcs.size()});
  std::copy(crcs.begin(), crcs.end(), crc_array.begin());
  arrays.emplace(kCrcName, to_npy(crc_array));
  try {
    save_npz_arrays(path, arrays);
  } catch (const Error& e) {
    throw Error(std::string("save_training_state: ") + e.what());
  }
}

template <class T>
TrainingProgress load_training_state(const std::string& path, Module<T>& model, optim::Optimizer<T>& optimizer,
                                     optim::LRScheduler* scheduler, std::mt19937_64& rng) {
  Loaded<T> loaded = read_checked<T>(path, scheduler != nullptr);
  auto wrap = [&](const Error& e) { return Error("load_training_state: '" + path + "': " + e.what()); };
  // The model checks every name and shape before copying anything; the optimizer and the
  // scheduler check theirs too, but after the model has been written, so keep what the model
  // held and put it back if either refuses.
  StateDict<T> model_before = model.state_dict();
  StateDict<T> optimizer_before = optimizer.state_dict();
  try {
    model.load_state_dict(loaded.model);
  } catch (const Error& e) {
    throw wrap(e);
  }
  try {
    optimizer.load_state_dict(loaded.optimizer);
    if (scheduler) scheduler->load_state_dict(loaded.scheduler);
  } catch (const Error& e) {
    model.load_state_dict(model_before);
    optimizer.load_state_dict(optimizer_before);  // the scheduler changes nothing when it refuses
    throw wrap(e);
  }
  rng = loaded.rng;
  return loaded.progress;
}

template void save_training_state(const std::string&, const Module<float>&, const optim::Optimizer<float>&,
                                  const optim::LRScheduler*, TrainingProgress, const std::mt19937_64&);
template void save_training_state(const std::string&, const Module<double>&, const optim::Optimizer<double>&,
                                  const optim::LRScheduler*, TrainingProgress, const std::mt19937_64&);
template TrainingProgress load_training_state(const std::string&, Module<float>&, optim::Optimizer<float>&,
                                              optim::LRScheduler*, std::mt19937_64&);
template TrainingProgress load_training_state(const std::string&, Module<double>&, optim::Optimizer<double>&,
                                              optim::LRScheduler*, std::mt19937_64&);

}  // namespace tg::nn
