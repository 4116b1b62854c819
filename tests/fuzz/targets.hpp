#pragma once
// The three fuzz targets as plain functions, shared by the libFuzzer programs (fuzz_*.cpp,
// built by scripts/fuzz with clang, ASan and UBSan) and by tests/test_fuzz_regressions.cpp,
// which replays the seed corpora and every input a fuzzer once crashed on in the ordinary
// builds. Each returns normally when the library behaved: it read the input, or refused it
// with a tg::Error. Anything else (another exception, a crash, a sanitizer report, a wrong
// gradient) is a finding: an exception escapes, or the target aborts with a message.
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <FuzzedDataProvider.h>

#include <tapegrad/tapegrad.hpp>

#include "../ops/op_catalogue.hpp"

namespace tg::fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

/// The readers take paths: the input goes into an in-memory file (memfd), read through
/// /proc/self/fd/N, so no disk is touched and every run starts from the same state.
class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("tapegrad-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) finding("memfd_create failed");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  const std::string& write(const std::uint8_t* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0) finding("ftruncate failed");
    for (std::size_t at = 0; at < size;) {
      const auto n = ::pwrite(fd_, data + at, size - at, static_cast<off_t>(at));
      if (n <= 0) finding("pwrite failed");
      at += static_cast<std::size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

inline MemoryFile& memory_file() {
  static MemoryFile file;
  return file;
}

// ---- .npz / .npy: the state-dict and training-state loaders ---------------------------------

/// load_npz_arrays (any dtype), load_npz<float> and <double> (the conversions), nn::load into a
/// small model, and load_training_state into a small run.
inline void npz_one(const std::uint8_t* data, std::size_t size) {
  const std::string& path = memory_file().write(data, size);
  try {
    const NpyArrays arrays = load_npz_arrays(path);
    for (const auto& [name, array] : arrays)
      if (array.dtype.size() != 3) finding("load_npz_arrays returned dtype '" + array.dtype + "'");
  } catch (const Error&) {
    return;  // refused: nothing more to read
  }
  try {
    load_npz<float>(path);
  } catch (const Error&) {
  }
  try {
    load_npz<double>(path);
  } catch (const Error&) {
  }
  static nn::MLP<float> model({3, 4, 2});
  static optim::Adam<float> optimizer(model.parameters());
  static optim::StepLR scheduler(optimizer, 2);
  const StateDict<float> before = model.state_dict();
  try {
    nn::load(model, path);
    model.load_state_dict(before);
  } catch (const Error&) {
    if (model.state_dict() != before) finding("a failed nn::load changed the model");
  }
  try {
    nn::load_training_state(path, model, optimizer, &scheduler);
    model.load_state_dict(before);
  } catch (const Error&) {
    if (model.state_dict() != before) finding("a failed load_training_state changed the model");
  }
}

// ---- IDX files, gzipped or plain -------------------------------------------------------------

inline void idx_one(const std::uint8_t* data, std::size_t size) {
  const std::string& path = memory_file().write(data, size);
  try {
    const data::IdxArray idx = data::read_idx(path);
    if (idx.data.size() != idx.numel()) finding("read_idx returned " + std::to_string(idx.data.size()) + " bytes for " +
                                                shape_str(idx.dims));
  } catch (const Error&) {
  }
}

// ---- op sequences ----------------------------------------------------------------------------

using catalogue::D;
using catalogue::Params;
using catalogue::to_shape;
using OpEntry = catalogue::OpInfo;

/// Every public op (the op catalogue, tests/ops/op_catalogue.hpp, whose completeness
/// test_op_catalogue checks against the library's registry) and the factories.
inline const std::vector<OpEntry>& op_table() { return catalogue::op_catalogue(); }

/// A number for a wild input: mostly small, often one of the values that break code.
inline double wild_value(FuzzedDataProvider& p) {
  static constexpr double special[] = {0.0, -0.0, 1.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                                       std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                                       1e308, -1e308, 1e-310, std::numeric_limits<double>::max(),
                                       std::numeric_limits<double>::lowest(), 0.5, 2.0};
  if (p.ConsumeBool()) return special[p.ConsumeIntegralInRange<std::size_t>(0, std::size(special) - 1)];
  return p.ConsumeFloatingPointInRange<double>(-8.0, 8.0);
}

/// A size for a shape argument: usually small, sometimes negative, sometimes huge.
inline std::int64_t wild_size(FuzzedDataProvider& p) {
  switch (p.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: return -1;
    case 1: return p.ConsumeIntegralInRange<std::int64_t>(-3, -2);
    case 2: return std::int64_t{1} << p.ConsumeIntegralInRange<int>(32, 62);  // with another one: overflow
    case 3: return std::numeric_limits<std::int64_t>::max();
    default: return p.ConsumeIntegralInRange<std::int64_t>(0, 4);
  }
}

/// Sizes whose product either is small or overflows 2^63, never a huge allocation that fits:
/// a request for 2^40 doubles is the operating system's refusal, not tapegrad's to report.
inline std::vector<std::int64_t> wild_sizes(FuzzedDataProvider& p) {
  std::vector<std::int64_t> sizes(p.ConsumeIntegralInRange<std::size_t>(0, 4));
  for (auto& s : sizes) s = wild_size(p);
  std::size_t huge = 0;
  for (auto s : sizes) huge += s > 64;
  if (huge == 1)
    for (auto& s : sizes)
      if (s > 64) s = 3;
  if (huge >= 2) sizes.push_back(std::int64_t{1} << 62);  // make sure the product overflows
  return sizes;
}

inline Params decode_params(FuzzedDataProvider& p, bool wild) {
  Params prm;
  auto axis = [&] { return p.ConsumeIntegralInRange<std::int64_t>(wild ? -5 : -2, wild ? 5 : 2); };
  prm.axis = axis();
  prm.axis2 = axis();
  prm.axis3 = p.ConsumeIntegralInRange<std::int64_t>(wild ? -2 : 0, 4);
  prm.axes.resize(p.ConsumeIntegralInRange<std::size_t>(0, 3));
  for (auto& a : prm.axes) a = axis();
  prm.flag = p.ConsumeBool();
  prm.flag2 = p.ConsumeBool();
  prm.s = wild ? wild_value(p) : p.ConsumeFloatingPointInRange<double>(-2.0, 2.0);
  prm.s2 = wild ? wild_value(p) : p.ConsumeFloatingPointInRange<double>(-2.0, 2.0);
  if (wild) {
    prm.sizes = wild_sizes(p);
  } else {
    prm.sizes.resize(p.ConsumeIntegralInRange<std::size_t>(0, 3));
    for (auto& s : prm.sizes) s = p.ConsumeIntegralInRange<std::int64_t>(-1, 3);
  }
  Shape index_shape(p.ConsumeIntegralInRange<std::size_t>(0, 2));
  for (auto& d : index_shape) d = p.ConsumeIntegralInRange<std::size_t>(0, 3);
  prm.index = IndexArray::from_shape(index_shape);
  for (auto& v : prm.index) v = p.ConsumeIntegralInRange<Index>(wild ? -3 : 0, wild ? 6 : 2);
  return prm;
}

/// A leaf of rank 0-3 with sizes 0-4 and wild values, or (safe) sizes 1-3, values in [0.5, 2].
inline D make_leaf(FuzzedDataProvider& p, bool wild) {
  Shape shape(p.ConsumeIntegralInRange<std::size_t>(0, 3));
  for (auto& d : shape) d = p.ConsumeIntegralInRange<std::size_t>(wild ? 0 : 1, wild ? 4 : 3);
  xt::xarray<double> v = xt::xarray<double>::from_shape(shape);
  for (auto& x : v) x = wild ? wild_value(p) : p.ConsumeFloatingPointInRange<double>(0.5, 2.0);
  return D(std::move(v), wild ? p.ConsumeBool() : true);
}

/// Checks what a successful op returned: a defined variable whose backward (with a seed of
/// ones) runs and leaves every leaf a gradient of its own shape.
inline void check_backward(const std::string& op, const D& out, const std::vector<D>& leaves) {
  if (!out.defined()) finding(op + " returned an undefined variable");
  if (out.value().size() != out.numel()) finding(op + ": numel and size disagree");
  if (!out.requires_grad()) return;
  try {
    out.backward(ones_like(out), {.retain_graph = true});
  } catch (const std::exception& e) {
    finding(op + ": backward threw: " + e.what());
  }
  for (const auto& leaf : leaves)
    if (leaf.has_grad() && leaf.grad().shape() != leaf.shape())
      finding(op + ": a gradient of shape " + shape_str(leaf.grad().shape()) + " for a leaf of shape " +
              shape_str(leaf.shape()));
}

/// Bytes -> a short program: a few leaves, then up to 8 ops on random inputs from the pool
/// (wild: empty, NaN, Inf, huge and negative sizes, bad axes), each either refused with a
/// tg::Error or giving a result whose backward runs. One run in four instead checks a single
/// smooth op on small positive double inputs against central differences (tg::gradcheck).
inline void ops_one(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  const auto& table = op_table();
  const bool gradcheck_mode = p.ConsumeIntegralInRange<int>(0, 3) == 0;
  if (gradcheck_mode) {
    const OpEntry& op = table[p.ConsumeIntegralInRange<std::size_t>(0, table.size() - 1)];
    if (!op.smooth || op.arity == 0) return;
    std::vector<D> leaves;
    for (std::size_t i = 0; i < op.arity; ++i) leaves.push_back(make_leaf(p, false));
    const Params prm = decode_params(p, false);
    D out;
    try {
      out = op.call(leaves, prm);
    } catch (const Error&) {
      return;
    }
    for (double v : out.value())
      if (!std::isfinite(v) || std::abs(v) > 1e6) return;  // overflowed: differences mean nothing
    if (out.numel() > 64) return;
    const auto f = [&](const std::vector<D>& in) { return op.call(in, prm); };
    const auto r = gradcheck(f, leaves, {.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3, .raise_exception = false});
    if (!r) finding(op.label() + ": gradcheck failed: " + r.message);
    return;
  }
  std::vector<D> pool;
  const std::size_t leaves = p.ConsumeIntegralInRange<std::size_t>(1, 3);
  for (std::size_t i = 0; i < leaves; ++i) pool.push_back(make_leaf(p, true));
  const std::vector<D> leaf_list = pool;
  const std::size_t steps = p.ConsumeIntegralInRange<std::size_t>(1, 8);
  for (std::size_t step = 0; step < steps && p.remaining_bytes() > 0; ++step) {
    const OpEntry& op = table[p.ConsumeIntegralInRange<std::size_t>(0, table.size() - 1)];
    std::vector<D> in;
    for (std::size_t i = 0; i < op.arity; ++i) in.push_back(pool[p.ConsumeIntegralInRange<std::size_t>(0, pool.size() - 1)]);
    const Params prm = decode_params(p, true);
    D out;
    try {
      out = op.call(in, prm);
    } catch (const Error&) {
      continue;
    }
    // catch nothing else: std::bad_alloc, std::out_of_range, xtensor's exceptions are findings
    check_backward(op.label(), out, leaf_list);
    if (pool.size() < 8) pool.push_back(out);
    else pool[step % pool.size()] = out;
  }
}

}  // namespace tg::fuzz
