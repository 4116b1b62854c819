// Nodes of the tape: their tape positions, their per-thread recycling, and their release
// without recursion. (The handles are in variable.cpp, backward in engine.cpp.)
#include "variable.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include "detail/buffers.hpp"
#include "detail/partial_grad.hpp"

namespace tg {

namespace {
// One tape position for all threads: backward orders nodes by it, and a graph may mix nodes
// made on several threads (parameters built on one, a forward pass run on another), so the
// order must be the order of creation across threads, not within each.
std::atomic<std::uint64_t> tape_position{0};

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

// Set when this thread's node pools are destroyed (thread exit): a node freed after that, by a
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
}  // namespace

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
  Node<T>* n = detail::recycle_memory && !pools_gone ? node_pool<T>().take() : nullptr;
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
  if (detail::recycle_memory && !pools_gone) {
    if (n->value.size() * sizeof(T) >= min_cached_bytes) cache_buffer(n->value);
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

template <class T>
Node<T>* detail::new_leaf(xt::xarray<T>&& value, bool requires_grad) {
  auto* node = detail::new_node(std::move(value));
  node->requires_grad = requires_grad;
  return node;
}

namespace detail {
void NodeLock::lock() noexcept {
  for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins)
    if (spins >= 64) std::this_thread::yield();
}
}  // namespace detail

#define TG_INSTANTIATE_NODES(T)                                                                  \
  template struct Node<T>;                                                                       \
  template Node<T>* detail::new_node(xt::xarray<T>&&);                                           \
  template Node<T>* detail::new_leaf(xt::xarray<T>&&, bool);                                     \
  template void detail::free_node(Node<T>*) noexcept;
TG_INSTANTIATE_NODES(float)
TG_INSTANTIATE_NODES(double)

}  // namespace tg
