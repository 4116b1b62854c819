#pragma once
// Internal: the derivative of a fused op. A fused op computes its value in one loop and keeps
// two forms of its derivative: a raw kernel on the values, for the common first-order
// backward, and the same formula composed of ops, which records and so gives second
// derivatives under create_graph. Which one runs is decided here, once for every fused op:
// the raw kernel when nothing records (plain backward(), tg::grad without create_graph), the
// ops form when the backward pass itself is being recorded.
#include <initializer_list>
#include <utility>

#include "../core/grad_mode.hpp"
#include "../core/variable.hpp"

namespace tg::detail {

/// raw(ctx) when nothing records, in_ops(ctx) under create_graph; both return one gradient per
/// input (undefined where ctx.needs(i) is false or the input has none).
template <class T, class InOps, class Raw>
Grads<T> fused_derivative(const GradContext<T>& ctx, InOps&& in_ops, Raw&& raw) {
  return is_grad_enabled() ? std::forward<InOps>(in_ops)(ctx) : std::forward<Raw>(raw)(ctx);
}

/// make_op for a fused op: `state` (the shape facts and saved statistics both forms read) is
/// stored once with the node, and the derivative is in_ops(ctx, state) under create_graph,
/// raw(ctx, state) otherwise. in_ops and raw are best captureless, so the node holds only
/// the state.
template <class T, class State, class InOps, class Raw>
Variable<T> make_fused_op(const char* op, xt::xarray<T>&& value, std::initializer_list<InputRef<T>> inputs, State state, InOps in_ops,
                          Raw raw) {
  return make_op<T>(op, std::move(value), inputs,
                    [state = std::move(state), in_ops, raw](const GradContext<T>& ctx) -> Grads<T> {
                      return fused_derivative(
                          ctx, [&](const GradContext<T>& c) { return in_ops(c, state); },
                          [&](const GradContext<T>& c) { return raw(c, state); });
                    });
}

}  // namespace tg::detail
