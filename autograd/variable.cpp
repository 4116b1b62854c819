// The tape: nodes, handles, results of ops, grad mode, factories. (Backward: engine.cpp.)
#include "variable.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <thread>

#include <xtensor/xio.hpp>

#include "detail/anomaly.hpp"
#include "detail/buffers.hpp"
#include "detail/numel.hpp"
#include "detail/partial_grad.hpp"

namespace tg {

// ---- grad mode and anomaly mode ---------------------------------------------------------------
namespace {
thread_local bool grad_enabled = true;
thread_local bool anomaly_enabled = false;
// One tape position for all threads: backward orders nodes by it, and a graph may mix nodes
// made on several threads (parameters built on one, a forward pass run on another), so the
// order must be the order of creation across threads, not within each.
std::atomic<std::uint64_t> tape_position{0};
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }
bool is_anomaly_enabled() { return anomaly_enabled; }
void set_anomaly_enabled(bool enabled) { anomaly_enabled = enabled; }

// ---- nodes ----------------------------------------------------------------------------------------
namespace {
// Under AddressSanitizer every node and buffer goes through new and delete, so it sees each
// use after free. ThreadSanitizer keeps the recycling: a thread still touching a node another
// thread has recycled shows as a race.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool recycle_nodes = false;
#else
constexpr bool recycle_nodes = true;
#endif

std::uint64_t next_tape_position() { return tape_position.fetch_add(1, std::memory_order_relaxed) + 1; }
}  // namespace

std::uint64_t detail::tape_position_now() { return tape_position.load(std::memory_order_relaxed); }

namespace {

/// Freed nodes this thread keeps for its next results (whichever thread made them: a node goes
/// to the thread that drops its last handle). A tape makes and frees a node per op; reusing
/// them saves the node's malloc and free and, when the new result has the shape the node's
/// value had, the xarray move too (only the element buffers are swapped): together about a
/// third of a one-element op. Bounded in count and in the size of the values kept, so a freed
/// graph of a million nodes, or of big tensors, goes back to malloc.
template <class T>
class NodePool {
 public:
  static constexpr std::size_t capacity = 4096;
  static constexpr std::size_t max_kept_elements = 64;
  constexpr NodePool() noexcept = default;
  ~NodePool();
  Node<T>* take() noexcept { return count_ ? kept_[--count_] : nullptr; }
  bool give(Node<T>* n) noexcept {
    if (count_ == capacity || n->value.size() > max_kept_elements) return false;
    kept_[count_++] = n;
    return true;
  }

 private:
  Node<T>* kept_[capacity] = {};
  std::size_t count_ = 0;
};

// Set when this thread's pools are destroyed (thread exit): a node freed after that, by a
// later thread_local or static destructor, is deleted. A bool has no destructor, so it can
// still be read then.
thread_local bool pools_gone = false;

template <class T>
NodePool<T>::~NodePool() {
  pools_gone = true;
  while (Node<T>* n = take()) delete n;
}

template <class T>
NodePool<T>& node_pool() {
  thread_local NodePool<T> pool;
  return pool;
}

/// Large buffers freed by this thread, newest last, for results of the same element count
/// (detail/buffers.hpp). Bounded in count and bytes; past either bound the oldest goes.
template <class T>
class BufferCache {
 public:
  static constexpr std::size_t min_bytes = 64 << 10;  // below this malloc keeps the memory itself
  // Bounded so that what it holds beyond a step's live memory stays small next to a model's
  // (a larger bound visibly raised a deep MLP's peak RSS).
  static constexpr std::size_t max_buffers = 32;
  static constexpr std::size_t max_bytes = std::size_t(64) << 20;
  BufferCache() { kept_.reserve(max_buffers); }
  ~BufferCache() { pools_gone = true; }
  bool keep(xt::xarray<T>& value) noexcept {
    const std::size_t bytes = value.size() * sizeof(T);
    if (bytes < min_bytes || bytes > max_bytes) return false;
    while (kept_.size() == max_buffers || bytes_ + bytes > max_bytes) drop_oldest();
    bytes_ += bytes;
    kept_.push_back(std::move(value));  // never reallocates: reserved
    return true;
  }
  bool take(std::size_t count, xt::xarray<T>& into) noexcept {
    for (std::size_t i = kept_.size(); i-- > 0;)
      if (kept_[i].size() == count) {
        into = std::move(kept_[i]);
        kept_.erase(kept_.begin() + static_cast<std::ptrdiff_t>(i));
        bytes_ -= count * sizeof(T);
        return true;
      }
    return false;
  }

 private:
  void drop_oldest() noexcept {
    bytes_ -= kept_.front().size() * sizeof(T);
    kept_.erase(kept_.begin());
  }
  std::vector<xt::xarray<T>> kept_;
  std::size_t bytes_ = 0;
};

template <class T>
BufferCache<T>& buffer_cache() {
  thread_local BufferCache<T> cache;
  return cache;
}
}  // namespace

namespace detail {
template <class T>
xt::xarray<T> empty_array(const Shape& shape) {
  if (recycle_nodes && !pools_gone) {
    std::size_t count = 1;
    for (auto d : shape) count *= d;
    xt::xarray<T> a;
    if (count * sizeof(T) >= BufferCache<T>::min_bytes && buffer_cache<T>().take(count, a)) {
      a.resize(shape);  // the same element count: the buffer stays
      return a;
    }
  }
  return xt::empty<T>(shape);
}

template <class T>
bool cache_buffer(xt::xarray<T>& value) noexcept {
  return recycle_nodes && !pools_gone && buffer_cache<T>().keep(value);
}
}  // namespace detail

template <class T>
Node<T>::Node(xt::xarray<T>&& v) : seq(next_tape_position()), value(std::move(v)) {}

template <class T>
Node<T>::~Node() {
  release_links();
}

template <class T>
void Node<T>::release_links() noexcept {
  // A node releasing its inputs would recurse once per link of a chain. Instead the inputs
  // (and anything the derivative captured) go to a per-thread list that the outermost
  // release drains in a loop, so a million-op chain is freed without deep recursion.
  if (inputs.empty() && !backward_fn && !grad.defined()) return;
  thread_local std::vector<Variable<T>> doomed;
  thread_local bool draining = false;
  for (auto& e : inputs) doomed.push_back(std::move(e.var));
  inputs.clear();
  if (grad.defined()) doomed.push_back(std::move(grad));
  if (draining) {
    backward_fn.reset();
    return;
  }
  draining = true;
  backward_fn.reset();
  while (!doomed.empty()) {
    Variable<T> last = std::move(doomed.back());
    doomed.pop_back();
  }
  draining = false;
}

namespace detail {
template <class T>
Node<T>* new_node(xt::xarray<T>&& value) {
  Node<T>* n = recycle_nodes && !pools_gone ? node_pool<T>().take() : nullptr;
  if (!n) return new Node<T>(std::move(value));
  if (n->value.shape() == value.shape()) n->value.storage().swap(value.storage());  // same strides too
  else n->value = std::move(value);
  n->seq = next_tape_position();
  return n;
}

// A recycled node must come back as a new one, so free_node resets every field a node has. This
// catches a field added to Node without a reset below (on the usual x86-64 libstdc++ layout).
#if defined(__x86_64__) && defined(__GLIBCXX__) && !defined(_GLIBCXX_DEBUG)
static_assert(sizeof(Node<float>) == 464 && sizeof(Node<double>) == 464,
              "Node changed: reset its new fields in detail::free_node, then update this size");
#endif

template <class T>
void free_node(Node<T>* n) noexcept {
  n->release_links();
  if (recycle_nodes && !pools_gone) {
    if (n->value.size() * sizeof(T) >= BufferCache<T>::min_bytes) cache_buffer(n->value);
    // back to the state of a new node (the value is kept: its buffer and shape are reused)
    n->cycle_refs = 0;
    n->version.store(0, std::memory_order_relaxed);
    n->requires_grad = false;
    n->released = false;
    n->op = nullptr;
    n->name.clear();
    n->trace.reset();
    n->grad_hooks.reset();
    if (node_pool<T>().give(n)) return;
  }
  delete n;
}
}  // namespace detail

// ---- handles --------------------------------------------------------------------------------------
namespace {
template <class T>
Node<T>* new_leaf(xt::xarray<T>&& value, bool requires_grad) {
  auto* node = detail::new_node(std::move(value));
  node->requires_grad = requires_grad;
  return node;
}
}  // namespace

template <class T>
Variable<T>::Variable(const array_type& value, bool requires_grad)
    : Variable(new_leaf<T>(array_type(value), requires_grad)) {}
template <class T>
Variable<T>::Variable(array_type&& value, bool requires_grad)
    : Variable(new_leaf<T>(std::move(value), requires_grad)) {}
template <class T>
Variable<T>::Variable(xt::nested_initializer_list_t<T, 1> values, bool requires_grad)
    : Variable(new_leaf<T>(array_type(values), requires_grad)) {}
template <class T>
Variable<T>::Variable(xt::nested_initializer_list_t<T, 2> values, bool requires_grad)
    : Variable(new_leaf<T>(array_type(values), requires_grad)) {}
template <class T>
Variable<T>::Variable(xt::nested_initializer_list_t<T, 3> values, bool requires_grad)
    : Variable(new_leaf<T>(array_type(values), requires_grad)) {}

template <class T>
void Variable<T>::check_defined(const char* what) const {
  if (node_) return;
  // Name the op that was handed the undefined variable, found on the stack (this is the error
  // path, so symbolising costs nothing that matters).
  const std::string op = detail::calling_op();
  if (!op.empty())
    throw Error(op + ": an input is undefined (a default-constructed Variable, or one never assigned); "
                "Variable::" + what + " was called on it");
  throw Error(std::string("Variable::") + what + ": the variable is undefined (default-constructed)");
}

template <class T>
xt::xarray<T>& Variable<T>::mutable_value() {
  check_defined("mutable_value");
  node_->version.fetch_add(1, std::memory_order_relaxed);
  return node_->value;
}
template <class T>
std::uint32_t Variable<T>::version() const {
  check_defined("version");
  return node_->version.load(std::memory_order_relaxed);
}
template <class T>
std::size_t Variable<T>::dim() const {
  return shape().size();
}
template <class T>
std::size_t Variable<T>::numel() const {
  return value().size();
}
template <class T>
T Variable<T>::item() const {
  TG_CHECK(numel() == 1, "item", "the variable has shape " + shape_str(shape()) + " (" +
                                     std::to_string(numel()) + " elements), item() needs exactly one");
  return *node_->value.data();
}
template <class T>
Variable<T>& Variable<T>::set_requires_grad(bool requires_grad) {
  check_defined("set_requires_grad");
  TG_CHECK(node_->op == nullptr, "set_requires_grad",
           std::string("only leaves can change requires_grad; this variable is the result of '") + node_->op +
               "' (use detach() for a new leaf)");
  node_->requires_grad = requires_grad;
  return *this;
}
template <class T>
bool Variable<T>::is_leaf() const {
  check_defined("is_leaf");
  return node_->op == nullptr;
}
template <class T>
const char* Variable<T>::op_name() const {
  check_defined("op_name");
  return node_->op ? node_->op : "";
}
template <class T>
const std::string& Variable<T>::name() const {
  check_defined("name");
  return node_->name;
}
template <class T>
Variable<T>& Variable<T>::set_name(std::string name) {
  check_defined("set_name");
  node_->name = std::move(name);
  return *this;
}
template <class T>
bool Variable<T>::has_grad() const {
  return node_ && node_->grad.defined();
}
template <class T>
const Variable<T>& Variable<T>::grad() const {
  check_defined("grad");
  if (!node_->grad.defined()) {
    std::string who = node_->name.empty() ? "" : " '" + node_->name + "'";
    throw Error("grad: variable" + who + " of shape " + shape_str(shape()) + " has no gradient" +
                (node_->requires_grad ? (node_->op ? " (it is not a leaf: use tg::grad for gradients of intermediate results)"
                                                   : " yet (call backward() on a result that depends on it)")
                                      : " (requires_grad is false)"));
  }
  return node_->grad;
}
template <class T>
void Variable<T>::set_grad(Variable grad) {
  check_defined("set_grad");
  if (grad.defined())
    TG_CHECK(grad.shape() == shape(), "set_grad",
             "gradient of shape " + shape_str(grad.shape()) + " for a variable of shape " + shape_str(shape()));
  node_->grad = std::move(grad);
}
template <class T>
void Variable<T>::zero_grad() {
  check_defined("zero_grad");
  node_->grad = Variable();
}

namespace {
std::atomic<HookId> next_hook_id{0};  // ids are unique across leaves, so removing from the wrong leaf finds nothing
}  // namespace

template <class T>
HookId Variable<T>::register_post_accumulate_grad_hook(std::function<void(const Variable&)> hook) {
  check_defined("register_post_accumulate_grad_hook");
  TG_CHECK(node_->op == nullptr, "register_post_accumulate_grad_hook",
           std::string("only leaves accumulate gradients; this variable (shape ") + shape_str(shape()) +
               ") is the result of '" + node_->op + "'");
  TG_CHECK(node_->requires_grad, "register_post_accumulate_grad_hook",
           "the leaf (shape " + shape_str(shape()) + ") does not require grad, so backward never accumulates into it");
  TG_CHECK(static_cast<bool>(hook), "register_post_accumulate_grad_hook", "the hook is empty");
  const HookId id = next_hook_id.fetch_add(1, std::memory_order_relaxed) + 1;
  std::lock_guard<detail::NodeLock> lock(node_->lock);
  auto hooks = std::make_shared<detail::GradHooks<T>>(node_->grad_hooks ? *node_->grad_hooks : detail::GradHooks<T>{});
  hooks->hooks.emplace_back(id, std::move(hook));
  node_->grad_hooks = std::move(hooks);
  return id;
}
template <class T>
bool Variable<T>::remove_post_accumulate_grad_hook(HookId id) {
  check_defined("remove_post_accumulate_grad_hook");
  std::shared_ptr<const detail::GradHooks<T>> old;  // freed after the lock is released
  std::lock_guard<detail::NodeLock> lock(node_->lock);
  if (!node_->grad_hooks) return false;
  auto hooks = std::make_shared<detail::GradHooks<T>>(*node_->grad_hooks);
  const auto removed = std::erase_if(hooks->hooks, [id](const auto& entry) { return entry.first == id; });
  if (removed == 0) return false;
  old = std::move(node_->grad_hooks);
  if (!hooks->hooks.empty()) node_->grad_hooks = std::move(hooks);
  return true;
}

template <class T>
Variable<T> Variable<T>::detach() const {
  check_defined("detach");
  return Variable(new_leaf<T>(array_type(node_->value), false));
}

// ---- results of ops ---------------------------------------------------------------------------------
namespace {
template <class T>
std::string input_shapes(const Edges<T>& inputs) {
  std::string s;
  for (const auto& e : inputs) s += (s.empty() ? "" : ", ") + shape_str(e.var.shape());
  return s;
}
}  // namespace

namespace detail {
void NodeLock::lock() noexcept {
  for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins)
    if (spins >= 64) std::this_thread::yield();
}

void throw_undefined_input(const char* op, std::size_t index) {
  throw Error(std::string(op) + ": input " + std::to_string(index) +
              " is undefined (a default-constructed Variable, or one whose gradient was never computed)");
}
}  // namespace detail

namespace detail {
template <class T>
Variable<T> unrecorded(const char* op, xt::xarray<T>&& value) {
  if (anomaly_enabled && !all_finite(value))
    throw Error(std::string("anomaly: op '") + op + "' produced NaN or Inf in its forward pass (result shape " +
                shape_str(value.shape()) + ")" + where_created(*capture_trace()));
  return Variable<T>(new_leaf<T>(std::move(value), false));
}

template <class T>
Variable<T> recorded(const char* op, xt::xarray<T>&& value, Edges<T>&& inputs) {
  std::unique_ptr<Trace, TraceDeleter> trace;
  if (anomaly_enabled) {
    trace = capture_trace();
    if (!all_finite(value))
      throw Error(std::string("anomaly: op '") + op + "' produced NaN or Inf in its forward pass (inputs " +
                  input_shapes(inputs) + ", result " + shape_str(value.shape()) + ")" + where_created(*trace));
  }
  auto* node = detail::new_node(std::move(value));
  node->requires_grad = true;
  node->op = op;
  node->inputs = std::move(inputs);
  node->trace = std::move(trace);
  return Variable<T>(node);
}
}  // namespace detail

template <class T>
std::ostream& operator<<(std::ostream& os, const Variable<T>& v) {
  if (!v.defined()) return os << "Variable(undefined)";
  os << "Variable(shape=" << shape_str(v.shape());
  if (!v.name().empty()) os << ", name=" << v.name();
  if (v.requires_grad()) os << ", requires_grad";
  if (!v.is_leaf()) os << ", op=" << v.op_name();
  return os << ")\n" << v.value();
}

// ---- factories ----------------------------------------------------------------------------------------
std::mt19937_64& generator() {
  static std::mt19937_64 engine(0x7a9e6ad);
  return engine;
}
void manual_seed(std::uint64_t seed) { generator().seed(seed); }

namespace {
/// An uninitialised array of shape, made by the factory `op`; a shape whose sizes multiply
/// past what xtensor can index is a tg::Error, not an allocation of a wrapped-round size.
template <class T>
xt::xarray<T> new_array(const char* op, const Shape& shape) {
  TG_CHECK(detail::checked_numel(shape).has_value(), op,
           "shape " + shape_str(shape) + ": the sizes multiply past 2^63 (xtensor's signed strides)");
  return xt::empty<T>(shape);
}
}  // namespace

template <class T>
Variable<T> zeros(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("zeros", shape);
  std::fill(a.begin(), a.end(), T(0));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> ones(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("ones", shape);
  std::fill(a.begin(), a.end(), T(1));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> full(const Shape& shape, double value, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("full", shape);
  std::fill(a.begin(), a.end(), static_cast<T>(value));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> arange(double start, double stop, double step, bool requires_grad) {
  TG_CHECK(std::isfinite(start) && std::isfinite(stop) && std::isfinite(step), "arange",
           "start " + number_str(start) + ", stop " + number_str(stop) + " and step " + number_str(step) +
               " must be finite");
  TG_CHECK(step != 0, "arange", "step is 0");
  const double count = std::ceil((stop - start) / step);
  // the count converts to size_t only below 2^53 (an infinite or huge one is undefined behaviour)
  TG_CHECK(!(count > 9007199254740992.0), "arange",
           "[" + number_str(start) + ", " + number_str(stop) + ") in steps of " + number_str(step) + " holds " +
               number_str(count) + " values, more than 2^53");
  const std::size_t n = count > 0 ? static_cast<std::size_t>(count) : 0;
  xt::xarray<T> a = xt::xarray<T>::from_shape({n});
  for (std::size_t i = 0; i < n; ++i) a(i) = static_cast<T>(start + step * static_cast<double>(i));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> randn(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("randn", shape);
  std::normal_distribution<T> dist(0, 1);
  for (auto& x : a) x = dist(generator());
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> rand(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = new_array<T>("rand", shape);
  std::uniform_real_distribution<T> dist(0, 1);
  for (auto& x : a) x = dist(generator());
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> zeros_like(const Variable<T>& x, bool requires_grad) {
  return zeros<T>(x.shape(), requires_grad);
}
template <class T>
Variable<T> ones_like(const Variable<T>& x, bool requires_grad) {
  return ones<T>(x.shape(), requires_grad);
}
template <class T>
Variable<T> scalar(double value, bool requires_grad) {
  xt::xarray<T> a(static_cast<T>(value));  // 0-d
  return Variable<T>(std::move(a), requires_grad);
}

#define TG_INSTANTIATE(T)                                                                                     \
  template struct Node<T>;                                                                                    \
  template Node<T>* detail::new_node(xt::xarray<T>&&);                                                        \
  template xt::xarray<T> detail::empty_array<T>(const Shape&);                                                \
  template bool detail::cache_buffer(xt::xarray<T>&) noexcept;                                                \
  template void detail::free_node(Node<T>*) noexcept;                                                         \
  template class Variable<T>;                                                                                 \
  template Variable<T> detail::unrecorded(const char*, xt::xarray<T>&&);                                      \
  template Variable<T> detail::recorded(const char*, xt::xarray<T>&&, Edges<T>&&);                           \
  template std::ostream& operator<<(std::ostream&, const Variable<T>&);                                       \
  template Variable<T> zeros<T>(const Shape&, bool);                                                          \
  template Variable<T> ones<T>(const Shape&, bool);                                                           \
  template Variable<T> full<T>(const Shape&, double, bool);                                                   \
  template Variable<T> arange<T>(double, double, double, bool);                                               \
  template Variable<T> randn<T>(const Shape&, bool);                                                          \
  template Variable<T> rand<T>(const Shape&, bool);                                                           \
  template Variable<T> zeros_like(const Variable<T>&, bool);                                                  \
  template Variable<T> ones_like(const Variable<T>&, bool);                                                   \
  template Variable<T> scalar<T>(double, bool);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)

}  // namespace tg
