// The reference cycles that backward with create_graph leaves behind, and how they are freed.
#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "detail/cycles.hpp"
#include "variable.hpp"

namespace tg {

namespace {

// ---- reference cycles through recorded gradients ------------------------------------------------------
//
// backward with create_graph stores in each leaf x a gradient whose graph usually holds x
// again (d(x*x)/dx = 2x): x -> x.grad -> ... -> x, which reference counting alone never frees.
// After such a pass every node of those graphs learns how many of its references come from
// inside them (cycle_refs). When a handle drop leaves a node with no more references than
// that, a trial deletion over what it reaches decides whether anything outside still holds
// the cycle; if not, the recorded gradients in it are cleared, and counting frees the rest.

/// The nodes reachable from the roots through inputs and gradients, each with how many of
/// those edges point at it.
template <class T>
std::unordered_map<Node<T>*, std::uint32_t> reach(const std::vector<Node<T>*>& roots) {
  std::unordered_map<Node<T>*, std::uint32_t> in_edges;
  std::vector<Node<T>*> stack;
  auto visit = [&](Node<T>* m) {
    auto [it, fresh] = in_edges.try_emplace(m, 0);
    ++it->second;
    if (fresh) stack.push_back(m);
  };
  for (Node<T>* r : roots)
    if (in_edges.try_emplace(r, 0).second) stack.push_back(r);
  while (!stack.empty()) {
    Node<T>* m = stack.back();
    stack.pop_back();
    for (const Edge<T>& e : m->inputs) visit(e.var.node());
    if (m->grad.defined()) visit(m->grad.node());
  }
  return in_edges;
}

template <class T>
bool holds_recorded_grad(const Node<T>* m) {
  return m->grad.defined() && m->grad.requires_grad();
}

/// After a create_graph pass: cycle_refs for every node of the graphs that the leaves' new
/// recorded gradients reach.
}  // namespace

namespace detail {
template <class T>
void note_cycles(const std::vector<Variable<T>>& leaves) {
  std::vector<Node<T>*> roots;
  for (const auto& l : leaves) roots.push_back(l.node());
  for (auto& [m, internal] : reach(roots)) m->cycle_refs = std::max<std::uint32_t>(internal, 1);
}

}  // namespace detail

namespace {

/// Trial deletion from n, whose caller is about to drop one reference: true when nothing
/// outside the nodes n reaches holds n. Clears what it learns cannot be in a cycle.
template <class T>
bool only_cycle_holds(Node<T>* n) {
  auto in_edges = reach<T>({n});
  bool any_grad_edge = false;
  for (auto& [m, internal] : in_edges) any_grad_edge = any_grad_edge || holds_recorded_grad(m);
  if (!any_grad_edge) {  // no gradient edge below n: nothing here can close a cycle
    for (auto& [m, internal] : in_edges) m->cycle_refs = 0;
    return false;
  }
  // Held from outside: more references than edges from inside (n: less the one being dropped).
  std::vector<Node<T>*> live;
  std::unordered_map<Node<T>*, bool> is_live;
  for (auto& [m, internal] : in_edges) {
    const std::uint32_t refs = m->refs.load(std::memory_order_acquire) - (m == n ? 1 : 0);
    const bool outside = refs > internal;
    is_live[m] = outside;
    if (outside) live.push_back(m);
  }
  while (!live.empty()) {  // whatever a live node reaches is live
    Node<T>* m = live.back();
    live.pop_back();
    auto mark = [&](Node<T>* k) {
      bool& l = is_live[k];
      if (!l) l = true, live.push_back(k);
    };
    for (const Edge<T>& e : m->inputs) mark(e.var.node());
    if (m->grad.defined()) mark(m->grad.node());
  }
  if (is_live[n]) return false;
  // Garbage: none of it is reachable from outside. Forget the counts, cut the gradient edges.
  std::vector<Variable<T>> cut;
  for (auto& [m, live_m] : is_live)
    if (!live_m) {
      m->cycle_refs = 0;
      if (m->grad.defined()) cut.push_back(std::move(m->grad));
    }
  return true;  // cut goes here, while the caller's handle still holds n
}

}  // namespace

namespace detail {
template <class T>
void release_cyclic(Node<T>* n) noexcept {
  const std::uint32_t refs = n->refs.load(std::memory_order_acquire);
  if (refs > 1 && refs - 1 <= n->cycle_refs) only_cycle_holds(n);
  if (n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) free_node(n);
}
template void release_cyclic(Node<float>*) noexcept;
template void release_cyclic(Node<double>*) noexcept;
}  // namespace detail

template void detail::note_cycles(const std::vector<Variable<float>>&);
template void detail::note_cycles(const std::vector<Variable<double>>&);

}  // namespace tg
