// The tape: nodes, handles, the backward engine, grad mode, factories.
#include "variable.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <unordered_map>

#include <xtensor/xio.hpp>

#include "ops/elementwise.hpp"

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
template <class T>
Node<T>::Node(xt::xarray<T>&& v)
    : seq(tape_position.fetch_add(1, std::memory_order_relaxed) + 1), value(std::move(v)) {}

template <class T>
Node<T>::~Node() {
  // A node releasing its inputs would recurse once per link of a chain. Instead the inputs
  // (and anything the derivative captured) go to a per-thread list that the outermost
  // destructor drains in a loop, so a million-op chain is freed without deep recursion.
  if (inputs.empty() && !backward_fn && !grad.defined() && !pending.defined()) return;
  thread_local std::vector<Variable<T>> doomed;
  thread_local bool draining = false;
  for (auto& v : inputs) doomed.push_back(std::move(v));
  if (grad.defined()) doomed.push_back(std::move(grad));
  if (pending.defined()) doomed.push_back(std::move(pending));
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

// ---- handles --------------------------------------------------------------------------------------
namespace {
template <class T>
Node<T>* new_leaf(xt::xarray<T>&& value, bool requires_grad) {
  auto* node = new Node<T>(std::move(value));
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
  if (!node_) throw Error(std::string("Variable::") + what + ": the variable is undefined (default-constructed)");
}

template <class T>
xt::xarray<T>& Variable<T>::mutable_value() {
  check_defined("mutable_value");
  return node_->value;
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
template <class T>
Variable<T> Variable<T>::detach() const {
  check_defined("detach");
  return Variable(new_leaf<T>(array_type(node_->value), false));
}

// ---- results of ops ---------------------------------------------------------------------------------
namespace {
template <class T>
bool all_finite(const xt::xarray<T>& a) {
  const T* p = a.data();
  for (std::size_t i = 0, n = a.size(); i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}
template <class T>
std::string input_shapes(const std::vector<Variable<T>>& inputs) {
  std::string s;
  for (const auto& v : inputs) s += (s.empty() ? "" : ", ") + shape_str(v.shape());
  return s;
}
}  // namespace

namespace detail {
template <class T>
Variable<T> unrecorded(const char* op, xt::xarray<T>&& value) {
  if (anomaly_enabled && !all_finite(value))
    throw Error(std::string("anomaly: op '") + op + "' produced NaN or Inf in its forward pass (result shape " +
                shape_str(value.shape()) + ")");
  return Variable<T>(new_leaf<T>(std::move(value), false));
}

template <class T>
Variable<T> recorded(const char* op, xt::xarray<T>&& value, std::vector<Variable<T>>&& inputs,
                     std::unique_ptr<BackwardFn<T>> backward) {
  if (anomaly_enabled && !all_finite(value))
    throw Error(std::string("anomaly: op '") + op + "' produced NaN or Inf in its forward pass (inputs " +
                input_shapes(inputs) + ", result " + shape_str(value.shape()) + ")");
  auto* node = new Node<T>(std::move(value));
  node->requires_grad = true;
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward_fn = std::move(backward);
  return Variable<T>(node);
}
}  // namespace detail

// ---- the backward engine ------------------------------------------------------------------------------
namespace {

/// slot += g. In place when slot is the only handle to a plain array (the common case
/// without create_graph); otherwise as a (possibly recorded) add.
template <class T>
void accumulate(Variable<T>& slot, Variable<T>&& g) {
  if (!slot.defined()) {
    slot = std::move(g);
    return;
  }
  if (slot.use_count() == 1 && !slot.requires_grad() && !g.requires_grad() && slot.shape() == g.shape()) {
    T* a = slot.mutable_value().data();
    const T* b = g.value().data();
    for (std::size_t i = 0, n = slot.numel(); i < n; ++i) a[i] += b[i];
    return;
  }
  slot = add(slot, g);
}

struct AnomalyOff {
  bool previous = anomaly_enabled;
  AnomalyOff() { anomaly_enabled = false; }
  ~AnomalyOff() { anomaly_enabled = previous; }
};

template <class T>
struct BackwardPass {
  bool retain = false;
  bool create = false;
  bool into_leaves = true;                         // backward(): accumulate into .grad
  std::unordered_map<Node<T>*, std::size_t> wanted;  // tg::grad(): inputs -> result slot
  std::vector<Variable<T>> captured;
  std::uint64_t oldest_wanted = 0;                 // nodes older than every input cannot lead to one
  std::vector<Variable<T>> queue;                  // max-heap on tape position

  static bool later_first(const Variable<T>& a, const Variable<T>& b) { return a.node()->seq < b.node()->seq; }

  /// Adds g to v's pending gradient and queues v once. V is Variable<T>&& when the caller's
  /// handle is going away anyway (moving it in saves two atomic reference-count updates).
  template <class V>
  void push(V&& v, Variable<T>&& g) {
    Node<T>* n = v.node();
    accumulate(n->pending, std::move(g));
    if (!n->queued) {
      n->queued = true;
      queue.push_back(std::forward<V>(v));
      std::push_heap(queue.begin(), queue.end(), later_first);
    }
  }

  // On an exception the nodes still queued must not keep engine scratch state.
  ~BackwardPass() {
    for (auto& v : queue) {
      v.node()->queued = false;
      v.node()->pending = Variable<T>();
    }
  }

  void run() {
    while (!queue.empty()) {
      std::pop_heap(queue.begin(), queue.end(), later_first);
      Variable<T> current = std::move(queue.back());
      queue.pop_back();
      Node<T>* n = current.node();
      n->queued = false;
      Variable<T> g = std::move(n->pending);

      if (!wanted.empty()) {
        auto it = wanted.find(n);
        if (it != wanted.end()) captured[it->second] = g;
      }
      if (!n->op) {  // a leaf
        if (into_leaves) {
          // The stored gradient must not share its node with anything else: optimizers and
          // clipping edit .grad() in place.
          if (g.use_count() > 1 && !g.requires_grad()) g = Variable<T>(xt::xarray<T>(g.value()));
          accumulate(n->grad, std::move(g));
        }
        continue;
      }
      if (n->released)
        throw Error(std::string(n->op) + ": backward through a graph that was already freed (result " +
                    shape_str(n->value.shape()) +
                    "); pass retain_graph = true to the first backward to backpropagate through it again");

      Grads<T> grads;
      {
        // The ops of a derivative are checked as this op's backward (below), not as forward ops.
        AnomalyOff quiet;
        grads = n->backward_fn->apply(GradContext<T>{g, current, std::span<const Variable<T>>(n->inputs)});
      }
      TG_CHECK(grads.size() == n->inputs.size(), n->op,
               "the derivative returned " + std::to_string(grads.size()) + " gradients for " +
                   std::to_string(n->inputs.size()) + " inputs");
      for (std::size_t i = 0; i < grads.size(); ++i) {
        const Variable<T>& input = n->inputs[i];
        if (!input.requires_grad() || !grads[i].defined()) continue;
        TG_CHECK(grads[i].shape() == input.shape(), n->op,
                 "the derivative for input " + std::to_string(i) + " has shape " + shape_str(grads[i].shape()) +
                     ", the input has shape " + shape_str(input.shape()));
        if (anomaly_enabled && !all_finite(grads[i].value()))
          throw Error(std::string("anomaly: the backward of op '") + n->op + "' produced NaN or Inf in the gradient of input " +
                      std::to_string(i) + " (shape " + shape_str(input.shape()) + ")");
      }
      // Checked first, pushed second: an error above leaves the node's inputs intact.
      for (std::size_t i = 0; i < grads.size(); ++i) {
        Variable<T>& input = n->inputs[i];
        if (!input.requires_grad() || !grads[i].defined() || input.node()->seq < oldest_wanted) continue;
        if (retain) push(input, std::move(grads[i]));
        else push(std::move(input), std::move(grads[i]));  // the node drops its inputs below anyway
      }
      if (!retain) {
        n->backward_fn.reset();
        n->inputs.clear();
        n->released = true;
      }
    }
  }
};

template <class T>
void seed_roots(BackwardPass<T>& pass, const std::vector<Variable<T>>& roots, const std::vector<Variable<T>>& seeds,
                const char* op) {
  TG_CHECK(seeds.empty() || seeds.size() == roots.size(), op,
           std::to_string(roots.size()) + " outputs but " + std::to_string(seeds.size()) + " gradients for them");
  for (std::size_t i = 0; i < roots.size(); ++i) {
    const Variable<T>& root = roots[i];
    TG_CHECK(root.defined(), op, "output " + std::to_string(i) + " is undefined");
    TG_CHECK(root.requires_grad(), op,
             "output " + std::to_string(i) + " (shape " + shape_str(root.shape()) +
                 ") does not require grad: no input of its computation has requires_grad = true, or it was "
                 "computed under NoGradGuard");
    Variable<T> seed;
    if (seeds.empty() || !seeds[i].defined()) {
      TG_CHECK(root.numel() == 1, op,
               "output " + std::to_string(i) + " has shape " + shape_str(root.shape()) +
                   "; without a seed the output must have one element (pass dL/d(output) of shape " +
                   shape_str(root.shape()) + ")");
      seed = Variable<T>(xt::xarray<T>(xt::ones<T>(root.shape())));
    } else {
      TG_CHECK(seeds[i].shape() == root.shape(), op,
               "the gradient for output " + std::to_string(i) + " has shape " + shape_str(seeds[i].shape()) +
                   ", the output has shape " + shape_str(root.shape()));
      seed = seeds[i];
    }
    pass.push(root, std::move(seed));
  }
}

template <class T>
std::vector<Variable<T>> grad_impl(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                                   const std::vector<Variable<T>>& grad_outputs, const GradOptions& options) {
  BackwardPass<T> pass;
  pass.create = options.create_graph;
  pass.retain = options.retain_graph.value_or(options.create_graph);
  pass.into_leaves = false;
  pass.captured.resize(inputs.size());
  pass.oldest_wanted = ~std::uint64_t(0);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    TG_CHECK(inputs[i].defined(), "grad", "input " + std::to_string(i) + " is undefined");
    TG_CHECK(inputs[i].requires_grad(), "grad",
             "input " + std::to_string(i) + " (shape " + shape_str(inputs[i].shape()) + ") does not require grad");
    TG_CHECK(pass.wanted.emplace(inputs[i].node(), i).second, "grad",
             "input " + std::to_string(i) + " appears twice in the list of inputs");
    pass.oldest_wanted = std::min(pass.oldest_wanted, inputs[i].node()->seq);
  }
  {
    NoGradGuard no_grad;
    std::optional<EnableGradGuard> recording;
    if (pass.create) recording.emplace();
    seed_roots(pass, outputs, grad_outputs, "grad");
    pass.run();
  }
  for (std::size_t i = 0; i < inputs.size(); ++i)
    TG_CHECK(pass.captured[i].defined() || options.allow_unused, "grad",
             "input " + std::to_string(i) + " (shape " + shape_str(inputs[i].shape()) +
                 ") is not used to compute the outputs; pass allow_unused = true to get an undefined gradient");
  return std::move(pass.captured);
}
}  // namespace

template <class T>
void Variable<T>::backward(BackwardOptions options) const {
  backward_from(Variable(), options);
}

template <class T>
void Variable<T>::backward_from(const Variable& seed, BackwardOptions options) const {
  check_defined("backward");
  BackwardPass<T> pass;
  pass.create = options.create_graph;
  pass.retain = options.retain_graph.value_or(options.create_graph);
  NoGradGuard no_grad;
  std::optional<EnableGradGuard> recording;
  if (pass.create) recording.emplace();
  std::vector<Variable<T>> seeds;
  if (seed.defined()) seeds.push_back(seed);
  seed_roots(pass, {*this}, seeds, "backward");
  pass.run();
}

std::vector<Variable<float>> grad(const std::vector<Variable<float>>& outputs, const std::vector<Variable<float>>& inputs,
                                  const std::vector<Variable<float>>& grad_outputs, const GradOptions& options) {
  return grad_impl(outputs, inputs, grad_outputs, options);
}
std::vector<Variable<double>> grad(const std::vector<Variable<double>>& outputs,
                                   const std::vector<Variable<double>>& inputs,
                                   const std::vector<Variable<double>>& grad_outputs, const GradOptions& options) {
  return grad_impl(outputs, inputs, grad_outputs, options);
}

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

template <class T>
Variable<T> zeros(const Shape& shape, bool requires_grad) {
  return Variable<T>(xt::xarray<T>(xt::zeros<T>(shape)), requires_grad);
}
template <class T>
Variable<T> ones(const Shape& shape, bool requires_grad) {
  return Variable<T>(xt::xarray<T>(xt::ones<T>(shape)), requires_grad);
}
template <class T>
Variable<T> full(const Shape& shape, double value, bool requires_grad) {
  xt::xarray<T> a = xt::empty<T>(shape);
  std::fill(a.begin(), a.end(), static_cast<T>(value));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> arange(double start, double stop, double step, bool requires_grad) {
  TG_CHECK(step != 0, "arange", "step is 0");
  const double count = std::ceil((stop - start) / step);
  const std::size_t n = count > 0 ? static_cast<std::size_t>(count) : 0;
  xt::xarray<T> a = xt::empty<T>(Shape{n});
  for (std::size_t i = 0; i < n; ++i) a(i) = static_cast<T>(start + step * static_cast<double>(i));
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> randn(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = xt::empty<T>(shape);
  std::normal_distribution<T> dist(0, 1);
  for (auto& x : a) x = dist(generator());
  return Variable<T>(std::move(a), requires_grad);
}
template <class T>
Variable<T> rand(const Shape& shape, bool requires_grad) {
  xt::xarray<T> a = xt::empty<T>(shape);
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
  xt::xarray<T> a = xt::empty<T>(Shape{});
  *a.data() = static_cast<T>(value);
  return Variable<T>(std::move(a), requires_grad);
}

#define TG_INSTANTIATE(T)                                                                                     \
  template struct Node<T>;                                                                                    \
  template class Variable<T>;                                                                                 \
  template Variable<T> detail::unrecorded(const char*, xt::xarray<T>&&);                                      \
  template Variable<T> detail::recorded(const char*, xt::xarray<T>&&, std::vector<Variable<T>>&&,             \
                                        std::unique_ptr<BackwardFn<T>>);                                      \
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
