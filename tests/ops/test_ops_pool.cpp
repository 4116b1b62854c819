// Pooling: values, gradients and indices against PyTorch over a grid of (kernel, stride, padding,
// dilation, ceil_mode, count_include_pad), gradcheck and gradgradcheck, errors.
#include "testing.hpp"

#include <array>

#include "reference/patterns.hpp"

using namespace tg;
using tg::testing::check_error;
using tg::testing::D;
using tg::testing::random_input;
using tg::testing::Reference;

namespace {

struct MaxPoolCase {
  std::array<std::size_t, 2> kernel, stride, padding, dilation;
  bool ceil_mode;
  Shape out;
  std::vector<double> first, sums;
  Index index_checksum;  // sum of indices[i] * (i mod 7)
};

// tests/reference/conv_reference.py, input [2,3,7,8]
const MaxPoolCase max_pool_cases[] = {
    {{2, 2}, {2, 2}, {0, 0}, {1, 1}, false, {2,3,3,4}, {0.841470984808, 0.991664810452, 0.662969230082, -0.625070648893}, {0.580392370354, -0.59340691748}, 4907},
    {{3, 3}, {2, 2}, {1, 1}, {1, 1}, true, {2,3,4,5}, {0.841470984808, 0.991664810452, 0.989358246623, 0.0247754254534}, {2.29662728316, 1.06609787883}, 9681},
    {{3, 3}, {1, 1}, {1, 1}, {2, 2}, false, {2,3,5,6}, {0.989358246623, 0.867644100642, 0.989358246623, 0.867644100642}, {-2.33682296349, -3.84784157248}, 14758},
    {{2, 3}, {1, 2}, {1, 1}, {1, 1}, true, {2,3,8,5}, {0.841470984808, 0.991664810452, 0.675463180551, -0.611857890943}, {0.96807075986, -1.52981601743}, 19904},
    {{3, 2}, {3, 3}, {1, 0}, {1, 2}, true, {2,3,3,3}, {0.991664810452, 0.989358246623, -0.625070648893, 0.327474439138}, {0.691031410737, 3.09353216207}, 4158},
};

struct AvgPoolCase {
  std::array<std::size_t, 2> kernel, stride, padding;
  bool ceil_mode, count_include_pad;
  Shape out;
  std::vector<double> first, sums;
};

const AvgPoolCase avg_pool_cases[] = {
    {{2, 2}, {2, 2}, {0, 0}, false, true, {2,3,3,4}, {0.268663972538, 0.876730714564, 0.0293668567565, -0.866747913086}, {-0.434928410678, -0.831954220951}},
    {{3, 3}, {2, 2}, {1, 1}, true, true, {2,3,4,5}, {0.119406210017, 0.517770578509, 0.198032094911, -0.450452679759}, {0.826614311993, 0.0780232403968}},
    {{3, 3}, {2, 2}, {1, 1}, true, false, {2,3,4,5}, {0.268663972538, 0.776655867763, 0.297048142367, -0.675679019639}, {1.33451355082, 0.140382020941}},
    {{3, 2}, {2, 1}, {1, 1}, false, false, {2,3,4,9}, {-0.0391782290844, 0.268663972538, 0.748778444851, 0.876730714564}, {-4.64743595755, -0.0236226793216}},
    {{2, 4}, {3, 3}, {1, 2}, true, true, {2,3,3,4}, {0.142123898934, 0.318772454781, -0.303907750237, -0.14724244262}, {0.0117685424007, 0.0469207534483}},
};

const Reference adaptive_avg_3x5 = {{2,3,3,5}, {-0.0265042611288, 0.609815797593, 0.702550849804, 0.0177655165206}, {24.9565933652, 1.63294743245}};
const Reference adaptive_max_3x5 = {{2,3,3,5}, {0.841470984808, 0.991664810452, 0.989358246623, 0.986771964275}, {17.3094325312, 5.08994248729}};
const Reference adaptive_avg_4x3 = {{2,3,4,3}, {0.486126220206, 0.45304878566, -0.675679019639, -0.256872611279}, {-0.0899858320698, 0.308817575973}};
const Reference adaptive_max_4x3 = {{2,3,4,3}, {0.991664810452, 0.991664810452, 0.0247754254534, 0.850436620629}, {0.276535748572, 0.154401302302}};
const Reference max_pool1d_reference = {{2,3,5}, {0.841470984808, 0.841470984808, 0.675463180551, 0.311541363513}, {4.37654797156, 0.872386133506}};
const Reference avg_pool1d_reference = {{2,3,5}, {0.568495595735, 0.637544909561, -0.607815500474, -0.0238383341021}, {-0.410514907442, 0.316786165789}};

Size2 size2(const std::array<std::size_t, 2>& a) { return {a[0], a[1]}; }

}  // namespace

TEST_CASE("max_pool2d: values, gradients and indices match PyTorch") {
  for (const auto& c : max_pool_cases) {
    CAPTURE(c.kernel[0]);
    CAPTURE(c.stride[0]);
    CAPTURE(c.ceil_mode);
    D x = tg::testing::pattern_input({2, 3, 7, 8});
    const auto [out, indices] = max_pool2d_with_indices(x, {.kernel_size = size2(c.kernel), .stride = size2(c.stride),
                                                             .padding = size2(c.padding), .dilation = size2(c.dilation),
                                                             .ceil_mode = c.ceil_mode});
    REQUIRE(indices.shape() == out.shape());
    Index checksum = 0;
    for (std::size_t i = 0; i < indices.size(); ++i) checksum += indices.data()[i] * static_cast<Index>(i % 7);
    CHECK(checksum == c.index_checksum);
    tg::testing::check_against(out, {x}, {c.out, c.first, c.sums});
  }
}

TEST_CASE("avg_pool2d: values and gradients match PyTorch, with and without count_include_pad") {
  for (const auto& c : avg_pool_cases) {
    CAPTURE(c.kernel[0]);
    CAPTURE(c.ceil_mode);
    CAPTURE(c.count_include_pad);
    D x = tg::testing::pattern_input({2, 3, 7, 8});
    tg::testing::check_against(avg_pool2d(x, {.kernel_size = size2(c.kernel), .stride = size2(c.stride), .padding = size2(c.padding),
                                              .ceil_mode = c.ceil_mode, .count_include_pad = c.count_include_pad}),
                               {x}, {c.out, c.first, c.sums});
  }
}

TEST_CASE("adaptive pools and 1-d pools match PyTorch") {
  const std::pair<Size2, std::pair<const Reference*, const Reference*>> adaptive[] = {
      {{3, 5}, {&adaptive_avg_3x5, &adaptive_max_3x5}}, {{4, 3}, {&adaptive_avg_4x3, &adaptive_max_4x3}}};
  for (const auto& [size, refs] : adaptive) {
    D x = tg::testing::pattern_input({2, 3, 7, 8});
    tg::testing::check_against(adaptive_avg_pool2d(x, size), {x}, *refs.first);
    D y = tg::testing::pattern_input({2, 3, 7, 8});
    tg::testing::check_against(adaptive_max_pool2d(y, size), {y}, *refs.second);
  }
  D x = tg::testing::pattern_input({2, 3, 11});
  tg::testing::check_against(max_pool1d(x, {.kernel_size = 3, .stride = 2, .padding = 1, .dilation = 2, .ceil_mode = true}), {x},
                             max_pool1d_reference);
  D y = tg::testing::pattern_input({2, 3, 11});
  tg::testing::check_against(avg_pool1d(y, {.kernel_size = 4, .stride = 3, .padding = 2, .ceil_mode = true, .count_include_pad = false}),
                             {y}, avg_pool1d_reference);
}

TEST_CASE("max pooling: the stride defaults to the kernel, a NaN wins its window, an unbatched input works") {
  D x({{{1.0, 5.0, 2.0, 0.0}, {3.0, 4.0, -1.0, 7.0}}}, true);  // [1, 2, 4] as [C, H, W]
  const auto [out, indices] = max_pool2d_with_indices(x, {.kernel_size = 2});
  REQUIRE(out.shape() == Shape{1, 1, 2});
  CHECK(out.value()(0, 0, 0) == 5.0);
  CHECK(out.value()(0, 0, 1) == 7.0);
  CHECK(indices(0, 0, 0) == 1);
  CHECK(indices(0, 0, 1) == 7);
  sum(out).backward();
  CHECK(x.grad().value() == xt::xarray<double>({{{0.0, 1.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 1.0}}}));
  D nan_input({{{1.0, std::nan(""), 2.0, 0.0}}});
  CHECK(std::isnan(max_pool1d(nan_input, {.kernel_size = 2}).value()(0, 0, 0)));
  // 2x2 windows (their own kernel): ties keep the first tap, a NaN wins, the last NaN of a window
  const double nan = std::nan("");
  D windows({{{3.0, 3.0, 1.0, nan, 0.0, nan}, {2.0, 3.0, nan, 9.0, nan, -1.0}}});  // [1, 2, 6]
  const auto [pooled, where] = max_pool2d_with_indices(windows, {.kernel_size = 2});
  REQUIRE(pooled.shape() == Shape{1, 1, 3});
  CHECK(pooled.value()(0, 0, 0) == 3.0);
  CHECK(where(0, 0, 0) == 0);
  CHECK(std::isnan(pooled.value()(0, 0, 1)));
  CHECK(where(0, 0, 1) == 8);
  CHECK(std::isnan(pooled.value()(0, 0, 2)));
  CHECK(where(0, 0, 2) == 10);
}

TEST_CASE("pools: gradcheck and gradgradcheck in double") {
  tg::manual_seed(21);
  // distinct values far apart, so finite differences never cross a tie of the max
  const auto spread = [](const Shape& s) {
    D x = random_input(s);
    auto& v = x.mutable_value();
    for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = static_cast<double>((i * 37) % v.size()) * 0.1 + 0.05 * v.data()[i];
    return x;
  };
  const std::vector<std::pair<const char*, DoubleFunction>> cases = {
      {"max_pool2d", [](const std::vector<D>& v) { return max_pool2d(v[0], {.kernel_size = 2}); }},
      {"max_pool2d options", [](const std::vector<D>& v) {
         return max_pool2d(v[0], {.kernel_size = {3, 2}, .stride = {2, 1}, .padding = 1, .dilation = {1, 2}, .ceil_mode = true});
       }},
      {"max_pool1d", [](const std::vector<D>& v) { return max_pool1d(reshape(v[0], {2, 3, 12}), {.kernel_size = 3, .stride = 2, .padding = 1}); }},
      {"avg_pool2d", [](const std::vector<D>& v) { return avg_pool2d(v[0], {.kernel_size = 3, .stride = 2, .padding = 1, .ceil_mode = true}); }},
      {"avg_pool2d no pad count", [](const std::vector<D>& v) {
         return avg_pool2d(v[0], {.kernel_size = {2, 3}, .stride = 1, .padding = 1, .count_include_pad = false});
       }},
      {"avg_pool1d", [](const std::vector<D>& v) { return avg_pool1d(reshape(v[0], {2, 3, 12}), {.kernel_size = 3, .stride = 2}); }},
      {"adaptive_avg_pool2d", [](const std::vector<D>& v) { return adaptive_avg_pool2d(v[0], {3, 2}); }},
      {"adaptive_max_pool2d", [](const std::vector<D>& v) { return adaptive_max_pool2d(v[0], {2, 3}); }},
  };
  for (const auto& [name, f] : cases) {
    CAPTURE(name);
    D x = spread({2, 3, 4, 3});
    CHECK(gradcheck(f, {x}));
    CHECK(gradgradcheck(f, {x}));
  }
}

TEST_CASE("pools: a tg::Error naming the op and the shapes for bad input") {
  const D x = tg::testing::pattern_input({2, 3, 5, 5});
  check_error([&] { max_pool2d(x, {.kernel_size = 2, .padding = 2}); }, {"max_pool2d", "[2,3,5,5]", "padding 2 must be at most half the kernel size 2"});
  check_error([&] { max_pool2d(x, {.kernel_size = 4, .dilation = 2}); }, {"max_pool2d", "[2,3,5,5]", "the window spans 7", "only 5"});
  check_error([&] { avg_pool2d(x, {.kernel_size = 0}); }, {"avg_pool2d", "kernel_size, stride and dilation must be positive"});
  check_error([&] { max_pool1d(x, {.kernel_size = 2}); }, {"max_pool1d", "[2,3,5,5]", "[N, C, L] or [C, L]"});
  check_error([&] { avg_pool2d(tg::testing::pattern_input({5}), {.kernel_size = 2}); }, {"avg_pool2d", "[5]", "[N, C, H, W]"});
  check_error([&] { adaptive_avg_pool2d(x, {0, 2}); }, {"adaptive_avg_pool2d", "[2,3,5,5]", "output_size [0,2]"});
}
