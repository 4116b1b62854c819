#include <cstdio>

#include <tapegrad/tapegrad.hpp>

int main() {
  tg::Var x(xt::xarray<float>{1.0f, 2.0f}, true);
  auto y = tg::sum(x * x);
  y.backward();
  const bool ok = x.grad().value()(1) == 4.0f;
  std::printf("consumer: d sum(x^2)/dx = [%g, %g] %s\n", x.grad().value()(0), x.grad().value()(1), ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
