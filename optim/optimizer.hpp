#pragma once
// The optimizer base: parameter groups with their own hyperparameters, per-parameter state,
// zero_grad(), step(), and a state_dict that resumes training bit for bit.
//
// Three layers, each for one audience:
//   OptimizerBase       what a scheduler or a training loop needs (step, zero_grad, lr of a group);
//   Optimizer<T>        the parameters, their state, step() and state_dict(), shared by all;
//   OptimizerOf<T, O>   typed options per group (O = AdamOptions, SGDOptions, ...).
// A concrete optimizer (SGD, Adam, ...) only names its state buffers and writes its update.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../autograd/core/variable.hpp"
#include "../autograd/tools/serialize.hpp"

namespace tg::optim {

/// What learning-rate schedulers and training loops see of any optimizer.
class OptimizerBase {
 public:
  virtual ~OptimizerBase() = default;
  /// One update of every parameter that has a gradient; records nothing on the tape.
  virtual void step() = 0;
  /// Clears every parameter's gradient (it becomes undefined, as PyTorch's set_to_none).
  virtual void zero_grad() = 0;
  virtual std::size_t num_groups() const = 0;
  virtual double lr(std::size_t group) const = 0;
  virtual void set_lr(std::size_t group, double lr) = 0;
  /// "SGD", "Adam", ...: the prefix of every error message.
  const char* name() const noexcept { return name_; }

 protected:
  explicit OptimizerBase(const char* name) : name_(name) {}
  OptimizerBase(const OptimizerBase&) = default;
  OptimizerBase& operator=(const OptimizerBase&) = default;

 private:
  const char* name_;
};

/// Parameters and their optimizer state; the update rule is the derived class's.
///
/// State dict layout (all arrays of T, so an npz holds it):
///   "group.<g>.<hyperparameter>"  0-d, every hyperparameter of group g (booleans as 0/1);
///   "group.<g>.params"            1-d, the indices of group g's parameters;
///   "state.<i>.step"              0-d, updates applied to parameter i (exact up to 2^24 in float);
///   "state.<i>.<buffer>"          the parameter's shape ("exp_avg", "momentum_buffer", ...).
/// Parameters are numbered across groups in order, as PyTorch does. A parameter not yet
/// updated has no "state.<i>.*" entries.
template <class T>
class Optimizer : public OptimizerBase {
 public:
  void step() final;
  void zero_grad() override;
  std::size_t num_groups() const override { return group_size_.size(); }
  /// The parameters of one group, in order.
  std::vector<Variable<T>> params(std::size_t group) const;
  /// Every parameter, numbered as in the state dict.
  std::vector<Variable<T>> params() const;
  /// Updates applied to parameter i so far.
  std::int64_t step_count(std::size_t param) const;

  StateDict<T> state_dict() const;
  /// Restores hyperparameters and state. Checks every name and shape first (a tg::Error names
  /// what is missing, unexpected or mis-shaped) and changes nothing unless all of it fits.
  void load_state_dict(const StateDict<T>& state);

 protected:
  /// One parameter and its state. buffers[k] is the k-th of buffer_names(); it exists
  /// (allocated == bit k set) from the parameter's first update that uses it, and is updated
  /// in place afterwards.
  struct Slot {
    Variable<T> param;
    std::size_t group = 0;
    std::int64_t step = 0;
    std::uint32_t allocated = 0;
    std::vector<xt::xarray<T>> buffers;
  };

  /// buffer_names must outlive the optimizer (a static array of literals).
  Optimizer(const char* name, std::span<const char* const> buffer_names);

  /// Appends a group of parameters: each must be a defined leaf not already in the optimizer.
  void add_params(const std::vector<Variable<T>>& params);
  void check_group(std::size_t group, const char* what) const;

  // ---- what each optimizer provides ----
  /// The hyperparameter names of every group, in a fixed order.
  virtual std::vector<std::string> hyper_names() const = 0;
  virtual std::vector<double> hyper_values(std::size_t group) const = 0;
  /// Validates hyperparameter values (in hyper_names() order) and returns which buffers
  /// they use (bit k: buffer_names()[k]). Throws tg::Error on a bad value.
  virtual std::uint32_t check_hyper(const std::vector<double>& values) const = 0;
  /// Sets a group's hyperparameters from values check_hyper accepted.
  virtual void set_hyper(std::size_t group, const std::vector<double>& values) = 0;
  /// The buffers a group's current options use.
  virtual std::uint32_t group_buffers(std::size_t group) const = 0;
  /// Updates slot.param in place from its gradient. Every buffer the group uses exists
  /// (zeros when new); fresh has bit k set for a buffer created for this very step.
  /// slot.step has already been incremented (1 on the first update).
  virtual void update(Slot& slot, std::uint32_t fresh) = 0;

  std::span<const char* const> buffer_names_;
  std::vector<Slot> slots_;                 // group by group
  std::vector<std::size_t> group_size_;     // parameters per group
};

/// A group of parameters with its own options; without options it takes the optimizer's
/// defaults. Options given here replace the defaults entirely, as in PyTorch's C++ frontend.
template <class T, class Options>
struct ParamGroup {
  std::vector<Variable<T>> params{};
  std::optional<Options> options = std::nullopt;
};

namespace detail {
/// "Adam: invalid lr -0.1 (must be >= 0)" unless ok.
void check_option(bool ok, const char* op, const char* field, double value, const char* rule);
/// value is finite and >= 0 ("must be finite and >= 0").
void check_non_negative(const char* op, const char* field, double value);
/// 0 <= value < 1, as betas and decay rates ("must be in [0, 1)").
void check_fraction(const char* op, const char* field, double value);
}  // namespace detail

/// Typed options per group. Options is an aggregate with
///   void validate() const;                                   // tg::Error quoting a bad value
///   template <class O, class F> static void fields(O&, F&&); // f(name, double& or bool&) per field
/// and, for the public constructors (an optimizer takes them with `using OptimizerOf::OptimizerOf`),
///   static constexpr const char* name;                       // "SGD": prefix of every error
///   static constexpr const char* state[];                    // per-parameter buffers (state dict names)
template <class T, class Options>
class OptimizerOf : public Optimizer<T> {
 public:
  using options_type = Options;
  using Group = ParamGroup<T, Options>;

  /// One group of parameters with these options.
  explicit OptimizerOf(std::vector<Variable<T>> params, Options options = {})
      : OptimizerOf(std::vector<Group>{Group{std::move(params), std::nullopt}}, options) {}
  /// Groups with their own options; a group without any takes `defaults`.
  explicit OptimizerOf(std::vector<Group> groups, Options defaults = {})
      : OptimizerOf(Options::name, Options::state, std::move(groups), defaults) {}

  const Options& defaults() const noexcept { return defaults_; }
  const Options& options(std::size_t group) const {
    this->check_group(group, "options");
    return options_[group];
  }
  /// Replaces a group's options (validated). Hyperparameters are held at the precision of T,
  /// so that a StateDict<T> round-trips them exactly.
  void set_options(std::size_t group, Options options) {
    this->check_group(group, "set_options");
    options_[group] = rounded(options);
  }
  void add_param_group(Group group) {
    Options o = group.options ? rounded(*group.options) : defaults_;
    this->add_params(group.params);
    options_.push_back(o);
  }
  double lr(std::size_t group) const override { return options(group).lr; }
  void set_lr(std::size_t group, double lr) override {
    this->check_group(group, "set_lr");
    Options o = options_[group];
    o.lr = lr;
    options_[group] = rounded(o);
  }

 protected:
  /// For an optimizer whose Options lack `name` and `state`.
  OptimizerOf(const char* name, std::span<const char* const> buffer_names, std::vector<Group> groups,
              Options defaults)
      : Optimizer<T>(name, buffer_names), defaults_(rounded(defaults)) {
    TG_CHECK(!groups.empty(), name, "got an empty parameter list");
    for (auto& g : groups) add_param_group(std::move(g));
  }

  /// Which buffers these options use (bit k: buffer_names()[k]).
  virtual std::uint32_t buffers_for(const Options& options) const = 0;

  std::vector<std::string> hyper_names() const override {
    std::vector<std::string> names;
    Options o;
    Options::fields(o, [&](const char* name, auto&) { names.emplace_back(name); });
    return names;
  }
  std::vector<double> hyper_values(std::size_t group) const override {
    std::vector<double> values;
    Options o = options_[group];
    Options::fields(o, [&](const char*, auto& v) { values.push_back(static_cast<double>(v)); });
    return values;
  }
  std::uint32_t check_hyper(const std::vector<double>& values) const override {
    Options o = from_values(values);
    o.validate();
    return buffers_for(o);
  }
  void set_hyper(std::size_t group, const std::vector<double>& values) override {
    options_[group] = rounded(from_values(values));
  }
  std::uint32_t group_buffers(std::size_t group) const override { return buffers_for(options_[group]); }

  static Options from_values(const std::vector<double>& values) {
    Options o;
    std::size_t i = 0;
    Options::fields(o, [&](const char*, auto& v) {
      if constexpr (std::is_same_v<std::decay_t<decltype(v)>, bool>)
        v = values.at(i++) != 0;
      else
        v = values.at(i++);
    });
    return o;
  }
  /// Validated, with every real hyperparameter rounded to T: the optimizer computes with
  /// exactly what a StateDict<T> can store.
  static Options rounded(Options o) {
    o.validate();
    Options::fields(o, [](const char*, auto& v) {
      if constexpr (std::is_same_v<std::decay_t<decltype(v)>, double>) v = static_cast<double>(static_cast<T>(v));
    });
    return o;
  }

  Options defaults_;
  std::vector<Options> options_;  // one per group
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;

/// What every optimizer declares after its class: deduction guides (SGD opt(params) deduces T
/// from the parameters, as the constructors of each class did before they were inherited) and
/// the extern declarations of its float and double instances, made once in its .cpp by
/// TG_OPTIMIZER_INSTANTIATE.
#define TG_OPTIMIZER_DECLARE(Class, Options)                                                   \
  template <class T>                                                                           \
  Class(std::vector<Variable<T>>, Options = {})->Class<T>;                                     \
  template <class T>                                                                           \
  Class(std::vector<ParamGroup<T, Options>>, Options = {})->Class<T>;                          \
  TG_OPTIMIZER_INSTANCES(extern template, Class, Options)
#define TG_OPTIMIZER_INSTANTIATE(Class, Options) TG_OPTIMIZER_INSTANCES(template, Class, Options)
#define TG_OPTIMIZER_INSTANCES(prefix, Class, Options)                                         \
  prefix class OptimizerOf<float, Options>;                                                    \
  prefix class OptimizerOf<double, Options>;                                                   \
  prefix class Class<float>;                                                                   \
  prefix class Class<double>;

}  // namespace tg::optim
