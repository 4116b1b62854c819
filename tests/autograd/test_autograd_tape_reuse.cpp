// What the tape reuses to stay cheap: nodes recycled per thread come back as new, large buffers
// taken from the cache hold exactly the new result, and SmallVector (an op's inputs and its
// gradients) behaves as a vector inline and past its inline capacity.
#include <string>
#include <vector>

#include "testing.hpp"

using namespace tg;
using tg::testing::D;

TEST_CASE("a recycled node comes back as a new one") {
  Var x(xt::xarray<float>{1, 2, 3}, true);
  {
    Var old = x * 2.0f;  // a result: an op, inputs, a derivative
    old.set_name("old");
    Var leaf(xt::xarray<float>{4, 5, 6}, true);
    leaf.set_name("leaf");
    leaf.mutable_value()(0) = 7;  // version 1
    sum(leaf * old).backward();
    CHECK(leaf.has_grad());
  }  // both freed: their nodes go to this thread's pool, with their [3] values
  for (int i = 0; i < 4; ++i) {
    Var fresh(xt::xarray<float>{8, 9, 10});
    CHECK(fresh.name().empty());
    CHECK(fresh.version() == 0);
    CHECK_FALSE(fresh.has_grad());
    CHECK_FALSE(fresh.requires_grad());
    CHECK(fresh.is_leaf());
    CHECK(fresh.value() == xt::xarray<float>{8, 9, 10});
    Var result = x + 1.0f;
    CHECK(result.op_name() == std::string("add_scalar"));
    CHECK(result.value() == xt::xarray<float>{2, 3, 4});
    CHECK(result.version() == 0);
    Var other_shape = sum(x);  // a recycled [3] node given a 0-d value
    CHECK(other_shape.shape() == Shape{});
    CHECK(other_shape.item() == 6);
  }
}

TEST_CASE("results in cached large buffers hold exactly the new values, whatever shape the buffer had") {
  const std::size_t n = 1 << 15;  // 128 KiB of float: above the cache's 64 KiB
  xt::xarray<float> v = xt::empty<float>(Shape{n});
  for (std::size_t i = 0; i < n; ++i) v.data()[i] = float(i % 13);
  Var x(v, true);
  for (int round = 0; round < 3; ++round) {
    {
      Var big = x * 3.0f;  // freed at the end of the block: its buffer goes to the cache
      sum(big).backward();
    }
    Var again = reshape(x + 1.0f, {256, 128});  // same element count, another shape
    REQUIRE(again.shape() == Shape{256, 128});
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i) wrong += again.value().data()[i] != float(i % 13) + 1;
    CHECK(wrong == 0);
    CHECK(x.grad().value()(n - 1) == 3.0f * float(round + 1));  // gradients accumulate as before
  }
}

TEST_CASE("SmallVector: inline, past its inline capacity, copied and moved") {
  D a = scalar<double>(1), b = scalar<double>(2), c = scalar<double>(3), d = scalar<double>(4);
  SmallVector<D, 2> v{a, b};
  CHECK(v.size() == 2);
  CHECK(v.capacity() == 2);
  v.push_back(c);  // to the heap
  v.emplace_back(d);
  CHECK(v.size() == 4);
  CHECK(v.capacity() >= 4);
  CHECK(v[2].item() == 3);
  CHECK(a.use_count() == 2);  // one handle here, one in v

  SmallVector<D, 2> copy = v;
  CHECK(a.use_count() == 3);
  SmallVector<D, 2> moved = std::move(v);  // a heap buffer changes hands
  CHECK(v.empty());
  CHECK(a.use_count() == 3);
  CHECK(moved.back().item() == 4);

  SmallVector<D, 2> small{a};
  SmallVector<D, 2> small_moved = std::move(small);  // inline elements are moved one by one
  CHECK(small.empty());
  CHECK(small_moved.size() == 1);
  CHECK(small_moved[0].same_node(a));
  small_moved = copy;  // copy assignment over an inline one
  CHECK(small_moved.size() == 4);

  copy.resize(1);
  moved.clear();
  small_moved.pop_back();
  CHECK(a.use_count() == 3);  // copy[0] and small_moved[0]

  SmallVector<D, 3> from_vector(std::vector<D>{c, d});  // a derivative may return a std::vector
  CHECK(from_vector.size() == 2);
  CHECK(from_vector[1].same_node(d));
  SmallVector<D, 3> sized(2);
  CHECK_FALSE(sized[0].defined());
}
