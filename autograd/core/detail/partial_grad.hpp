#pragma once
// Internal (tg::detail, not installed): tg::grad with every input held fixed as an independent
// variable. The pass takes each input's gradient and goes no further through it, so an input
// computed from another input or from a parameter gets only its own partial derivative (the
// caller's engine carries it on through that input's graph). Activation checkpointing
// (checkpoint.cpp) differentiates its recomputed segment this way, and tells the nodes a
// segment made from those before it by their tape position.
#include <cstdint>
#include <vector>

#include "../variable.hpp"

namespace tg::detail {

/// The tape position of the newest node so far (every node made later has a larger one).
std::uint64_t tape_position_now();

template <class T>
std::vector<Variable<T>> partial_grad(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                                      const std::vector<Variable<T>>& grad_outputs, const GradOptions& options);

}  // namespace tg::detail
