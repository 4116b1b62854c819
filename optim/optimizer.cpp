// The optimizer base: parameter bookkeeping, the step driver, state_dict save and load.
#include "optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

namespace tg::optim {

namespace detail {
void check_option(bool ok, const char* op, const char* field, double value, const char* rule) {
  if (!ok) throw Error(std::string(op) + ": invalid " + field + " " + number_str(value) + " (" + rule + ")");
}
void check_non_negative(const char* op, const char* field, double value) {
  check_option(value >= 0 && std::isfinite(value), op, field, value, "must be finite and >= 0");
}
void check_fraction(const char* op, const char* field, double value) {
  check_option(value >= 0 && value < 1, op, field, value, "must be in [0, 1)");
}
}  // namespace detail

namespace {
template <class T>
xt::xarray<T> scalar_array(double value) {
  xt::xarray<T> a = xt::xarray<T>::from_shape({});
  a() = static_cast<T>(value);
  return a;
}
template <class T>
xt::xarray<T> zeros_of(const Shape& shape) {
  xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
  std::fill_n(a.data(), a.size(), T(0));
  return a;
}
}  // namespace

template <class T>
Optimizer<T>::Optimizer(const char* name, std::span<const char* const> buffer_names)
    : OptimizerBase(name), buffer_names_(buffer_names) {}

template <class T>
void Optimizer<T>::check_group(std::size_t group, const char* what) const {
  TG_CHECK(group < group_size_.size(), name(),
           std::string(what) + ": no parameter group " + std::to_string(group) + " (the optimizer has " +
               std::to_string(group_size_.size()) + ")");
}

template <class T>
void Optimizer<T>::add_params(const std::vector<Variable<T>>& params) {
  const std::size_t group = group_size_.size();
  const std::string where = "parameter group " + std::to_string(group);
  TG_CHECK(!params.empty(), name(), (group == 0 ? "got an empty parameter list (" + where + " is empty)" : where + " is empty"));
  // Check everything before changing anything, so a failed add leaves the optimizer as it was.
  std::unordered_map<const Node<T>*, std::size_t> seen;
  for (std::size_t i = 0; i < slots_.size(); ++i) seen.emplace(slots_[i].param.node(), i);
  for (std::size_t k = 0; k < params.size(); ++k) {
    const auto& p = params[k];
    const std::string which = "parameter " + std::to_string(slots_.size() + k) + " (" + where + ")";
    TG_CHECK(p.defined(), name(), which + " is undefined");
    TG_CHECK(p.is_leaf(), name(), which + " of shape " + shape_str(p.shape()) + " is the result of op '" +
                                      p.op_name() + "', not a leaf: optimizers update leaves");
    auto [it, inserted] = seen.emplace(p.node(), slots_.size() + k);
    TG_CHECK(inserted, name(), which + " of shape " + shape_str(p.shape()) + " is already parameter " +
                                   std::to_string(it->second) + ": a parameter may appear only once");
  }
  for (const auto& p : params) {
    Slot s;
    s.param = p;
    s.group = group;
    s.buffers.resize(buffer_names_.size());
    slots_.push_back(std::move(s));
  }
  group_size_.push_back(params.size());
}

template <class T>
std::vector<Variable<T>> Optimizer<T>::params(std::size_t group) const {
  check_group(group, "params");
  std::vector<Variable<T>> out;
  for (const auto& s : slots_)
    if (s.group == group) out.push_back(s.param);
  return out;
}

template <class T>
std::vector<Variable<T>> Optimizer<T>::params() const {
  std::vector<Variable<T>> out;
  out.reserve(slots_.size());
  for (const auto& s : slots_) out.push_back(s.param);
  return out;
}

template <class T>
std::int64_t Optimizer<T>::step_count(std::size_t param) const {
  TG_CHECK(param < slots_.size(), name(),
           "step_count: no parameter " + std::to_string(param) + " (the optimizer has " +
               std::to_string(slots_.size()) + ")");
  return slots_[param].step;
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& s : slots_) s.param.zero_grad();
}

template <class T>
void Optimizer<T>::step() {
  // The update edits values in place with raw loops: nothing is recorded, nothing reallocated.
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!s.param.has_grad()) continue;
    const Shape& shape = s.param.shape();
    TG_CHECK(s.param.grad().shape() == shape, name(),
             "parameter " + std::to_string(i) + " of shape " + shape_str(shape) + " has a gradient of shape " +
                 shape_str(s.param.grad().shape()));
    const std::uint32_t used = group_buffers(s.group);
    std::uint32_t fresh = 0;
    for (std::size_t k = 0; k < buffer_names_.size(); ++k) {
      const std::uint32_t bit = 1u << k;
      if (!(used & bit)) continue;
      if (s.allocated & bit) {
        TG_CHECK(s.buffers[k].shape() == shape, name(),
                 "parameter " + std::to_string(i) + " now has shape " + shape_str(shape) + " but its state '" +
                     buffer_names_[k] + "' has shape " + shape_str(s.buffers[k].shape()));
      } else {
        s.buffers[k] = zeros_of<T>(shape);
        s.allocated |= bit;
        fresh |= bit;
      }
    }
    ++s.step;
    update(s, fresh);
  }
}

template <class T>
StateDict<T> Optimizer<T>::state_dict() const {
  StateDict<T> out;
  const auto names = hyper_names();
  std::vector<std::vector<T>> members(group_size_.size());
  for (std::size_t i = 0; i < slots_.size(); ++i) members[slots_[i].group].push_back(static_cast<T>(i));
  for (std::size_t g = 0; g < group_size_.size(); ++g) {
    const std::string prefix = "group." + std::to_string(g) + ".";
    const auto values = hyper_values(g);
    for (std::size_t h = 0; h < names.size(); ++h) out[prefix + names[h]] = scalar_array<T>(values[h]);
    xt::xarray<T> idx = xt::xarray<T>::from_shape({members[g].size()});
    std::copy(members[g].begin(), members[g].end(), idx.data());
    out[prefix + "params"] = std::move(idx);
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.step == 0) continue;
    const std::string prefix = "state." + std::to_string(i) + ".";
    out[prefix + "step"] = scalar_array<T>(static_cast<double>(s.step));
    for (std::size_t k = 0; k < buffer_names_.size(); ++k)
      if (s.allocated & (1u << k)) out[prefix + buffer_names_[k]] = s.buffers[k];
  }
  return out;
}

template <class T>
void Optimizer<T>::load_state_dict(const StateDict<T>& state) {
  const std::string op = std::string(name()) + ".load_state_dict";
  std::set<std::string> unused;
  for (const auto& [key, value] : state) unused.insert(key);
  auto find = [&](const std::string& key) -> const xt::xarray<T>& {
    auto it = state.find(key);
    TG_CHECK(it != state.end(), op, "missing '" + key + "'");
    unused.erase(key);
    return it->second;
  };
  auto scalar = [&](const std::string& key) -> double {
    const auto& a = find(key);
    TG_CHECK(a.size() == 1, op, "'" + key + "' should hold one value but has shape " + shape_str(a.shape()));
    return static_cast<double>(a.data()[0]);
  };

  // Phase 1: read and check everything.
  const auto names = hyper_names();
  std::vector<std::vector<double>> hyper(group_size_.size());
  std::vector<std::uint32_t> used(group_size_.size());
  for (std::size_t g = 0; g < group_size_.size(); ++g) {
    const std::string prefix = "group." + std::to_string(g) + ".";
    for (const auto& h : names) hyper[g].push_back(scalar(prefix + h));
    try {
      used[g] = check_hyper(hyper[g]);
    } catch (const Error& e) {
      throw Error(op + ": group " + std::to_string(g) + ": " + e.what());
    }
    const auto& idx = find(prefix + "params");
    std::vector<std::size_t> expected;
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].group == g) expected.push_back(i);
    bool same = idx.dimension() == 1 && idx.size() == expected.size();
    for (std::size_t k = 0; same && k < expected.size(); ++k) same = idx.data()[k] == static_cast<T>(expected[k]);
    if (!same) {
      std::vector<long long> given;
      for (std::size_t k = 0; k < idx.size(); ++k) given.push_back(static_cast<long long>(idx.data()[k]));
      throw Error(op + ": group " + std::to_string(g) + " holds parameters " + shape_str(expected) +
                  " but the state dict's group holds " + shape_str(given));
    }
  }
  std::vector<std::int64_t> steps(slots_.size(), 0);
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const std::string prefix = "state." + std::to_string(i) + ".";
    if (!state.count(prefix + "step")) continue;  // not updated yet; stray buffers are reported below
    const double step = scalar(prefix + "step");
    TG_CHECK(step >= 1 && step == std::floor(step), op,
             "'" + prefix + "step' is " + number_str(step) + ", not a positive whole number");
    steps[i] = static_cast<std::int64_t>(step);
    const Shape& shape = slots_[i].param.shape();
    for (std::size_t k = 0; k < buffer_names_.size(); ++k) {
      const std::string key = prefix + buffer_names_[k];
      // Buffers the options use must be there; others (left from earlier options) may be.
      if (!(used[slots_[i].group] & (1u << k)) && !state.count(key)) continue;
      const auto& b = find(key);
      TG_CHECK(b.shape() == shape, op,
               "'" + key + "' has shape " + shape_str(b.shape()) + " but parameter " + std::to_string(i) +
                   " has shape " + shape_str(shape));
    }
  }
  if (!unused.empty()) {
    std::string list;
    for (const auto& key : unused) list += (list.empty() ? "'" : ", '") + key + "'";
    throw Error(op + ": unexpected " + list + " (the optimizer has " + std::to_string(group_size_.size()) +
                " groups and " + std::to_string(slots_.size()) + " parameters)");
  }

  // Phase 2: commit. Existing buffers are overwritten in place.
  for (std::size_t g = 0; g < group_size_.size(); ++g) set_hyper(g, hyper[g]);
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    s.step = steps[i];
    const std::string prefix = "state." + std::to_string(i) + ".";
    std::uint32_t allocated = 0;
    for (std::size_t k = 0; k < buffer_names_.size(); ++k) {
      auto it = s.step ? state.find(prefix + buffer_names_[k]) : state.end();
      if (it == state.end()) continue;
      if ((s.allocated & (1u << k)) && s.buffers[k].shape() == it->second.shape())
        std::copy_n(it->second.data(), it->second.size(), s.buffers[k].data());
      else
        s.buffers[k] = it->second;
      allocated |= 1u << k;
    }
    s.allocated = allocated;
  }
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace tg::optim
