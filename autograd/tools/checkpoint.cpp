// Activation checkpointing: a segment's forward without its graph, recomputed in backward.
#include "checkpoint.hpp"

#include <random>
#include <unordered_set>

#include "../core/detail/partial_grad.hpp"

namespace tg {

namespace {

/// What the segment's result depends on from outside the segment: the variables requiring
/// grad that existed before fn started (tape position <= start) and are reached from `out`
/// through nodes fn made. They are the checkpoint's inputs on the tape: the explicit inputs
/// fn used and any parameter it captured.
template <class T>
std::vector<Variable<T>> outside_inputs(const Variable<T>& out, std::uint64_t start) {
  std::vector<Variable<T>> outside;
  std::unordered_set<const Node<T>*> seen{out.node()};
  std::vector<const Variable<T>*> stack{&out};
  while (!stack.empty()) {
    const Variable<T>& v = *stack.back();
    stack.pop_back();
    const Node<T>* n = v.node();
    if (n->seq <= start) {
      if (n->requires_grad) outside.push_back(v);
      continue;
    }
    for (const Edge<T>& e : n->inputs)  // a leaf fn made has none: nothing outside to reach
      if (seen.insert(e.var.node()).second) stack.push_back(&e.var);
  }
  return outside;
}

/// Puts tg::generator() back to `state` for the recomputation and, on leaving (also through
/// an exception), to where it was: the stream goes on as if nothing had been recomputed.
class GeneratorReplay {
 public:
  explicit GeneratorReplay(const std::mt19937_64& state) : resume_(generator()) { generator() = state; }
  ~GeneratorReplay() { generator() = resume_; }
  GeneratorReplay(const GeneratorReplay&) = delete;
  GeneratorReplay& operator=(const GeneratorReplay&) = delete;

 private:
  std::mt19937_64 resume_;
};

}  // namespace

template <class T>
Variable<T> checkpoint(const CheckpointFunction<T>& fn, const std::vector<Variable<T>>& inputs) {
  TG_CHECK(static_cast<bool>(fn), "checkpoint", "the function is empty");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    TG_CHECK(inputs[i].defined(), "checkpoint", "input " + std::to_string(i) + " is undefined");
  auto generator_state = std::make_shared<const std::mt19937_64>(generator());
  const std::uint64_t start = detail::tape_position_now();
  Variable<T> out = fn(inputs);
  TG_CHECK(out.defined(), "checkpoint", "the function returned an undefined variable");
  if (!is_grad_enabled() || !out.requires_grad()) {
    // Nothing to recompute. A result fn did not make (an input handed back) gets its own node.
    if (out.node()->seq <= start) return detail::unrecorded<T>("checkpoint", xt::xarray<T>(out.value()));
    return out;
  }
  std::vector<Variable<T>> outside = outside_inputs(out, start);
  const Shape shape = out.shape();
  // The result's value, taken from the segment's last node when nothing else holds it (the
  // segment's graph, and with it every intermediate result, is freed right here).
  xt::xarray<T> value = out.use_count() == 1 && out.node()->seq > start ? std::move(out.node()->value)
                                                                          : xt::xarray<T>(out.value());
  out = Variable<T>();
  return make_op<T>("checkpoint", std::move(value), outside,
                    [fn, inputs, generator_state, shape](const GradContext<T>& c) -> Grads<T> {
                      Variable<T> again;
                      {
                        GeneratorReplay replay(*generator_state);
                        EnableGradGuard record;
                        again = fn(inputs);
                      }
                      TG_CHECK(again.defined() && again.shape() == shape && again.requires_grad(), "checkpoint",
                               "the recomputed segment gave " +
                                   (again.defined() ? "a result of shape " + shape_str(again.shape()) +
                                                          (again.requires_grad() ? "" : " without a graph")
                                                    : std::string("an undefined result")) +
                                   " where the forward gave shape " + shape_str(shape) +
                                   " with a graph: the function must compute the same from the same inputs");
                      std::vector<Variable<T>> wanted;
                      for (std::size_t i = 0; i < c.in.size(); ++i) wanted.push_back(c.in[i]);
                      // Under create_graph the engine records this derivative: the gradients then
                      // are graphs through the recomputed segment, kept (retain) for the next order.
                      return Grads<T>(detail::partial_grad<T>({again}, wanted, {c.grad},
                                                              {.create_graph = is_grad_enabled(), .allow_unused = true}));
                    });
}

template Variable<float> checkpoint(const CheckpointFunction<float>&, const std::vector<Variable<float>>&);
template Variable<double> checkpoint(const CheckpointFunction<double>&, const std::vector<Variable<double>>&);

}  // namespace tg
