#pragma once
// Activation checkpointing: trade compute for memory. tg::checkpoint(fn, x, ...) runs fn and
// keeps only its result, not the intermediate results backward would need; backward runs fn
// again from the same inputs to rebuild them, then differentiates that. A deep network split
// into k segments holds k segment boundaries plus one segment's intermediates instead of all of
// them, for about one more forward pass of compute.
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/variable.hpp"

namespace tg {

/// The segment a checkpoint recomputes, with its inputs as one list.
template <class T>
using CheckpointFunction = std::function<Variable<T>(const std::vector<Variable<T>>&)>;

/// fn(inputs) without keeping fn's intermediate results; backward recomputes them.
/// The gradients are exactly those of fn(inputs) without the checkpoint, for the inputs and
/// for whatever fn uses from outside (parameters captured by reference, found when fn first
/// runs). tg::generator()'s state is saved at the forward and restored for the recomputation,
/// so dropout inside fn draws the same masks again (and the generator continues afterwards as
/// if nothing had been recomputed). Checkpoints nest, and work under create_graph (the
/// recomputed graph is recorded). fn must compute the same thing from the same inputs and
/// generator state (no other hidden state such as a changing flag).
template <class T>
Variable<T> checkpoint(const CheckpointFunction<T>& fn, const std::vector<Variable<T>>& inputs);

/// The same with the inputs as arguments: checkpoint([&](const Var& h) { return block(h); }, x).
template <class F, class T, class... More>
  requires(std::is_same_v<More, Variable<T>> && ...) && std::is_invocable_r_v<Variable<T>, F&, const Variable<T>&,
                                                                               const More&...>
Variable<T> checkpoint(F fn, const Variable<T>& first, const More&... more) {
  constexpr std::size_t count = 1 + sizeof...(More);
  CheckpointFunction<T> segment = [fn = std::move(fn)](const std::vector<Variable<T>>& in) mutable {
    return [&]<std::size_t... I>(std::index_sequence<I...>) { return fn(in[I]...); }(std::make_index_sequence<count>());
  };
  return checkpoint<T>(segment, std::vector<Variable<T>>{first, more...});
}

extern template Variable<float> checkpoint(const CheckpointFunction<float>&, const std::vector<Variable<float>>&);
extern template Variable<double> checkpoint(const CheckpointFunction<double>&, const std::vector<Variable<double>>&);

}  // namespace tg
