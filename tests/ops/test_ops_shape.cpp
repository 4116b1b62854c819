// Shape and selection ops: values by hand, first and second derivatives against finite
// differences (in double), and errors that name the op and the shapes.
#include <functional>
#include <limits>
#include <numeric>
#include <thread>
#include <atomic>

#include <xtensor/xview.hpp>

#include "testing.hpp"

using namespace tg;
using tg::testing::check_error;
using tg::testing::check_grads;
using tg::testing::random_input;
using D = Variable<double>;

namespace {

using Unary = std::function<D(const D&)>;

/// 0, 1, 2, ... in the given shape.
D iota(const Shape& shape, bool requires_grad = false) {
  xt::xarray<double> v = xt::empty<double>(shape);
  std::iota(v.begin(), v.end(), 0.0);
  return D(std::move(v), requires_grad);
}

/// An array of the given shape from its numbers in row-major order (a braced list of
/// one-element rows, {{8}, {8}}, is ambiguous for xarray).
xt::xarray<double> arr(const Shape& shape, std::initializer_list<double> values) {
  xt::xarray<double> a = xt::empty<double>(shape);
  REQUIRE(a.size() == values.size());
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

IndexArray indices(std::initializer_list<Index> values) {
  IndexArray a = xt::empty<Index>(Shape{values.size()});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

IndexArray indices(const Shape& shape, std::initializer_list<Index> values) {
  IndexArray a = xt::empty<Index>(shape);
  REQUIRE(a.size() == values.size());
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

/// check_grads of op, and of op(x)^2. A shape op is linear: gradgradcheck of the op alone checks
/// its derivative (the partner op) through the output weighting; squared, its derivative is also
/// differentiated in x.
void check_grads_and_squared(const DoubleFunction& f, const std::vector<D>& inputs) {
  check_grads(f, inputs);
  check_grads([&](const std::vector<D>& in) {
    auto y = f(in);
    return y * y;
  }, inputs);
}

/// The same for an op of one input.
void check_grads_and_squared(const Unary& op, const D& x) {
  check_grads_and_squared([&](const std::vector<D>& in) { return op(in[0]); }, {x});
}

}  // namespace

// ---- reshape, expand, sum_to -----------------------------------------------------------------------

TEST_CASE("reshape keeps the order of the numbers; one size may be -1") {
  const D x = iota({2, 3});
  auto y = reshape(x, {3, -1});
  REQUIRE(y.shape() == Shape{3, 2});
  CHECK(y.value() == xt::xarray<double>{{0, 1}, {2, 3}, {4, 5}});
  CHECK(reshape(x, {-1}).shape() == Shape{6});
  CHECK(reshape(x, {1, -1, 3}).shape() == Shape{1, 2, 3});
  CHECK(reshape(x, {6, 1}).value()(4, 0) == 4.0);
  CHECK(reshape(scalar<double>(7), {1, 1}).shape() == Shape{1, 1});
  CHECK(reshape(iota({1}), {}).shape() == Shape{});
  manual_seed(1);
  check_grads_and_squared([](const D& v) { return reshape(v, {3, -1}); }, random_input({2, 3}));
  check_grads_and_squared([](const D& v) { return reshape(v, {-1}); }, random_input({2, 1, 2}));
}

TEST_CASE("expand broadcasts; its gradient is summed back") {
  const D x = iota({3, 1});
  auto y = expand(x, {2, 3, 4});
  REQUIRE(y.shape() == Shape{2, 3, 4});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) CHECK(y.value()(i, j, k) == double(j));
  CHECK(expand(scalar<double>(2), {2, 2}).value() == xt::xarray<double>{{2, 2}, {2, 2}});
  CHECK(expand(D({1.0, 2.0}), {3, 2}).value() == xt::xarray<double>{{1, 2}, {1, 2}, {1, 2}});
  D g = iota({3, 1}, true);
  sum(expand(g, {2, 3, 4})).backward();
  CHECK(g.grad().value() == arr({3, 1}, {8, 8, 8}));
  manual_seed(2);
  check_grads_and_squared([](const D& v) { return expand(v, {2, 3, 4}); }, random_input({3, 1}));
  check_grads_and_squared([](const D& v) { return expand(v, {2, 3}); }, random_input({}));
  check_grads_and_squared([](const D& v) { return expand(v, {4, 1, 3}); }, random_input({1, 3}));
}

TEST_CASE("sum_to sums a broadcast result back to a shape") {
  const D x = iota({2, 3, 4});
  auto to_31 = sum_to(x, {3, 1});
  REQUIRE(to_31.shape() == Shape{3, 1});
  for (std::size_t j = 0; j < 3; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t k = 0; k < 4; ++k) s += x.value()(i, j, k);
    CHECK(to_31.value()(j, 0) == s);
  }
  auto to_4 = sum_to(x, {4});
  CHECK(to_4.value() == xt::xarray<double>{60, 66, 72, 78});
  auto to_1x4 = sum_to(x, {1, 4});
  CHECK(to_1x4.value() == xt::xarray<double>{{60, 66, 72, 78}});
  auto to_scalar = sum_to(x, {});
  CHECK(to_scalar.shape() == Shape{});
  CHECK(to_scalar.item() == 276.0);
  CHECK(sum_to(x, {2, 3, 4}).value() == x.value());  // a copy: see "nothing to do" below
  CHECK(sum_to(x, {2, 1, 1}).value() == arr({2, 1, 1}, {66, 210}));
  manual_seed(3);
  check_grads_and_squared([](const D& v) { return sum_to(v, {3, 1}); }, random_input({2, 3, 4}));
  check_grads_and_squared([](const D& v) { return sum_to(v, {}); }, random_input({2, 3}));
  check_grads_and_squared([](const D& v) { return sum_to(v, {2, 1, 4}); }, random_input({2, 3, 4}));
}

// ---- permute, transpose, flatten, squeeze, unsqueeze -----------------------------------------------

TEST_CASE("permute and transpose, with negative axes") {
  const D x = iota({2, 3, 4});
  auto p = permute(x, {2, 0, 1});  // result axis i is x's axis axes[i]
  REQUIRE(p.shape() == Shape{4, 2, 3});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) CHECK(p.value()(k, i, j) == x.value()(i, j, k));
  CHECK(permute(x, {-1, 0, -2}).value() == p.value());
  CHECK(permute(x, {0, 1, 2}).value() == x.value());

  auto t = transpose(x);  // the last two axes
  REQUIRE(t.shape() == Shape{2, 4, 3});
  CHECK(t.value()(1, 3, 2) == x.value()(1, 2, 3));
  auto t02 = transpose(x, 0, -1);
  REQUIRE(t02.shape() == Shape{4, 3, 2});
  CHECK(t02.value()(3, 1, 0) == x.value()(0, 1, 3));
  CHECK(transpose(x, -3, -1).value() == t02.value());
  CHECK(transpose(D({1.0, 2.0})).value() == xt::xarray<double>{1, 2});  // a vector is its own transpose

  // a 2-D transpose larger than one 16x16 block, not a multiple of it
  const D m = iota({17, 35});
  auto mt = transpose(m);
  REQUIRE(mt.shape() == Shape{35, 17});
  bool same = true;
  for (std::size_t i = 0; i < 17; ++i)
    for (std::size_t j = 0; j < 35; ++j) same = same && mt.value()(j, i) == m.value()(i, j);
  CHECK(same);

  manual_seed(4);
  check_grads_and_squared([](const D& v) { return permute(v, {2, 0, 1}); }, random_input({2, 3, 4}));
  check_grads_and_squared([](const D& v) { return permute(v, {1, -1, 0}); }, random_input({2, 3, 2}));
  check_grads_and_squared([](const D& v) { return transpose(v); }, random_input({3, 4}));
  check_grads_and_squared([](const D& v) { return transpose(v, -3, -1); }, random_input({2, 3, 4}));
}

TEST_CASE("flatten, squeeze, unsqueeze") {
  const D x = iota({2, 3, 4});
  CHECK(flatten(x).shape() == Shape{24});
  CHECK(flatten(x, 1).shape() == Shape{2, 12});
  CHECK(flatten(x, 0, 1).shape() == Shape{6, 4});
  CHECK(flatten(x, -2, -1).shape() == Shape{2, 12});
  CHECK(flatten(x, 1, 1).value() == x.value());
  CHECK(flatten(scalar<double>(3)).shape() == Shape{1});
  CHECK(flatten(x, 1).value()(1, 5) == 17.0);

  const D s = iota({1, 3, 1, 2});
  CHECK(squeeze(s).shape() == Shape{3, 2});
  CHECK(squeeze(s, {0}).shape() == Shape{3, 1, 2});
  CHECK(squeeze(s, {-2}).shape() == Shape{1, 3, 2});
  CHECK(squeeze(s, {0, 2}).shape() == Shape{3, 2});
  CHECK(squeeze(s).value() == xt::xarray<double>{{0, 1}, {2, 3}, {4, 5}});
  CHECK(squeeze(iota({1})).shape() == Shape{});

  const D u = iota({2, 3});
  CHECK(unsqueeze(u, 0).shape() == Shape{1, 2, 3});
  CHECK(unsqueeze(u, 1).shape() == Shape{2, 1, 3});
  CHECK(unsqueeze(u, 2).shape() == Shape{2, 3, 1});
  CHECK(unsqueeze(u, -1).shape() == Shape{2, 3, 1});
  CHECK(unsqueeze(u, -3).shape() == Shape{1, 2, 3});
  CHECK(unsqueeze(scalar<double>(1), 0).shape() == Shape{1});
  CHECK(unsqueeze(u, 1).value()(1, 0, 2) == 5.0);

  manual_seed(5);
  check_grads_and_squared([](const D& v) { return flatten(v, 1); }, random_input({2, 3, 2}));
  check_grads_and_squared([](const D& v) { return squeeze(v); }, random_input({1, 3, 1}));
  check_grads_and_squared([](const D& v) { return unsqueeze(v, -2); }, random_input({2, 3}));
}

// ---- narrow, slice -----------------------------------------------------------------------------------

TEST_CASE("narrow, and its gradient placed back at its offset") {
  const D x = iota({4, 5});
  auto n = narrow(x, 1, 1, 3);
  REQUIRE(n.shape() == Shape{4, 3});
  CHECK(n.value() == xt::xarray<double>{{1, 2, 3}, {6, 7, 8}, {11, 12, 13}, {16, 17, 18}});
  CHECK(narrow(x, 0, -2, 2).value() == xt::xarray<double>{{10, 11, 12, 13, 14}, {15, 16, 17, 18, 19}});
  CHECK(narrow(x, -1, 4, 1).value() == arr({4, 1}, {4, 9, 14, 19}));
  CHECK(narrow(x, 0, 2, 0).shape() == Shape{0, 5});
  CHECK(narrow(x, 0, 0, 4).value() == x.value());
  D g = iota({4, 5}, true);
  sum(narrow(g, 1, 1, 3) * 2.0).backward();
  CHECK(g.grad().value() == xt::xarray<double>{{0, 2, 2, 2, 0}, {0, 2, 2, 2, 0}, {0, 2, 2, 2, 0}, {0, 2, 2, 2, 0}});
  manual_seed(6);
  check_grads_and_squared([](const D& v) { return narrow(v, 1, 1, 3); }, random_input({3, 5}));
  check_grads_and_squared([](const D& v) { return narrow(v, 0, -2, 1); }, random_input({3, 2, 2}));
}

TEST_CASE("slice as Python's x[start:stop:step], negative start and stop from the end") {
  const D x = iota({10});
  CHECK(slice(x, 0, 1, 8, 3).value() == xt::xarray<double>{1, 4, 7});
  CHECK(slice(x, 0, -3, 10).value() == xt::xarray<double>{7, 8, 9});
  CHECK(slice(x, 0, -3, 100).value() == xt::xarray<double>{7, 8, 9});  // stop clipped to the end
  CHECK(slice(x, 0, 0, -1, 2).value() == xt::xarray<double>{0, 2, 4, 6, 8});
  CHECK(slice(x, 0, -100, -7).value() == xt::xarray<double>{0, 1, 2});
  CHECK(slice(x, 0, 2, 3).value() == xt::xarray<double>{2});
  CHECK(slice(x, 0, 5, 2).shape() == Shape{0});  // stop before start: empty, as in Python
  CHECK(slice(x, 0, 12, 20).shape() == Shape{0});
  CHECK(slice(x, 0, -4, -1, 2).value() == xt::xarray<double>{6, 8});
  // a step longer than the range takes its first element (x[2:4:5] is [x[2]]; xt::arange gave none)
  CHECK(slice(x, 0, 2, 4, 5).value() == xt::xarray<double>{2});
  CHECK(slice(x, 0, 0, 10, 9).value() == xt::xarray<double>{0, 9});
  // extreme bounds and steps clip or count without overflow
  constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
  CHECK(slice(x, 0, 1, hi, hi).value() == xt::xarray<double>{1});
  CHECK(slice(x, 0, lo, hi).value() == x.value());
  CHECK(slice(x, 0, lo, hi, 4).value() == xt::xarray<double>{0, 4, 8});
  CHECK(slice(x, 0, hi, lo).shape() == Shape{0});
  const D m = iota({3, 6});
  auto cols = slice(m, 1, 1, 6, 2);
  CHECK(cols.value() == xt::xarray<double>{{1, 3, 5}, {7, 9, 11}, {13, 15, 17}});
  CHECK(slice(m, -2, -1, 3).value() == xt::xarray<double>{{12, 13, 14, 15, 16, 17}});
  D g = iota({6}, true);
  sum(slice(g, 0, 1, 6, 2)).backward();
  CHECK(g.grad().value() == xt::xarray<double>{0, 1, 0, 1, 0, 1});
  manual_seed(7);
  check_grads_and_squared([](const D& v) { return slice(v, 1, 1, 6, 2); }, random_input({2, 6}));
  check_grads_and_squared([](const D& v) { return slice(v, 0, -3, -1); }, random_input({5, 2}));
  check_grads_and_squared([](const D& v) { return slice(v, -1, -5, 5, 3); }, random_input({2, 5}));
}

// ---- index_select, gather, scatter_add ---------------------------------------------------------------

TEST_CASE("index_select with repeated indices; their gradients add up") {
  const D x = iota({4, 3});
  auto rows = index_select(x, 0, indices({2, 0, 2}));
  CHECK(rows.value() == xt::xarray<double>{{6, 7, 8}, {0, 1, 2}, {6, 7, 8}});
  auto cols = index_select(x, -1, indices({1, 1}));
  CHECK(cols.value() == xt::xarray<double>{{1, 1}, {4, 4}, {7, 7}, {10, 10}});
  CHECK(index_select(x, 0, indices({})).shape() == Shape{0, 3});
  D g = iota({4, 3}, true);
  sum(index_select(g, 0, indices({2, 0, 2}))).backward();
  CHECK(g.grad().value() == xt::xarray<double>{{1, 1, 1}, {0, 0, 0}, {2, 2, 2}, {0, 0, 0}});
  manual_seed(8);
  check_grads_and_squared([](const D& v) { return index_select(v, 0, indices({2, 0, 2, 3})); }, random_input({4, 3}));
  check_grads_and_squared([](const D& v) { return index_select(v, 1, indices({1, 1, 0})); }, random_input({2, 3, 2}));
}

TEST_CASE("gather picks along an axis (torch.gather)") {
  const D x = iota({3, 4});
  const IndexArray idx = {{0, 0}, {3, 1}, {2, 2}};
  auto g1 = gather(x, 1, idx);  // out[i][j] = x[i][idx[i][j]]
  CHECK(g1.value() == xt::xarray<double>{{0, 0}, {7, 5}, {10, 10}});
  const IndexArray rows = {{2, 0, 1, 1}};
  auto g0 = gather(x, 0, rows);  // out[i][j] = x[rows[i][j]][j]
  CHECK(g0.value() == xt::xarray<double>{{8, 1, 6, 7}});
  CHECK(gather(x, -1, idx).value() == g1.value());
  const IndexArray wide = {{3, 2, 1, 0, 0}};  // larger than x along the gathered axis
  CHECK(gather(x, 1, wide).value() == xt::xarray<double>{{3, 2, 1, 0, 0}});
  D g = iota({3, 4}, true);
  sum(gather(g, 1, idx)).backward();
  CHECK(g.grad().value() == xt::xarray<double>{{2, 0, 0, 0}, {0, 1, 0, 1}, {0, 0, 2, 0}});
  const D c = iota({2, 3, 2});
  const IndexArray i3 = {{{1, 0}, {2, 2}}, {{0, 1}, {1, 0}}};  // [2,2,2] gathering along axis 1
  auto g3 = gather(c, 1, i3);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 2; ++j)
      for (std::size_t k = 0; k < 2; ++k) CHECK(g3.value()(i, j, k) == c.value()(i, std::size_t(i3(i, j, k)), k));
  manual_seed(9);
  check_grads_and_squared([&](const D& v) { return gather(v, 1, idx); }, random_input({3, 4}));
  check_grads_and_squared([&](const D& v) { return gather(v, 0, rows); }, random_input({3, 4}));
  check_grads_and_squared([&](const D& v) { return gather(v, 1, i3); }, random_input({2, 3, 2}));
}

TEST_CASE("scatter_add accumulates repeated indices (torch.scatter_add)") {
  auto s = scatter_add(zeros<double>({3}), 0, indices({0, 0, 2, 0}), D({1.0, 2.0, 3.0, 4.0}));
  CHECK(s.value() == xt::xarray<double>{7, 0, 3});
  const D x = ones<double>({2, 3});
  const IndexArray idx = {{2, 2}, {0, 1}};
  const D src({{1.0, 2.0, 30.0}, {4.0, 5.0, 60.0}});  // larger than idx: its last column is unused
  auto y = scatter_add(x, 1, idx, src);               // y[i][idx[i][j]] += src[i][j]
  CHECK(y.value() == xt::xarray<double>{{1, 1, 4}, {5, 6, 1}});
  auto y0 = scatter_add(x, 0, IndexArray{{1, 0, 1}}, src);  // y[idx[i][j]][j] += src[i][j]
  CHECK(y0.value() == xt::xarray<double>{{1, 3, 1}, {2, 1, 31}});

  D xg = zeros<double>({2, 3}, true);
  D sg({{1.0, 2.0, 30.0}, {4.0, 5.0, 60.0}}, true);
  sum(scatter_add(xg, 1, idx, sg) * D({1.0, 10.0, 100.0})).backward();
  CHECK(xg.grad().value() == xt::xarray<double>{{1, 10, 100}, {1, 10, 100}});
  CHECK(sg.grad().value() == xt::xarray<double>{{100, 100, 0}, {1, 10, 0}});

  manual_seed(10);
  check_grads_and_squared([&](const std::vector<D>& in) { return scatter_add(in[0], 1, idx, in[1]); },
              {random_input({2, 3}), random_input({2, 3})});
  check_grads_and_squared([&](const std::vector<D>& in) { return scatter_add(in[0], 0, indices({0, 0, 2, 0}), in[1]); },
              {random_input({3}), random_input({4})});
  const IndexArray i3 = {{{1, 0}, {2, 2}}, {{0, 1}, {1, 0}}};
  check_grads_and_squared([&](const std::vector<D>& in) { return scatter_add(in[0], 1, i3, in[1]); },
              {random_input({2, 3, 2}), random_input({2, 2, 3})});
  // only src needs a gradient
  check_grads_and_squared([&](const std::vector<D>& in) { return scatter_add(zeros<double>({2, 3}), 1, idx, in[0]); },
              {random_input({2, 3})});
}

// ---- concat, stack, split, one_hot -------------------------------------------------------------------

TEST_CASE("concat joins along an existing axis") {
  const D a = iota({2, 3}), b = iota({2, 1});
  auto c = concat({a, b}, 1);
  CHECK(c.value() == xt::xarray<double>{{0, 1, 2, 0}, {3, 4, 5, 1}});
  CHECK(concat({a, b}, -1).value() == c.value());
  auto r = concat({iota({1, 3}), a, iota({1, 3})});
  CHECK(r.value() == xt::xarray<double>{{0, 1, 2}, {0, 1, 2}, {3, 4, 5}, {0, 1, 2}});
  CHECK(concat({a}).value() == a.value());
  CHECK(concat({a, iota({2, 0})}, 1).value() == a.value());
  D ga = iota({2, 3}, true), gb = iota({2, 1}, true);
  sum(concat({ga, gb}, 1) * D({1.0, 2.0, 3.0, 4.0})).backward();
  CHECK(ga.grad().value() == xt::xarray<double>{{1, 2, 3}, {1, 2, 3}});
  CHECK(gb.grad().value() == arr({2, 1}, {4, 4}));
  manual_seed(11);
  check_grads_and_squared([](const std::vector<D>& in) { return concat(in, 1); },
              {random_input({2, 3}), random_input({2, 1}), random_input({2, 2})});
  check_grads_and_squared([](const std::vector<D>& in) { return concat(in, 0); }, {random_input({1, 2, 2}), random_input({2, 2, 2})});
  // a constant piece between two that need gradients
  check_grads_and_squared([](const std::vector<D>& in) { return concat({in[0], ones<double>({3}), in[1]}); },
              {random_input({2}), random_input({1})});
}

TEST_CASE("stack joins along a new axis") {
  const D a = iota({2, 3}), b = iota({2, 3}) * 10.0;
  auto s0 = stack({a, b});
  REQUIRE(s0.shape() == Shape{2, 2, 3});
  CHECK(s0.value() == xt::xarray<double>{{{0, 1, 2}, {3, 4, 5}}, {{0, 10, 20}, {30, 40, 50}}});
  auto s1 = stack({a, b}, 1);
  REQUIRE(s1.shape() == Shape{2, 2, 3});
  CHECK(s1.value() == xt::xarray<double>{{{0, 1, 2}, {0, 10, 20}}, {{3, 4, 5}, {30, 40, 50}}});
  auto s2 = stack({a, b, a}, -1);
  REQUIRE(s2.shape() == Shape{2, 3, 3});
  CHECK(s2.value()(1, 2, 1) == 50.0);
  CHECK(stack({scalar<double>(1), scalar<double>(2)}).value() == xt::xarray<double>{1, 2});
  CHECK(stack({a}).shape() == Shape{1, 2, 3});
  manual_seed(12);
  check_grads_and_squared([](const std::vector<D>& in) { return stack(in, 1); }, {random_input({2, 3}), random_input({2, 3})});
  check_grads_and_squared([](const std::vector<D>& in) { return stack(in, -1); }, {random_input({3}), random_input({3}), random_input({3})});
}

TEST_CASE("split cuts pieces of the given sizes") {
  const D x = iota({5, 2});
  auto parts = split(x, {2, 3});
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].value() == xt::xarray<double>{{0, 1}, {2, 3}});
  CHECK(parts[1].value() == xt::xarray<double>{{4, 5}, {6, 7}, {8, 9}});
  auto cols = split(x, {1, 0, 1}, -1);
  REQUIRE(cols.size() == 3);
  CHECK(cols[0].value() == arr({5, 1}, {0, 2, 4, 6, 8}));
  CHECK(cols[1].shape() == Shape{5, 0});
  CHECK(cols[2].value() == arr({5, 1}, {1, 3, 5, 7, 9}));
  D g = iota({5, 2}, true);
  auto gp = split(g, {2, 3});
  sum(gp[0] * 2.0 + sum(gp[1]) * 0.0).backward();
  CHECK(g.grad().value() == xt::xarray<double>{{2, 2}, {2, 2}, {0, 0}, {0, 0}, {0, 0}});
  manual_seed(13);
  // the pieces recombined in a way that weighs each one differently
  check_grads_and_squared([](const D& v) {
    auto p = split(v, {1, 2, 1}, 1);
    return concat({p[2] * 3.0, p[0], p[1] * p[1]}, 1);
  }, random_input({2, 4}));
}

TEST_CASE("one_hot") {
  auto h = one_hot<double>(indices({2, 0, 1}), 3);
  CHECK(h.value() == xt::xarray<double>{{0, 0, 1}, {1, 0, 0}, {0, 1, 0}});
  CHECK_FALSE(h.requires_grad());
  const IndexArray labels = {{1, 3}, {0, 0}};
  auto h2 = one_hot(labels, 4);  // float by default
  static_assert(std::is_same_v<decltype(h2), Var>);
  REQUIRE(h2.shape() == Shape{2, 2, 4});
  CHECK(h2.value()(0, 1, 3) == 1.0f);
  CHECK(h2.value()(1, 0, 0) == 1.0f);
  CHECK(sum(h2).item() == 4.0f);
  CHECK(one_hot<double>(IndexArray(5), 6).value() == xt::xarray<double>{0, 0, 0, 0, 0, 1});  // 0-d label
}

TEST_CASE("empty tensors through the shape ops") {
  D e = zeros<double>({0, 3}, true);
  auto y = concat({unsqueeze(narrow(expand(e, {2, 0, 3}), 0, 1, 1), 0), zeros<double>({1, 1, 0, 3})}, 1);
  CHECK(y.shape() == Shape{1, 2, 0, 3});
  CHECK(transpose(e).shape() == Shape{3, 0});
  CHECK(reshape(e, {3, -1}).shape() == Shape{3, 0});
  CHECK(index_select(e, 1, indices({2, 2})).shape() == Shape{0, 2});
  CHECK(gather(e, 1, xt::empty<Index>(Shape{0, 1})).shape() == Shape{0, 1});
  CHECK(sum_to(e, {3}).value() == xt::xarray<double>{0, 0, 0});
  sum(transpose(y, 0, -1)).backward();
  CHECK(e.grad().shape() == Shape{0, 3});
}

// ---- an op with nothing to do -------------------------------------------------------------------------

namespace {
/// op(x) has x's shape and numbers, yet is its own node: naming it, editing it, marking it
/// as requiring grad or asking for its gradient beside x's never touches x.
void check_own_node(const char* what, const Unary& op, const Shape& shape) {
  INFO(what);
  D x = iota(shape, true);
  x.set_name("x");
  D y = op(x);
  CHECK_FALSE(y.same_node(x));
  REQUIRE(y.shape() == x.shape());
  CHECK(y.value() == x.value());
  CHECK_FALSE(y.is_leaf());
  y.set_name("y");
  CHECK(x.name() == "x");
  // l = sum(w * y): dl/dx = dl/dy = w (before: "grad: input 1 appears twice")
  const D w = iota(shape) + 1.0;
  const auto g = tg::grad({sum(w * y)}, {x, y});
  CHECK(g[0].value() == w.value());
  CHECK(g[1].value() == w.value());
  // unrecorded (no input requires grad): a leaf of its own
  const D c = iota(shape);
  D r = op(c);
  CHECK_FALSE(r.same_node(c));
  r.set_requires_grad(true);
  CHECK_FALSE(c.requires_grad());
  if (r.numel() > 0) {
    r.mutable_value().data()[0] = 100;
    CHECK(c.value().data()[0] == 0.0);
  }
  if (x.numel() > 0) {
    manual_seed(3);
    check_grads_and_squared(op, random_input(shape));
  }
}
}  // namespace

TEST_CASE("an op with nothing to do still returns a new node, with the input as its input") {
  check_own_node("reshape to the same shape", [](const D& v) { return reshape(v, {2, 3}); }, {2, 3});
  check_own_node("reshape of a vector to -1", [](const D& v) { return reshape(v, {-1}); }, {4});
  check_own_node("reshape of an empty tensor", [](const D& v) { return reshape(v, {0, 3}); }, {0, 3});
  check_own_node("expand to the same shape", [](const D& v) { return expand(v, {2, 3}); }, {2, 3});
  check_own_node("sum_to the same shape", [](const D& v) { return sum_to(v, {2, 3}); }, {2, 3});
  check_own_node("identity permute", [](const D& v) { return permute(v, {0, 1}); }, {2, 3});
  check_own_node("transpose of a vector", [](const D& v) { return transpose(v); }, {3});
  check_own_node("transpose of a scalar", [](const D& v) { return transpose(v); }, {});
  check_own_node("flatten of a vector", [](const D& v) { return flatten(v); }, {3});
  check_own_node("flatten of one axis", [](const D& v) { return flatten(v, 1, 1); }, {2, 3});
  check_own_node("squeeze without a size-1 axis", [](const D& v) { return squeeze(v); }, {2, 3});
  check_own_node("narrow of the whole axis", [](const D& v) { return narrow(v, 1, 0, 3); }, {2, 3});
  check_own_node("slice of everything", [](const D& v) { return slice(v, 0, 0, 2); }, {2, 3});
  check_own_node("concat of one tensor", [](const D& v) { return concat({v}, 0); }, {2, 3});
  check_own_node("split into one piece", [](const D& v) { return split(v, {3}, 1)[0]; }, {2, 3});
}

// ---- float instantiations --------------------------------------------------------------------------

TEST_CASE("shape ops in float") {
  Var x(xt::xarray<float>{{1, 2, 3}, {4, 5, 6}}, true);
  auto y = concat({transpose(x), narrow(reshape(x, {3, 2}), 1, 0, 1)}, 1);  // [3,2] | [3,1]
  REQUIRE(y.shape() == Shape{3, 3});
  CHECK(y.value() == xt::xarray<float>{{1, 4, 1}, {2, 5, 3}, {3, 6, 5}});
  sum(y).backward();
  CHECK(x.grad().value() == xt::xarray<float>{{2, 1, 2}, {1, 2, 1}});
}

// ---- errors ------------------------------------------------------------------------------------------

TEST_CASE("bad shapes, axes and indices are errors naming the op and the shapes") {
  const D x = iota({2, 3});
  SUBCASE("reshape") {
    check_error([&] { reshape(x, {4, 2}); }, {"reshape: cannot reshape [2,3] (6 elements) to [4,2] (8 elements)"});
    check_error([&] { reshape(x, {4, -1}); }, {"reshape", "[2,3]", "[4,-1]"});
    check_error([&] { reshape(x, {-1, -1}); }, {"reshape", "[2,3]", "[-1,-1]", "only one"});
    check_error([&] { reshape(x, {-2, -3}); }, {"reshape", "[2,3]", "[-2,-3]", "negative"});
  }
  SUBCASE("expand and sum_to") {
    check_error([&] { expand(x, {2, 4}); }, {"expand", "[2,3]", "[2,4]"});
    check_error([&] { expand(x, {3}); }, {"expand", "[2,3]", "[3]"});
    check_error([&] { sum_to(x, {2}); }, {"sum_to", "[2,3]", "[2]"});
    check_error([&] { sum_to(x, {1, 2, 3}); }, {"sum_to", "[2,3]", "[1,2,3]"});
  }
  SUBCASE("permute and transpose") {
    check_error([&] { permute(x, {0, 0}); }, {"permute", "[0,0]", "[2,3]", "twice"});
    check_error([&] { permute(x, {-1, 1}); }, {"permute", "[-1,1]", "[2,3]", "twice"});
    check_error([&] { permute(x, {1, 0, 2}); }, {"permute", "[1,0,2]", "[2,3]"});
    check_error([&] { permute(x, {0, 2}); }, {"permute", "axis 2", "[2,3]"});
    check_error([&] { transpose(x, 0, 2); }, {"transpose", "axis 2", "[2,3]"});
    check_error([&] { transpose(x, -3, 1); }, {"transpose", "axis -3", "[2,3]"});
    check_error([&] { transpose(iota({3}), 0, 1); }, {"transpose", "[3]"});
  }
  SUBCASE("flatten, squeeze, unsqueeze") {
    check_error([&] { flatten(x, 2); }, {"flatten", "axis 2", "[2,3]"});
    check_error([&] { flatten(x, 1, 0); }, {"flatten", "[2,3]"});
    check_error([&] { squeeze(x, {0}); }, {"squeeze", "[2,3]", "not 1"});
    check_error([&] { squeeze(x, {5}); }, {"squeeze", "axis 5", "[2,3]"});
    check_error([&] { unsqueeze(x, 3); }, {"unsqueeze", "axis 3", "[2,3]"});
    check_error([&] { unsqueeze(x, -4); }, {"unsqueeze", "axis -4", "[2,3]"});
  }
  SUBCASE("narrow and slice") {
    check_error([&] { narrow(x, 1, 2, 2); }, {"narrow: start 2 + length 2 exceeds axis 1 of size 3 (shape [2,3])"});
    check_error([&] { narrow(x, 1, -4, 1); }, {"narrow", "[2,3]", "out of range"});
    check_error([&] { narrow(x, 1, 0, -1); }, {"narrow", "[2,3]"});
    check_error([&] { narrow(x, 2, 0, 1); }, {"narrow", "axis 2", "[2,3]"});
    check_error([&] { slice(x, 1, 0, 3, 0); }, {"slice", "step", "[2,3]"});
    check_error([&] { slice(x, -3, 0, 1); }, {"slice", "axis -3", "[2,3]"});
  }
  SUBCASE("sizes and counts that overflow 64 bits are errors, not wrapped numbers") {
    constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
    // start + length overflowed, passed the check and copied far out of bounds
    check_error([&] { narrow(x, 1, 1, big); },
                {"narrow: start 1 + length 9223372036854775807 exceeds axis 1 of size 3 (shape [2,3])"});
    check_error([&] { narrow(x, 0, -1, big); }, {"narrow: start -1 + length 9223372036854775807 exceeds axis 0"});
    check_error([&] { narrow(x, 0, std::numeric_limits<std::int64_t>::min(), 1); }, {"narrow", "out of range", "[2,3]"});
    // the running total of split's sizes wrapped round to the axis size (2 big + 5 == 3 mod 2^64)
    check_error([&] { split(x, {big, big, 5}, 1); }, {"split", "add up to more than axis 1", "[2,3]"});
    // 7 * 7905747460161236407 * 6 == 6 modulo 2^64: the element count wrapped to x's
    check_error([&] { reshape(iota({6}), {7, 7905747460161236407, 6}); },
                {"reshape: cannot reshape [6] to [7,7905747460161236407,6]", "multiply past"});
    check_error([&] { reshape(iota({6}), {7, 7905747460161236407, -1}); }, {"reshape", "multiply past"});
    check_error([&] { expand(iota({1}), {std::size_t(1) << 62, 8}); },
                {"expand: cannot broadcast [1] to [4611686018427387904,8]", "multiply past"});
    check_error([&] { one_hot<double>(indices({0, 1, 2}), big); }, {"one_hot", "[3]", "multiply past"});
    // a zero size makes an empty tensor whatever the other sizes are, but they still multiply:
    // xtensor's strides are their products (signed 64-bit, so an overflow there is undefined)
    check_error([&] { reshape(iota({0}), {0, big, big}); }, {"reshape", "[0,9223372036854775807,9223372036854775807]"});
    const D empty = reshape(iota({0}), {0, std::int64_t(1) << 31, std::int64_t(1) << 31});
    CHECK(empty.shape() == Shape{0, std::size_t(1) << 31, std::size_t(1) << 31});
    CHECK(flatten(empty, 1).shape() == Shape{0, std::size_t(1) << 62});
  }
  SUBCASE("index_select, gather, scatter_add") {
    check_error([&] { index_select(x, 1, indices({0, 3})); }, {"index_select", "index 3", "[2,3]"});
    check_error([&] { index_select(x, 0, indices({-1})); }, {"index_select", "index -1", "[2,3]"});
    check_error([&] { index_select(x, 2, indices({0})); }, {"index_select", "axis 2", "[2,3]"});
    check_error([&] { index_select(x, 0, indices({1, 1}, {0})); }, {"index_select", "[1,1]", "[2,3]"});
    check_error([&] { gather(x, 1, IndexArray{{0, 3}}); }, {"gather", "index 3", "[2,3]"});
    check_error([&] { gather(x, 1, indices({0})); }, {"gather", "[1]", "[2,3]"});
    check_error([&] { gather(x, 1, indices({3, 1}, {0, 0, 0})); }, {"gather", "[3,1]", "[2,3]"});
    check_error([&] { gather(x, 2, indices({1, 1}, {0})); }, {"gather", "axis 2", "[2,3]"});
    check_error([&] { scatter_add(x, 0, indices({1, 1}, {2}), x); }, {"scatter_add", "index 2", "[2,3]"});
    check_error([&] { scatter_add(x, 0, IndexArray{{0, 1, 0}}, iota({1, 2})); }, {"scatter_add", "[1,3]", "[1,2]"});
    check_error([&] { scatter_add(x, 0, indices({1, 1}, {0}), iota({1})); }, {"scatter_add", "[1]", "[1,1]"});
  }
  SUBCASE("concat, stack, split") {
    check_error([&] { concat({x, iota({3, 2})}, 1); }, {"concat", "[2,3]", "[3,2]"});
    check_error([&] { concat({x, iota({2})}, 0); }, {"concat", "[2,3]", "[2]"});
    check_error([&] { concat({x, x}, 2); }, {"concat", "axis 2", "[2,3]"});
    check_error([&] { concat(std::vector<D>{}); }, {"concat"});
    check_error([&] { concat({scalar<double>(1), scalar<double>(2)}); }, {"concat", "[]"});
    check_error([&] { stack({x, iota({3, 2})}); }, {"stack", "[2,3]", "[3,2]"});
    check_error([&] { stack({x, x}, 3); }, {"stack", "axis 3", "[2,3]"});
    check_error([&] { split(x, {1, 1}, 1); }, {"split", "[1,1]", "[2,3]"});
    check_error([&] { split(x, {3, -1}, 1); }, {"split", "[3,-1]", "[2,3]"});
    check_error([&] { split(x, {2}, 2); }, {"split", "axis 2", "[2,3]"});
  }
  SUBCASE("one_hot") {
    check_error([&] { one_hot<double>(indices({0, 3, 1}), 3); }, {"one_hot", "label 3", "3 classes", "[3]"});
    check_error([&] { one_hot<double>(indices({-1}), 3); }, {"one_hot", "label -1", "[1]"});
    check_error([&] { one_hot<double>(indices({0}), 0); }, {"one_hot", "num_classes", "[1]"});
  }
}

// split's pieces gather their gradients into one buffer (select.cpp, SplitGradient) instead of
// adding one zero-padded tensor of x's size per piece; these pin down every path of that.
TEST_CASE("split's gathered gradient: some pieces unused, passes repeated, a pass aborted, create_graph") {
  manual_seed(21);
  D x = random_input({6, 3});
  auto p = split(x, {2, 1, 3}, 0);
  const D w0 = random_input({2, 3}), w2 = random_input({3, 3});
  D loss = sum(p[0] * w0) + sum(p[2] * w2);  // the middle piece is unused
  xt::xarray<double> expected = xt::zeros<double>({6, 3});
  xt::view(expected, xt::range(0, 2), xt::all()) = w0.value();
  xt::view(expected, xt::range(3, 6), xt::all()) = w2.value();
  loss.backward({.retain_graph = true});
  CHECK(xt::allclose(x.grad().value(), expected));
  loss.backward({.retain_graph = true});  // a second pass through the same pieces accumulates
  CHECK(xt::allclose(x.grad().value(), 2.0 * expected));
  // a pass that stops with an error after a piece has written its window: the next pass starts afresh
  x.zero_grad();
  D nan_seed(xt::xarray<double>(xt::ones<double>({3, 3}) * std::nan("")));
  {
    DetectAnomalyGuard anomaly;
    CHECK_THROWS_AS(p[2].backward(nan_seed, {.retain_graph = true}), Error);
  }
  auto g = tg::grad({p[2], p[0]}, {x}, {w2, w0}, {.retain_graph = true})[0];
  CHECK(xt::allclose(g.value(), expected));
  // pieces used twice, through other ops, and recorded for a second derivative
  check_grads_and_squared([](const D& v) {
    auto q = split(v, {2, 2, 2}, 0);
    return concat({q[1] * q[0], q[2] * 3.0, tanh(q[1])}, 0);
  }, random_input({6, 2}));
}

TEST_CASE("split's gathered gradient is right when threads backpropagate through the same pieces at once") {
  manual_seed(22);
  D x = random_input({8, 4});
  auto p = split(x, {2, 2, 2, 2}, 0);
  D loss = sum(p[0] * 1.0) + sum(p[1] * 2.0) + sum(p[2] * 3.0) + sum(p[3] * 4.0);
  xt::xarray<double> expected = xt::empty<double>({8, 4});
  for (std::size_t i = 0; i < 8; ++i)
    for (std::size_t j = 0; j < 4; ++j) expected(i, j) = double(i / 2 + 1);
  std::atomic<int> wrong{0};
  auto work = [&] {
    for (int k = 0; k < 200; ++k) {
      auto g = tg::grad({loss}, {x}, {}, {.retain_graph = true})[0];
      if (!xt::allclose(g.value(), expected)) ++wrong;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  CHECK(wrong == 0);
}

TEST_CASE("permute beyond 2-D (blocked copies) agrees with xtensor's transpose for every order") {
  manual_seed(92);
  const D x = random_input({3, 5, 4, 6});
  Axes perm{0, 1, 2, 3};
  do {
    INFO("perm " << perm[0] << perm[1] << perm[2] << perm[3]);
    const std::vector<std::size_t> order(perm.begin(), perm.end());
    const xt::xarray<double> expected = xt::transpose(x.value(), order);
    const D y = permute(x, perm);
    REQUIRE(y.shape() == Shape(expected.shape().begin(), expected.shape().end()));
    CHECK(std::equal(expected.begin(), expected.end(), y.value().begin()));
  } while (std::next_permutation(perm.begin(), perm.end()));
  // size-1 axes and a 5-D batch of tiles bigger than one block
  const D ones_between = random_input({2, 1, 40, 1, 33});
  const xt::xarray<double> expected = xt::transpose(ones_between.value(), std::vector<std::size_t>{4, 1, 0, 3, 2});
  CHECK(std::equal(expected.begin(), expected.end(), permute(ones_between, {4, 1, 0, 3, 2}).value().begin()));
  CHECK(gradcheck([](const std::vector<D>& in) { return permute(in[0], {2, 0, 3, 1}); }, {random_input({2, 3, 2, 2})}));
}
