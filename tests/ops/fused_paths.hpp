#pragma once
// A fused op keeps two forms of its derivative (autograd/ops/fused.hpp): a raw kernel for the
// plain backward pass and the same formula written with ops for create_graph. They must agree.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "testing.hpp"

namespace tg::testing {

using FusedOp = std::function<D(const std::vector<D>&)>;

/// Checks that the two forms of op's derivative give the same gradients at `inputs` (double):
/// tg::grad without create_graph runs the raw kernel, with create_graph the ops form. Every
/// non-empty subset of the inputs is asked for, since the kernels compute only what is needed.
/// The output gradient is random and itself requires a gradient, so the ops form's results
/// must be recorded (which shows it ran) and the raw kernel's must not.
inline void check_fused_paths(const std::string& name, const FusedOp& op, const std::vector<D>& inputs, double rtol = 1e-12,
                              double atol = 1e-12) {
  const std::size_t n = inputs.size();
  for (std::size_t subset = 1; subset < (std::size_t(1) << n); ++subset) {
    std::vector<D> leaves, wanted;
    for (std::size_t i = 0; i < n; ++i) {
      leaves.emplace_back(inputs[i].value(), ((subset >> i) & 1) != 0);
      if ((subset >> i) & 1) wanted.push_back(leaves.back());
    }
    D first = op(leaves);
    D seed = random_input(first.shape());
    auto raw = tg::grad({first}, wanted, {seed}, {.allow_unused = true});
    auto in_ops = tg::grad({op(leaves)}, wanted, {seed}, {.create_graph = true, .allow_unused = true});
    for (std::size_t k = 0; k < wanted.size(); ++k) {
      INFO(name << ", inputs needing a gradient (bit mask) " << subset << ", gradient " << k);
      REQUIRE(raw[k].defined());
      REQUIRE(in_ops[k].defined());
      CHECK_FALSE(raw[k].requires_grad());
      CHECK(in_ops[k].requires_grad());
      REQUIRE(raw[k].shape() == in_ops[k].shape());
      CHECK(xt::allclose(raw[k].value(), in_ops[k].value(), rtol, atol));
    }
  }
}

}  // namespace tg::testing
