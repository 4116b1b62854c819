#pragma once
// Variable<T>: a one-pointer handle to a node of the tape. A node holds the value, the
// gradient, the input edges and the backward function of the op that made it. The graph
// is owned by the variables that depend on it, so it is freed when the last handle goes.
#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "error.hpp"
#include "grad_mode.hpp"
#include "small_vector.hpp"

namespace tg {

using Shape = xt::svector<std::size_t, 4>;  // the shape type of xt::xarray
using Axes = std::vector<std::int64_t>;      // may be negative; {} means all axes
using Index = std::int64_t;
using IndexArray = xt::xarray<Index>;        // class labels, gather/scatter indices

template <class T>
class Variable;
template <class T>
struct Node;
using Var = Variable<float>;

/// One gradient per input of an op, in input order; an undefined Variable means "none".
/// Built like a std::vector (`return {ga, gb};`, push_back); up to three live inline.
template <class T>
using Grads = SmallVector<Variable<T>, 3>;

/// An input of a recorded op, with the version its value had when the op saw it: backward
/// refuses to run the op's derivative on a value written in place since (see mutable_value).
template <class T>
struct Edge {
  Variable<T> var;
  std::uint32_t version = 0;
};

/// The inputs of a recorded op; one or two live inline in the node.
template <class T>
using Edges = SmallVector<Edge<T>, 2>;

/// The inputs of an op as its derivative sees them: in[i] is input i.
template <class T>
class InputList {
 public:
  InputList(const Edge<T>* edges, std::size_t n) noexcept : edges_(edges), n_(n) {}
  const Variable<T>& operator[](std::size_t i) const noexcept { return edges_[i].var; }
  std::size_t size() const noexcept { return n_; }

 private:
  const Edge<T>* edges_;
  std::size_t n_;
};

/// What an op's derivative sees: the incoming gradient, its own result and its inputs.
template <class T>
struct GradContext {
  const Variable<T>& grad;           // dL/d(out), the shape of out
  const Variable<T>& out;            // the op's result
  InputList<T> in;                   // the inputs, in the order given to make_op
  bool needs(std::size_t i) const;   // does input i need a gradient?
};

namespace detail {
/// An op's derivative, type-erased: the callable lives inside the node when it fits in
/// `inline_bytes` (most capture a scalar, an axis list or a variable or two), otherwise on
/// the heap; either way one indirect call runs it. Saves the separate heap block a
/// std::function or a unique_ptr to a virtual class costs each recorded op.
template <class T>
class Derivative {
 public:
  static constexpr std::size_t inline_bytes = 48;

  Derivative() noexcept = default;
  Derivative(const Derivative&) = delete;
  Derivative& operator=(const Derivative&) = delete;
  ~Derivative() { reset(); }

  template <class F>
  void emplace(F&& f) {
    using Fn = std::decay_t<F>;
    reset();
    if constexpr (sizeof(Fn) <= inline_bytes && alignof(Fn) <= alignof(std::max_align_t)) {
      ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
      static constexpr Ops ops{[](void* p, const GradContext<T>& c) -> Grads<T> { return (*static_cast<Fn*>(p))(c); },
                               [](void* p) noexcept { static_cast<Fn*>(p)->~Fn(); }};
      ops_ = &ops;
    } else {
      *reinterpret_cast<Fn**>(storage_) = new Fn(std::forward<F>(f));
      static constexpr Ops ops{[](void* p, const GradContext<T>& c) -> Grads<T> { return (**static_cast<Fn**>(p))(c); },
                               [](void* p) noexcept { delete *static_cast<Fn**>(p); }};
      ops_ = &ops;
    }
  }
  explicit operator bool() const noexcept { return ops_ != nullptr; }
  Grads<T> operator()(const GradContext<T>& c) { return ops_->apply(storage_, c); }
  /// Frees what the derivative captured (saved inputs, masks).
  void reset() noexcept {
    if (ops_) std::exchange(ops_, nullptr)->destroy(storage_);
  }

 private:
  struct Ops {
    Grads<T> (*apply)(void*, const GradContext<T>&);
    void (*destroy)(void*) noexcept;
  };
  const Ops* ops_ = nullptr;
  alignas(std::max_align_t) std::byte storage_[inline_bytes];
};
}  // namespace detail

/// Names a hook registered on a leaf, for removing it (register_post_accumulate_grad_hook).
using HookId = std::uint64_t;

namespace detail {
/// A leaf's post-accumulate-grad hooks, in registration order. Never edited once shared:
/// registering or removing builds a new list, so backward can call a list while another
/// thread changes the leaf's hooks.
template <class T>
struct GradHooks {
  std::vector<std::pair<HookId, std::function<void(const Variable<T>&)>>> hooks;
};
}  // namespace detail

struct BackwardOptions {
  std::optional<bool> retain_graph = std::nullopt;  // keep the graph for another backward; default: create_graph
  bool create_graph = false;                        // record the backward pass too (higher-order gradients)
};

template <class T>
class Variable {
  static_assert(std::is_floating_point_v<T>, "tg::Variable<T>: T must be float or double");

 public:
  using value_type = T;
  using array_type = xt::xarray<T>;

  Variable() noexcept = default;
  explicit Variable(const array_type& value, bool requires_grad = false);
  explicit Variable(array_type&& value, bool requires_grad = false);
  explicit Variable(xt::nested_initializer_list_t<T, 1> values, bool requires_grad = false);
  explicit Variable(xt::nested_initializer_list_t<T, 2> values, bool requires_grad = false);
  explicit Variable(xt::nested_initializer_list_t<T, 3> values, bool requires_grad = false);
  /// Takes a new reference to an existing node.
  explicit Variable(Node<T>* node) noexcept;

  Variable(const Variable& other) noexcept;
  Variable(Variable&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {}
  Variable& operator=(const Variable& other) noexcept;
  Variable& operator=(Variable&& other) noexcept;
  ~Variable();

  bool defined() const noexcept { return node_ != nullptr; }
  const array_type& value() const;
  /// The value for in-place edits that bypass the tape (optimizer steps, initialisers, loading).
  /// Each call bumps the variable's version: a backward that would use the value an op saw
  /// before the edit throws a tg::Error naming the op instead of computing a wrong gradient.
  array_type& mutable_value();
  /// How many times the value was handed out for writing in place (mutable_value calls).
  std::uint32_t version() const;
  const Shape& shape() const;
  std::size_t dim() const;
  std::size_t numel() const;
  /// The value of a one-element variable.
  T item() const;

  bool requires_grad() const;
  /// Only on leaves: results of ops require grad exactly when one of their inputs does.
  Variable& set_requires_grad(bool requires_grad);
  bool is_leaf() const;
  /// The op that produced this variable ("" for a leaf).
  const char* op_name() const;
  const std::string& name() const;
  Variable& set_name(std::string name);

  bool has_grad() const;
  /// The accumulated gradient; a tg::Error if backward has not produced one.
  const Variable& grad() const;
  void set_grad(Variable grad);
  void zero_grad();

  /// Calls hook(leaf) each time backward() has accumulated this leaf's gradient of the pass
  /// into .grad() (once per pass that reaches it: every contribution of the pass is summed
  /// first), on the thread running backward, after the leaf's lock is released; hooks run in
  /// registration order (PyTorch's register_post_accumulate_grad_hook). tg::grad() fills no
  /// .grad() and calls none. Leaves that require grad only. The hook must not hold a handle
  /// to the leaf (the leaf owns the hook: a cycle that is never freed). Used to start
  /// communicating a gradient while backward goes on (tg::dist::GradientAverager).
  HookId register_post_accumulate_grad_hook(std::function<void(const Variable&)> hook);
  /// Removes a hook registered on this leaf; false if no such hook is registered here.
  bool remove_post_accumulate_grad_hook(HookId id);

  /// A new leaf holding a copy of the value, cut loose from the graph.
  Variable detach() const;

  /// Backpropagate from a one-element root (seed 1).
  void backward(BackwardOptions options = {}) const;
  /// Backpropagate from any root with the given dL/d(root). (A template only so that
  /// backward({.retain_graph = true}) is not ambiguous: a braced list never deduces Seed.)
  template <class Seed>
    requires std::same_as<Seed, Variable>
  void backward(const Seed& seed, BackwardOptions options = {}) const {
    backward_from(seed, options);
  }
  void backward_from(const Variable& seed, BackwardOptions options) const;

  Node<T>* node() const noexcept { return node_; }
  /// How many handles share the node (1: this handle is the only owner).
  std::uint32_t use_count() const noexcept;
  bool same_node(const Variable& other) const noexcept { return node_ == other.node_; }

 private:
  void check_defined(const char* what) const;
  Node<T>* node_ = nullptr;
};

namespace detail {
struct Trace;  // where an op was created, kept while anomaly mode is on (anomaly.cpp)
struct TraceDeleter {
  void operator()(Trace* t) const noexcept;
};

/// A lock for one node, held for the few instructions of a gradient accumulation or around one
/// op's derivative; contention is rare (threads sharing parameters), so it spins, then yields.
class NodeLock {
 public:
  void lock() noexcept;
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};
}  // namespace detail

/// A node of the tape. Backward keeps its own scratch state (gradients in flight, the queue)
/// in the pass, never here, so any number of threads can backpropagate at once; what a pass
/// does change here (a leaf's grad, freeing the graph) it changes under `lock`.
template <class T>
struct Node {
  explicit Node(xt::xarray<T>&& v);
  ~Node();  // releases the chain of inputs iteratively: no recursion on deep graphs
  /// Drops what the node holds of the graph (inputs, derivative, gradient) without deep
  /// recursion: what the destructor does, also run before a node is recycled.
  void release_links() noexcept;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  std::atomic<std::uint32_t> refs{0};
  /// Non-zero only on a leaf whose .grad() is a recorded graph (backward with create_graph):
  /// how many of the leaf's references come from inside that graph. Dropping a handle down to
  /// that many runs the cycle check (engine.cpp), so leaf -> grad -> ... -> leaf cannot leak.
  std::uint32_t cycle_refs = 0;
  std::atomic<std::uint32_t> version{0};  // bumped by every mutable_value()
  bool requires_grad = false;
  bool released = false;    // backward freed this node's graph (retain_graph was off)
  detail::NodeLock lock;
  const char* op = nullptr; // null for a leaf
  std::uint64_t seq;        // position on the tape (order of creation, across threads)
  xt::xarray<T> value;
  Variable<T> grad;
  Edges<T> inputs;
  detail::Derivative<T> backward_fn;
  std::string name;
  std::unique_ptr<detail::Trace, detail::TraceDeleter> trace;  // anomaly mode only
  std::shared_ptr<const detail::GradHooks<T>> grad_hooks;     // leaves only; null: none
};

namespace detail {
/// A node for a new result holding `value`: a recycled one of this thread when there is one
/// (variable.cpp), else a new one.
template <class T>
Node<T>* new_node(xt::xarray<T>&& value);
/// A new leaf node holding `value` (new_node, then requires_grad set).
template <class T>
Node<T>* new_leaf(xt::xarray<T>&& value, bool requires_grad);
/// Frees a node whose last handle is gone: its links are released, then the node itself is
/// kept for reuse by this thread or deleted.
template <class T>
void free_node(Node<T>* node) noexcept;
/// Drops one reference to a leaf holding a recorded gradient: first breaks the cycle
/// leaf -> grad graph -> leaf when nothing else holds the leaf (engine.cpp).
template <class T>
void release_cyclic(Node<T>* node) noexcept;
}  // namespace detail

extern template struct Node<float>;
extern template struct Node<double>;
extern template class Variable<float>;
extern template class Variable<double>;

template <class T>
inline Variable<T>::Variable(Node<T>* node) noexcept : node_(node) {
  if (node_) node_->refs.fetch_add(1, std::memory_order_relaxed);
}
template <class T>
inline Variable<T>::Variable(const Variable& other) noexcept : node_(other.node_) {
  if (node_) node_->refs.fetch_add(1, std::memory_order_relaxed);
}
template <class T>
inline Variable<T>& Variable<T>::operator=(const Variable& other) noexcept {
  Variable copy(other);
  std::swap(node_, copy.node_);
  return *this;
}
template <class T>
inline Variable<T>& Variable<T>::operator=(Variable&& other) noexcept {
  if (this != &other) {
    Variable old(std::move(*this));
    node_ = std::exchange(other.node_, nullptr);
  }
  return *this;
}
template <class T>
inline Variable<T>::~Variable() {
  if (!node_) return;
  if (node_->cycle_refs != 0) [[unlikely]] {
    detail::release_cyclic(node_);
    return;
  }
  if (node_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) detail::free_node(node_);
}
template <class T>
inline std::uint32_t Variable<T>::use_count() const noexcept {
  return node_ ? node_->refs.load(std::memory_order_relaxed) : 0;
}
template <class T>
inline const xt::xarray<T>& Variable<T>::value() const {
  check_defined("value");
  return node_->value;
}
template <class T>
inline const Shape& Variable<T>::shape() const {
  check_defined("shape");
  return node_->value.shape();
}
template <class T>
inline bool Variable<T>::requires_grad() const {
  return node_ && node_->requires_grad;
}
template <class T>
inline bool GradContext<T>::needs(std::size_t i) const {
  return in[i].requires_grad();
}

namespace detail {
/// A result that records nothing (grad mode off, or no input requires grad).
template <class T>
Variable<T> unrecorded(const char* op, xt::xarray<T>&& value);
/// A result recorded on the tape with its inputs (and their versions); make_op then puts
/// the derivative into its node.
template <class T>
Variable<T> recorded(const char* op, xt::xarray<T>&& value, Edges<T>&& inputs);
template <class T>
bool any_requires_grad(const std::vector<Variable<T>>& inputs) {
  for (const auto& v : inputs)
    if (v.requires_grad()) return true;
  return false;
}
/// "add: input 1 is undefined ..." when an op is handed a default-constructed Variable.
[[noreturn]] void throw_undefined_input(const char* op, std::size_t index);
template <class T>
inline Edge<T> edge(const char* op, const Variable<T>& v, std::size_t index) {
  if (!v.defined()) throw_undefined_input(op, index);
  return {v, v.node()->version.load(std::memory_order_relaxed)};
}
}  // namespace detail

/// One entry of make_op's braced list of inputs: a reference, so listing an input costs no
/// reference-count traffic (atomic, a sizeable share of a small op) and an op that records nothing
/// builds no vector at all. The referenced variables outlive the make_op call.
template <class T>
struct InputRef {
  InputRef(const Variable<T>& v) noexcept : var(&v) {}  // implicit: make_op<T>(..., {a, b}, ...)
  const Variable<T>* var;
};

/// Define a differentiable op: its forward value, its inputs, and its derivative written
/// with tapegrad ops, `backward(const GradContext<T>&) -> Grads<T>` (one gradient per input,
/// undefined where none). Because the derivative is made of ops, higher-order gradients
/// work with create_graph. `op` must be a string literal: it names the op in errors.
template <class T, class F>
Variable<T> make_op(const char* op, xt::xarray<T>&& value, std::vector<Variable<T>> inputs,
                    F&& backward) {
  if (!is_grad_enabled() || !detail::any_requires_grad(inputs))
    return detail::unrecorded(op, std::move(value));
  Edges<T> edges;
  edges.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) edges.push_back(detail::edge(op, inputs[i], i));
  Variable<T> out = detail::recorded<T>(op, std::move(value), std::move(edges));
  out.node()->backward_fn.emplace(std::forward<F>(backward));
  return out;
}

/// The same with the inputs as a braced list, `make_op<T>("mul", value, {a, b}, derivative)`
/// (the common form; a braced list prefers this overload to the vector one).
template <class T, class F>
Variable<T> make_op(const char* op, xt::xarray<T>&& value, std::initializer_list<InputRef<T>> inputs,
                    F&& backward) {
  bool record = false;
  if (is_grad_enabled())
    for (const auto& in : inputs) record = record || in.var->requires_grad();
  if (!record) return detail::unrecorded(op, std::move(value));
  Edges<T> kept;
  kept.reserve(inputs.size());
  std::size_t i = 0;
  for (const auto& in : inputs) kept.push_back(detail::edge(op, *in.var, i++));
  Variable<T> out = detail::recorded<T>(op, std::move(value), std::move(kept));
  out.node()->backward_fn.emplace(std::forward<F>(backward));
  return out;
}

/// A new node holding a copy of x under the name op; d(out)/dx = identity (g passes through).
/// The result of a public op that has nothing to do.
template <class T>
Variable<T> copy_op(const char* op, const Variable<T>& x) {
  return make_op<T>(op, xt::xarray<T>(x.value()), {x}, [](const GradContext<T>& c) -> Grads<T> { return {c.grad}; });
}

struct GradOptions {
  bool create_graph = false;                        // record the backward pass (for higher-order gradients)
  std::optional<bool> retain_graph = std::nullopt;  // default: create_graph
  bool allow_unused = false;         // an input the outputs do not depend on gets an undefined gradient
};

/// d(sum_i <outputs[i], grad_outputs[i]>)/d(inputs), without touching any .grad().
/// grad_outputs may be empty when every output has one element.
std::vector<Variable<float>> grad(const std::vector<Variable<float>>& outputs,
                                  const std::vector<Variable<float>>& inputs,
                                  const std::vector<Variable<float>>& grad_outputs = {},
                                  const GradOptions& options = {});
std::vector<Variable<double>> grad(const std::vector<Variable<double>>& outputs,
                                   const std::vector<Variable<double>>& inputs,
                                   const std::vector<Variable<double>>& grad_outputs = {},
                                   const GradOptions& options = {});

template <class T>
std::ostream& operator<<(std::ostream& os, const Variable<T>& v);

// ---- factories -------------------------------------------------------------------------------
template <class T = float>
Variable<T> zeros(const Shape& shape, bool requires_grad = false);
template <class T = float>
Variable<T> ones(const Shape& shape, bool requires_grad = false);
template <class T = float>
Variable<T> full(const Shape& shape, double value, bool requires_grad = false);
/// [start, stop) in steps of step, as in numpy.arange.
template <class T = float>
Variable<T> arange(double start, double stop, double step = 1, bool requires_grad = false);
/// Standard normal samples from tg's generator (see manual_seed).
template <class T = float>
Variable<T> randn(const Shape& shape, bool requires_grad = false);
/// Uniform samples in [0, 1) from tg's generator.
template <class T = float>
Variable<T> rand(const Shape& shape, bool requires_grad = false);
template <class T>
Variable<T> zeros_like(const Variable<T>& x, bool requires_grad = false);
template <class T>
Variable<T> ones_like(const Variable<T>& x, bool requires_grad = false);
/// A 0-dimensional variable.
template <class T = float>
Variable<T> scalar(double value, bool requires_grad = false);

/// Seeds the generator behind randn, rand, dropout and the initialisers.
void manual_seed(std::uint64_t seed);
/// The generator itself (one per process, not thread-safe: seed it, then use it from one thread).
std::mt19937_64& generator();

}  // namespace tg
