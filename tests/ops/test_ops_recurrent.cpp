// The fused recurrent cell ops (lstm_cell_state, lstm_cell_output, gru_cell): values against the
// composed formulas, the fused backward against the recorded one, second order, errors.
// (The cells and layers built on them: nn/test_nn_recurrent.cpp.)
#include "testing.hpp"

using namespace tg;
using tg::testing::check_error;
using tg::testing::random_input;
using D = Variable<double>;
using Fn = std::function<D(const std::vector<D>&)>;

TEST_CASE("the fused cell ops: values, both forms of their derivative agree, second order") {
  manual_seed(19);
  D gates = random_input({2, 8}), c = random_input({2, 2}), xw = random_input({2, 6}), hw = random_input({2, 6});
  auto sig = [](const D& v) { return sigmoid(v); };
  auto part = [](const D& g, int k, int h) { return narrow(g, 1, k * h, h); };
  // values against the composed formulas
  CHECK(xt::allclose(lstm_cell_state(gates, c).value(),
                     (sig(part(gates, 1, 2)) * c + sig(part(gates, 0, 2)) * tanh(part(gates, 2, 2))).value()));
  CHECK(xt::allclose(lstm_cell_output(gates, c).value(), (sig(part(gates, 3, 2)) * tanh(c)).value()));
  auto r = sig(part(xw, 0, 2) + part(hw, 0, 2)), z = sig(part(xw, 1, 2) + part(hw, 1, 2));
  auto n = tanh(part(xw, 2, 2) + r * part(hw, 2, 2));
  CHECK(xt::allclose(gru_cell(xw, hw, c).value(), ((1.0 - z) * n + z * c).value()));
  // the fused loop (no recording) and the ops (create_graph) give the same gradients
  std::vector<std::function<D()>> ops{[&] { return lstm_cell_state(gates, c); }, [&] { return lstm_cell_output(gates, c); },
                                      [&] { return gru_cell(xw, hw, c); }};
  for (auto& op : ops) {
    D seed = random_input({2, 2});
    auto plain = tg::grad({op()}, {gates, c, xw, hw}, {seed}, {.allow_unused = true});
    auto recorded = tg::grad({op()}, {gates, c, xw, hw}, {seed}, {.create_graph = true, .allow_unused = true});
    for (std::size_t i = 0; i < plain.size(); ++i) {
      REQUIRE(plain[i].defined() == recorded[i].defined());
      if (plain[i].defined()) CHECK(xt::allclose(plain[i].value(), recorded[i].value(), 1e-12, 1e-14));
    }
  }
  Fn f1 = [](const std::vector<D>& in) { return lstm_cell_state(in[0], in[1]); };
  Fn f2 = [](const std::vector<D>& in) { return lstm_cell_output(in[0], in[1]); };
  Fn f3 = [](const std::vector<D>& in) { return gru_cell(in[0], in[1], in[2]); };
  CHECK(gradcheck(f1, {gates, c}));
  CHECK(gradgradcheck(f1, {gates, c}));
  CHECK(gradcheck(f2, {gates, c}));
  CHECK(gradgradcheck(f2, {gates, c}));
  CHECK(gradcheck(f3, {xw, hw, c}));
  CHECK(gradgradcheck(f3, {xw, hw, c}));
  check_error([&] { lstm_cell_state(gates, xw); }, {"lstm_cell_state", "gates [2,8]", "c [2,6]"});
  check_error([&] { gru_cell(xw, gates, c); }, {"gru_cell", "[2,8]", "[2,6]"});
}
