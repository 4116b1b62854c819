// The backward engine. A pass keeps all of its scratch state (the queue of nodes and the
// gradients in flight, in a table of its own) to itself, so any number of passes can run at once on several threads,
// also through shared parameters; what it changes in a node (a leaf's .grad(), freeing the
// graph) it changes under that node's lock. Nodes run in reverse tape order, each once, after
// all of its consumers. (The reference cycles a create_graph pass leaves: cycles.cpp.)
#include <algorithm>
#include <bit>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "detail/anomaly.hpp"
#include "detail/cycles.hpp"
#include "detail/parallel.hpp"
#include "variable.hpp"

namespace tg {

namespace {

/// a + b for two gradients of one shape, recorded under create_graph: the engine's own op (the
/// engine sits below the op library), whose derivative hands the gradient to both terms.
template <class T>
Variable<T> add_gradients(const Variable<T>& a, const Variable<T>& b) {
  xt::xarray<T> sum = a.value();
  T* s = sum.data();
  const T* p = b.value().data();
  for (std::size_t i = 0, n = sum.size(); i < n; ++i) s[i] += p[i];
  return make_op<T>("accumulate_grad", std::move(sum), {a, b},
                    [](const GradContext<T>& c) -> Grads<T> { return {c.grad, c.grad}; });
}

/// slot += g. In place when slot is the only handle to a plain array (the common case
/// without create_graph); otherwise out of place, recorded under create_graph.
template <class T>
void accumulate(Variable<T>& slot, Variable<T>&& g) {
  if (!slot.defined()) {
    slot = std::move(g);
    return;
  }
  if (slot.use_count() == 1 && !slot.requires_grad() && !g.requires_grad()) {
    T* a = slot.node()->value.data();
    const T* b = g.value().data();
    detail::parallel_for(slot.numel(), [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) a[i] += b[i];
    });
    return;
  }
  slot = add_gradients(slot, g);
}

/// Anomaly checks are off while a derivative runs: its ops are checked as that op's backward.
struct AnomalyOff {
  bool previous = is_anomaly_enabled();
  AnomalyOff() { set_anomaly_enabled(false); }
  ~AnomalyOff() { set_anomaly_enabled(previous); }
};

template <class T>
std::string described(const Variable<T>& v) {
  return (v.name().empty() ? "" : "'" + v.name() + "', ") + "shape " + shape_str(v.shape());
}

template <class T>
std::string trace_of(const Node<T>* n) {
  return n->trace ? detail::where_created(*n->trace) : "";
}

/// The gradients gathered so far for the nodes a pass has queued but not yet run: an
/// open-addressing table keyed by node, owned by the pass. Entries leave as their nodes run,
/// so it holds only the frontier of the pass (two entries along a chain) and stays in cache.
template <class T>
class PendingGrads {
 public:
  /// The slot for n's gradient, and whether it is new (the node is not queued yet).
  std::pair<Variable<T>*, bool> slot(Node<T>* n) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    std::size_t i = home(n);
    while (slots_[i].node && slots_[i].node != n) i = (i + 1) & mask();
    if (slots_[i].node) return {&slots_[i].grad, false};
    slots_[i].node = n;
    ++size_;
    return {&slots_[i].grad, true};
  }
  /// Removes n's entry and returns its gradient (backward-shift deletion: no tombstones).
  Variable<T> take(Node<T>* n) {
    std::size_t i = home(n);
    while (slots_[i].node != n) i = (i + 1) & mask();
    Variable<T> g = std::move(slots_[i].grad);
    slots_[i].node = nullptr;
    --size_;
    for (std::size_t j = (i + 1) & mask(); slots_[j].node; j = (j + 1) & mask()) {
      const std::size_t h = home(slots_[j].node);
      // the entry at j may fill the hole at i when i lies cyclically in [h, j)
      if (((j - h) & mask()) >= ((j - i) & mask())) {
        slots_[i] = std::move(slots_[j]);
        slots_[j].node = nullptr;
        i = j;
      }
    }
    return g;
  }

 private:
  struct Slot {
    Node<T>* node = nullptr;
    Variable<T> grad;
  };
  std::size_t mask() const { return slots_.size() - 1; }
  std::size_t home(const Node<T>* n) const {
    return static_cast<std::size_t>((reinterpret_cast<std::uintptr_t>(n) >> 4) * 0x9E3779B97F4A7C15ull) >> shift_;
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : 2 * old.size(), Slot{});
    shift_ = 64 - std::countr_zero(slots_.size());
    size_ = 0;
    for (auto& s : old)
      if (s.node) *slot(s.node).first = std::move(s.grad);
  }
  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  int shift_ = 64;
};

/// A node queued for its backward; its gradient waits in the pass's PendingGrads.
template <class T>
struct Waiting {
  std::uint64_t seq;
  Variable<T> var;
};

template <class T>
struct BackwardPass {
  bool retain = false;
  bool create = false;
  bool into_leaves = true;                         // backward(): accumulate into .grad
  bool anomaly = is_anomaly_enabled();
  std::unordered_map<Node<T>*, std::size_t> wanted;  // tg::grad(): inputs -> result slot
  std::vector<Variable<T>> captured;
  std::uint64_t oldest_wanted = 0;                 // nodes older than every input cannot lead to one
  bool stop_at_wanted = false;                     // partial derivatives: no gradient flows past an input
  std::vector<Waiting<T>> queue;                   // max-heap on tape position, each node once
  PendingGrads<T> pending;                         // their gradients so far
  std::vector<Variable<T>> recorded_leaves;        // leaves given a recorded .grad() (create_graph)

  static bool later_first(const Waiting<T>& a, const Waiting<T>& b) { return a.seq < b.seq; }

  /// Queues g for v. V is Variable<T>&& when the caller's handle is going away anyway (moving
  /// it in saves two atomic reference-count updates).
  template <class V>
  void push(V&& v, Variable<T>&& g) {
    auto [slot, fresh] = pending.slot(v.node());
    accumulate(*slot, std::move(g));
    if (!fresh) return;
    const std::uint64_t seq = v.node()->seq;
    queue.push_back({seq, std::forward<V>(v)});
    std::push_heap(queue.begin(), queue.end(), later_first);
  }

  void run() {
    while (!queue.empty()) {
      std::pop_heap(queue.begin(), queue.end(), later_first);
      Waiting<T> top = std::move(queue.back());
      queue.pop_back();
      Node<T>* n = top.var.node();
      Variable<T> g = pending.take(n);

      if (!wanted.empty()) {
        auto it = wanted.find(n);
        if (it != wanted.end()) {
          captured[it->second] = g;
          if (stop_at_wanted) continue;
        }
      }
      if (!n->op) {
        if (into_leaves) accumulate_into_leaf(top.var, std::move(g));
        continue;
      }
      std::lock_guard<detail::NodeLock> lock(n->lock);
      if (n->released)
        throw Error(std::string(n->op) + ": backward through a graph that was already freed (result " +
                    shape_str(n->value.shape()) +
                    "); pass retain_graph = true to the first backward to backpropagate through it again");
      check_versions(n);

      Grads<T> grads;
      {
        AnomalyOff quiet;
        grads = n->backward_fn(GradContext<T>{g, top.var, InputList<T>(n->inputs.data(), n->inputs.size())});
      }
      TG_CHECK(grads.size() == n->inputs.size(), n->op,
               "the derivative returned " + std::to_string(grads.size()) + " gradients for " +
                   std::to_string(n->inputs.size()) + " inputs");
      for (std::size_t i = 0; i < grads.size(); ++i) {
        const Variable<T>& input = n->inputs[i].var;
        if (!input.requires_grad() || !grads[i].defined()) continue;
        TG_CHECK(grads[i].shape() == input.shape(), n->op,
                 "the derivative for input " + std::to_string(i) + " has shape " + shape_str(grads[i].shape()) +
                     ", the input has shape " + shape_str(input.shape()));
        if (anomaly && !detail::all_finite(grads[i].value()))
          throw Error(std::string("anomaly: the backward of op '") + n->op + "' produced NaN or Inf in the gradient of input " +
                      std::to_string(i) + " (shape " + shape_str(input.shape()) + ")" + trace_of(n));
      }
      // Checked first, pushed second: an error above leaves the node's inputs intact.
      for (std::size_t i = 0; i < grads.size(); ++i) {
        Variable<T>& input = n->inputs[i].var;
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

  /// An op's derivative may read its inputs and its result: refuse values written in place
  /// since the forward (PyTorch's version counters), rather than return a wrong gradient.
  void check_versions(const Node<T>* n) const {
    for (std::size_t i = 0; i < n->inputs.size(); ++i) {
      const Edge<T>& e = n->inputs[i];
      const std::uint32_t now = e.var.node()->version.load(std::memory_order_relaxed);
      if (now != e.version)
        throw Error(std::string(n->op) + ": input " + std::to_string(i) + " (" + described(e.var) +
                    ") was written in place after the op used it: version " + std::to_string(e.version) +
                    " at the forward, " + std::to_string(now) +
                    " now, and the op's derivative needs the value it saw. Write it after backward, or "
                    "give the op a copy (detach())" + trace_of(n));
    }
    const std::uint32_t out_version = n->version.load(std::memory_order_relaxed);
    if (out_version != 0)
      throw Error(std::string(n->op) + ": its result (shape " + shape_str(n->value.shape()) +
                  ") was written in place after the forward (version " + std::to_string(out_version) +
                  "), and the op's derivative needs the value it computed" + trace_of(n));
  }

  void accumulate_into_leaf(const Variable<T>& leaf, Variable<T>&& g) {
    // The stored gradient must not share its node with anything else: optimizers and clipping
    // edit .grad() in place.
    if (g.use_count() > 1 && !g.requires_grad()) g = Variable<T>(xt::xarray<T>(g.value()));
    Node<T>* n = leaf.node();
    std::shared_ptr<const detail::GradHooks<T>> hooks;  // null (no atomic traffic) without hooks
    {
      std::lock_guard<detail::NodeLock> lock(n->lock);
      accumulate(n->grad, std::move(g));
      if (n->grad.requires_grad()) recorded_leaves.push_back(leaf);
      hooks = n->grad_hooks;
    }
    // Outside the lock: a hook may read .grad(), or register and remove hooks.
    if (hooks)
      for (const auto& [id, hook] : hooks->hooks) hook(leaf);
  }
};

}  // namespace

// ---- backward() and tg::grad ------------------------------------------------------------------------

namespace {

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
void run_pass(BackwardPass<T>& pass, const std::vector<Variable<T>>& roots, const std::vector<Variable<T>>& seeds,
              const char* op) {
  NoGradGuard no_grad;
  std::optional<EnableGradGuard> recording;
  if (pass.create) recording.emplace();
  seed_roots(pass, roots, seeds, op);
  pass.run();
  if (!pass.recorded_leaves.empty()) detail::note_cycles(pass.recorded_leaves);
}

template <class T>
std::vector<Variable<T>> grad_impl(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                                   const std::vector<Variable<T>>& grad_outputs, const GradOptions& options,
                                   bool stop_at_inputs = false) {
  BackwardPass<T> pass;
  pass.stop_at_wanted = stop_at_inputs;
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
  run_pass(pass, outputs, grad_outputs, "grad");
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
  std::vector<Variable<T>> seeds;
  if (seed.defined()) seeds.push_back(seed);
  run_pass(pass, {*this}, seeds, "backward");
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

namespace detail {
template <class T>
std::vector<Variable<T>> partial_grad(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                                      const std::vector<Variable<T>>& grad_outputs, const GradOptions& options) {
  return grad_impl(outputs, inputs, grad_outputs, options, true);
}
template std::vector<Variable<float>> partial_grad(const std::vector<Variable<float>>&, const std::vector<Variable<float>>&,
                                                   const std::vector<Variable<float>>&, const GradOptions&);
template std::vector<Variable<double>> partial_grad(const std::vector<Variable<double>>&,
                                                    const std::vector<Variable<double>>&,
                                                    const std::vector<Variable<double>>&, const GradOptions&);
}  // namespace detail

template void Variable<float>::backward(BackwardOptions) const;
template void Variable<double>::backward(BackwardOptions) const;
template void Variable<float>::backward_from(const Variable<float>&, BackwardOptions) const;
template void Variable<double>::backward_from(const Variable<double>&, BackwardOptions) const;

}  // namespace tg
