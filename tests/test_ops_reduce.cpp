// Reductions and the softmax family: values, first and second derivatives, stability, errors.
#include "testing.hpp"

using namespace tg;
using tg::testing::D;

TEST_CASE("reduce: smoke") {
  D x({{1.0, 5.0, 3.0}, {4.0, 2.0, 6.0}}, true);
  CHECK(max(x).item() == 6.0);
  CHECK(min(x, {1}).value() == xt::xarray<double>{1.0, 2.0});
  CHECK(argmax(x, 1) == IndexArray{1, 2});
  auto sm = softmax(x, -1);
  CHECK(std::abs(sum(sm).item() - 2.0) < 1e-12);
  CHECK(gradcheck([](const std::vector<D>& in) { return logsumexp(in[0], {1}); }, {x}));
  CHECK(gradgradcheck([](const std::vector<D>& in) { return softmax(in[0], 1); }, {x}));
  CHECK(gradgradcheck([](const std::vector<D>& in) { return log_softmax(in[0], 0); }, {x}));
  CHECK(gradgradcheck([](const std::vector<D>& in) { return norm(in[0], {1}); }, {x}));
  CHECK(gradgradcheck([](const std::vector<D>& in) { return max(in[0], {0}); }, {x}));
}
