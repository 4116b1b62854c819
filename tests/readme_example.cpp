// The first example of README.md, kept compiling and running by ctest.
#include <iostream>
#include <tapegrad/tapegrad.hpp>

int main() {
  tg::Var x({{1, 2}, {3, 4}}, /*requires_grad=*/true);
  tg::Var w({{0.5, -1.0, 2.0}, {1.5, 0.0, -0.5}}, true);

  // any C++ builds the graph: here y = sum(2 tanh(x w))
  tg::Var y = tg::sum(tg::tanh(tg::matmul(x, w)) * 2.0f);

  // gradients returned without touching .grad(); keep the graph for the backward below
  tg::Var dy_dw = tg::grad({y}, {w}, {}, {.retain_graph = true})[0];

  y.backward();                                  // accumulates into x.grad() and w.grad()
  std::cout << "y = " << y.item() << "\n" << x.grad() << "\n" << w.grad() << "\n";
  return dy_dw.value() == w.grad().value() ? 0 : 1;
}
