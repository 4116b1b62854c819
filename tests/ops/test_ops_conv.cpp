// conv1d/conv2d, their transposes, unfold/fold: values and gradients against PyTorch over a grid
// of (stride, padding, dilation, groups), gradcheck and gradgradcheck over the options, errors.
#include "testing.hpp"

#include <array>

#include "reference/patterns.hpp"

#include <random>

#include <tapegrad/autograd/kernels/im2col.hpp>  // internal: the patch layout every convolution uses

using namespace tg;
using tg::testing::check_error;
using tg::testing::D;
using tg::testing::random_input;
using tg::testing::Reference;

namespace {

struct Conv2dCase {
  Shape input, weight;
  std::array<std::size_t, 2> stride;
  std::array<int, 2> padding;  // -1: "same"
  std::array<std::size_t, 2> dilation;
  std::size_t groups;
  Shape out;
  std::vector<double> first, sums;
};

// tests/reference/conv_reference.py
const Conv2dCase conv2d_cases[] = {
    {{2,4,5,6}, {6,4,3,2}, {1, 1}, {0, 0}, {1, 1}, 1, {2,6,3,5}, {0.702860395903, 1.75255529381, 1.88393292753, 1.03520434307}, {14.4547312359, 0.16285990489, 0.274337883208, -1.07349729484}},
    {{2,4,5,6}, {6,4,3,3}, {2, 2}, {1, 1}, {1, 1}, 1, {2,6,3,3}, {1.05752804638, 2.01093630853, 0.181727058169, -0.199754930938}, {-1.31045437077, 6.56413878625, -31.006923288, 2.08898563666}},
    {{2,4,7,6}, {6,4,3,2}, {1, 1}, {2, 2}, {2, 2}, 1, {2,6,7,8}, {-0.334604240056, -0.252769187539, -0.0445410190573, 0.0777915526644}, {-3.50742772237, 1.55122739527, 157.125492606, -0.0885948941957}},
    {{2,4,5,6}, {6,2,3,3}, {2, 1}, {1, 0}, {1, 1}, 2, {2,6,3,4}, {1.40603046086, 0.941245025611, -0.0602857776281, -1.12752636274}, {8.84039043013, 0.556983320263, -21.1129941354, 0.879356701692}},
    {{2,4,5,6}, {8,1,3,3}, {2, 1}, {1, 0}, {1, 1}, 4, {2,8,3,4}, {0.581380592705, 0.13272951634, -0.472409450601, -0.94942999641}, {2.35546965746, -1.25809347024, -5.38685391206, 1.2680308977}},
    {{1,3,8,9}, {4,3,2,3}, {3, 2}, {0, 2}, {1, 2}, 1, {1,4,3,5}, {0.00968264854886, -0.115366834529, -0.221414439958, -0.291912667824}, {0.0800683981331, 16.1103419264, 0.894120891809, -0.655783346119}},
    {{2,4,5,6}, {6,4,3,2}, {1, 1}, {-1, -1}, {1, 1}, 1, {2,6,5,6}, {-0.293691783327, -0.300583140373, -0.260168674847, -0.191455941379}, {15.7058977758, 2.82158283075, -0.339439204886, 3.39211691114}},
    {{2,4,5,6}, {6,2,2,3}, {1, 1}, {-1, -1}, {2, 1}, 2, {2,6,5,6}, {-0.400042134651, -1.07091514729, -1.38075653918, -1.13526968086}, {-1.93428060349, 24.5977189357, -0.568982639439, 3.39211691114}},
};

struct ConvTranspose2dCase {
  Shape input, weight;
  std::array<std::size_t, 2> stride, padding, output_padding, dilation;
  std::size_t groups;
  Shape out;
  std::vector<double> first, sums;
};

const ConvTranspose2dCase conv_transpose2d_cases[] = {
    {{2,4,4,5}, {4,3,3,2}, {1, 1}, {0, 0}, {0, 0}, {1, 1}, 1, {2,3,6,6}, {0.211069548609, 0.619500396947, 0.415140256132, -0.0785299589742}, {4.63287432918, 15.9194302089, -2.48018134801, 0.183509634821}},
    {{2,4,4,5}, {4,3,3,3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1, {2,3,8,10}, {-0.414055680178, -0.236188376135, -0.13790828492, 0.259414077672}, {-0.613397489351, -6.237581142, -0.54619463817, -0.53289139077}},
    {{2,4,4,5}, {4,2,3,2}, {2, 1}, {0, 1}, {0, 0}, {2, 2}, 2, {2,4,11,5}, {0.162859547704, 0.521275733065, 0.629722688006, 0.347938098003}, {-0.329927173559, 1.74122322436, 0.00856523152553, 0.00393837089859}},
    {{1,3,3,4}, {3,2,3,3}, {3, 2}, {1, 0}, {2, 1}, {1, 1}, 1, {1,2,9,10}, {0.0352061567597, 0.0138159816771, 0.277801808109, 0.0910700251777}, {-0.0289375993084, 0.202692185411, -0.831474911407, 0.648729741254}},
    {{2,4,3,3}, {4,1,2,2}, {1, 2}, {0, 0}, {1, 0}, {2, 1}, 4, {2,4,6,6}, {-0.0529780817241, -0.0682617776099, 0.218633567422, 0.175114422746}, {-0.501249383673, -0.188436765245, 0.548510381367, -0.853920798711}},
};

const Reference conv1d_reference = {{2,6,4}, {0.273914938873, 0.57830221131, -0.149614038044, -1.00453305468}, {0.746638000874, -5.83357196844, 0.0839899347191, 4.7983842404}};
const Reference conv_transpose1d_reference = {{2,6,20}, {-0.2, -0.180493768808, -0.2, -0.123894040661}, {0.351517356068, 1.59455484764, 0.0678860586505, -2.38379278093}};

Conv2dOptions options_of(const Conv2dCase& c) {
  Conv2dOptions o{.stride = {c.stride[0], c.stride[1]}, .dilation = {c.dilation[0], c.dilation[1]}, .groups = c.groups};
  if (c.padding[0] < 0) o.padding = "same";
  else o.padding = {static_cast<std::size_t>(c.padding[0]), static_cast<std::size_t>(c.padding[1])};
  return o;
}

/// Direct definition of conv2d (no im2col, no GEMM) for the value checks of odd shapes.
xt::xarray<double> naive_conv2d(const xt::xarray<double>& x, const xt::xarray<double>& w, std::size_t sh, std::size_t sw,
                                std::size_t ph, std::size_t pw, std::size_t dh, std::size_t dw, std::size_t groups) {
  const std::size_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  const std::size_t O = w.shape()[0], Cg = w.shape()[1], KH = w.shape()[2], KW = w.shape()[3];
  const std::size_t Ho = (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1, Wo = (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1;
  xt::xarray<double> out = xt::zeros<double>(Shape{N, O, Ho, Wo});
  const std::size_t Og = O / groups;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < O; ++o)
      for (std::size_t i = 0; i < Ho; ++i)
        for (std::size_t j = 0; j < Wo; ++j)
          for (std::size_t c = 0; c < Cg; ++c)
            for (std::size_t a = 0; a < KH; ++a)
              for (std::size_t b = 0; b < KW; ++b) {
                const auto h = static_cast<std::int64_t>(i * sh + a * dh) - static_cast<std::int64_t>(ph);
                const auto v = static_cast<std::int64_t>(j * sw + b * dw) - static_cast<std::int64_t>(pw);
                if (h < 0 || v < 0 || h >= static_cast<std::int64_t>(H) || v >= static_cast<std::int64_t>(W)) continue;
                out(n, o, i, j) += w(o, c, a, b) * x(n, (o / Og) * Cg + c, h, v);
              }
  (void)C;
  return out;
}

}  // namespace

TEST_CASE("conv2d: values and gradients match PyTorch over stride, padding, dilation and groups") {
  for (const auto& c : conv2d_cases) {
    CAPTURE(shape_str(c.input));
    CAPTURE(shape_str(c.weight));
    CAPTURE(c.groups);
    D x = tg::testing::pattern_input(c.input), w = tg::testing::pattern_weight(c.weight), b = tg::testing::pattern_bias(c.weight[0]);
    tg::testing::check_against(conv2d(x, w, b, options_of(c)), {x, w, b}, {c.out, c.first, c.sums});
  }
}

TEST_CASE("conv_transpose2d: values and gradients match PyTorch, output_padding included") {
  for (const auto& c : conv_transpose2d_cases) {
    CAPTURE(shape_str(c.input));
    CAPTURE(shape_str(c.weight));
    D x = tg::testing::pattern_input(c.input), w = tg::testing::pattern_weight(c.weight),
      b = tg::testing::pattern_bias(c.weight[1] * c.groups);
    const ConvTranspose2dOptions o{.stride = {c.stride[0], c.stride[1]}, .padding = {c.padding[0], c.padding[1]},
                                   .output_padding = {c.output_padding[0], c.output_padding[1]}, .groups = c.groups,
                                   .dilation = {c.dilation[0], c.dilation[1]}};
    tg::testing::check_against(conv_transpose2d(x, w, b, o), {x, w, b}, {c.out, c.first, c.sums});
  }
}

TEST_CASE("conv1d and conv_transpose1d match PyTorch") {
  {
    D x = tg::testing::pattern_input({2, 4, 9}), w = tg::testing::pattern_weight({6, 2, 3}), b = tg::testing::pattern_bias(6);
    tg::testing::check_against(conv1d(x, w, b, {.stride = 2, .padding = 1, .dilation = 2, .groups = 2}), {x, w, b}, conv1d_reference);
  }
  {
    D x = tg::testing::pattern_input({2, 4, 9}), w = tg::testing::pattern_weight({4, 3, 3}), b = tg::testing::pattern_bias(6);
    tg::testing::check_against(
        conv_transpose1d(x, w, b, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2, .dilation = 2}), {x, w, b},
        conv_transpose1d_reference);
  }
}

TEST_CASE("conv2d: the chunked im2col + GEMM path agrees with the definition, float and double") {
  // a batch large enough to span several chunks, and a 1x1 convolution (no im2col at all)
  tg::manual_seed(3);
  D x = random_input({37, 6, 9, 11}), w = random_input({8, 3, 3, 2}), w1 = random_input({4, 6, 1, 1});
  const auto y = conv2d(x, w, D(), {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2});
  const auto expected = naive_conv2d(x.value(), w.value(), 2, 1, 1, 0, 1, 2, 2);
  CHECK(xt::allclose(y.value(), expected, 1e-10, 1e-10));
  CHECK(xt::allclose(conv2d(x, w1).value(), naive_conv2d(x.value(), w1.value(), 1, 1, 0, 0, 1, 1, 1), 1e-10, 1e-10));
  const Var xf(xt::xarray<float>(xt::cast<float>(x.value()))), wf(xt::xarray<float>(xt::cast<float>(w.value())));
  const auto yf = conv2d(xf, wf, Var(), {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2});
  CHECK(xt::allclose(xt::cast<double>(yf.value()), expected, 1e-4, 1e-4));
}

TEST_CASE("conv2d: the first-order backward (one pass for input, weight and bias) equals the derivative written with ops") {
  // create_graph records the derivative as ops (conv_input_grad, conv_weight_grad, sum); without
  // it the three gradients come from one pass over the samples: the same GEMMs in the same order
  tg::manual_seed(17);
  struct Case {
    Shape x, w;
    Conv2dOptions o;
  };
  const Case cases[] = {
      {{37, 6, 9, 11}, {8, 3, 3, 2}, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2}},
      {{9, 4, 7, 7}, {5, 4, 3, 3}, {.padding = 1}},
      {{5, 6, 4, 5}, {4, 6, 1, 1}, {}},  // 1x1: no columns
  };
  for (const auto& k : cases) {
    CAPTURE(shape_str(k.x));
    const Var x(xt::xarray<float>(xt::cast<float>(random_input(k.x).value())), true);
    const Var w(xt::xarray<float>(xt::cast<float>(random_input(k.w).value())), true);
    const Var b(xt::xarray<float>(xt::cast<float>(random_input({k.w[0]}).value())), true);
    const Var y = conv2d(x, w, b, k.o);
    const Var g(xt::xarray<float>(xt::cast<float>(random_input(y.shape()).value())));
    const auto with_ops = tg::grad({y}, {x, w, b}, {g}, {.create_graph = true});
    const std::vector<std::vector<Var>> wanted = {{x, w, b}, {x}, {w}, {b}, {w, b}};
    for (const auto& inputs : wanted) {
      const auto fused = tg::grad({y}, inputs, {g}, {.retain_graph = true});
      REQUIRE(fused.size() == inputs.size());
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        const std::size_t at = inputs[i].shape() == x.shape() ? 0 : inputs[i].shape() == w.shape() ? 1 : 2;
        if (at < 2)
          CHECK(fused[i].value() == with_ops[at].value());  // same GEMMs, same order: equal to the bit
        else
          CHECK(xt::allclose(fused[i].value(), with_ops[at].value(), 1e-5f, 1e-5f));  // the bias sums in another order
      }
    }
  }
}

TEST_CASE("conv2d: gradcheck and gradgradcheck in double over a grid of options") {
  tg::manual_seed(11);
  struct Grid {
    Shape x, w;
    Conv2dOptions o;
    bool bias;
  };
  const Grid grid[] = {
      {{2, 2, 4, 4}, {3, 2, 2, 2}, {}, true},
      {{1, 2, 5, 4}, {2, 2, 3, 2}, {.stride = 2, .padding = 1}, true},
      {{1, 2, 5, 5}, {2, 2, 2, 2}, {.stride = {1, 2}, .padding = {2, 0}, .dilation = 2}, false},
      {{2, 4, 3, 4}, {4, 2, 2, 2}, {.padding = 1, .groups = 2}, true},
      {{1, 3, 4, 4}, {3, 1, 3, 3}, {.padding = "same", .groups = 3}, false},  // depthwise, same
      {{1, 2, 4, 5}, {2, 2, 2, 2}, {.padding = "same", .dilation = {1, 2}}, true},  // asymmetric same
      {{1, 2, 3, 3}, {2, 2, 3, 3}, {.padding = "valid"}, true},
      {{2, 3, 2, 3}, {2, 3, 1, 1}, {}, true},  // 1x1
  };
  for (const auto& g : grid) {
    CAPTURE(shape_str(g.x));
    CAPTURE(shape_str(g.w));
    D x = random_input(g.x), w = random_input(g.w), b = random_input({g.w[0]});
    const auto o = g.o;
    if (g.bias) {
      const auto f = [o](const std::vector<D>& v) { return conv2d(v[0], v[1], v[2], o); };
      CHECK(gradcheck(f, {x, w, b}));
      CHECK(gradgradcheck(f, {x, w, b}));
    } else {
      const auto f = [o](const std::vector<D>& v) { return conv2d(v[0], v[1], D(), o); };
      CHECK(gradcheck(f, {x, w}));
      CHECK(gradgradcheck(f, {x, w}));
    }
  }
}

TEST_CASE("conv_transpose2d, conv1d, conv_transpose1d: gradcheck and gradgradcheck") {
  tg::manual_seed(12);
  {
    D x = random_input({2, 4, 3, 2}), w = random_input({4, 1, 2, 3}), b = random_input({2});
    const auto f = [](const std::vector<D>& v) {
      return conv_transpose2d(v[0], v[1], v[2], {.stride = {2, 1}, .padding = {1, 0}, .output_padding = {1, 0}, .groups = 2, .dilation = {1, 2}});
    };
    CHECK(gradcheck(f, {x, w, b}));
    CHECK(gradgradcheck(f, {x, w, b}));
  }
  {
    D x = random_input({2, 2, 3, 3}), w = random_input({2, 3, 2, 2});
    const auto f = [](const std::vector<D>& v) { return conv_transpose2d(v[0], v[1]); };
    CHECK(gradcheck(f, {x, w}));
    CHECK(gradgradcheck(f, {x, w}));
  }
  {
    D x = random_input({2, 4, 7}), w = random_input({4, 2, 3}), b = random_input({4});
    const auto f = [](const std::vector<D>& v) { return conv1d(v[0], v[1], v[2], {.stride = 2, .padding = 1, .dilation = 2, .groups = 2}); };
    CHECK(gradcheck(f, {x, w, b}));
    CHECK(gradgradcheck(f, {x, w, b}));
  }
  {
    D x = random_input({1, 2, 6}), w = random_input({3, 2, 4});
    const auto f = [](const std::vector<D>& v) { return conv1d(v[0], v[1], D(), {.padding = "same"}); };
    CHECK(gradcheck(f, {x, w}));
    CHECK(gradgradcheck(f, {x, w}));
    CHECK(f({x, w}).shape() == Shape{1, 3, 6});
  }
  {
    D x = random_input({2, 2, 4}), w = random_input({2, 3, 3}), b = random_input({3});
    const auto f = [](const std::vector<D>& v) {
      return conv_transpose1d(v[0], v[1], v[2], {.stride = 3, .padding = 1, .output_padding = 2});
    };
    CHECK(f({x, w, b}).shape() == Shape{2, 3, 12});
    CHECK(gradcheck(f, {x, w, b}));
    CHECK(gradgradcheck(f, {x, w, b}));
  }
}

TEST_CASE("conv2d's input gradient is conv_transpose2d of the output gradient") {
  tg::manual_seed(4);
  D x = random_input({2, 4, 7, 6}), w = random_input({6, 2, 3, 2}), g = random_input({2, 6, 4, 4});
  const Conv2dOptions o{.stride = 2, .padding = 1, .groups = 2};
  const auto dx = tg::grad({conv2d(x, w, D(), o)}, {x}, {g})[0];
  // (7 + 2 - 3) / 2 + 1 = 4 rows out, the transpose gives (4 - 1) 2 - 2 + 3 = 7 back; columns:
  // (6 + 2 - 2) / 2 + 1 = 4 out, (4 - 1) 2 - 2 + 2 = 6 back
  const auto expected = conv_transpose2d(g, w, D(), {.stride = 2, .padding = 1, .groups = 2});
  REQUIRE(expected.shape() == x.shape());
  CHECK(xt::allclose(dx.value(), expected.value()));
}

TEST_CASE("im2col and col2im_add equal their definition for random geometries (both the shifted-image and the row paths)") {
  std::mt19937 gen(11);
  const auto pick = [&](int lo, int hi) { return static_cast<std::size_t>(std::uniform_int_distribution<int>(lo, hi)(gen)); };
  std::size_t checked = 0, shifted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    tg::kernels::PatchGeometry g{pick(1, 3), pick(1, 8), pick(1, 8), pick(1, 4), pick(1, 4), pick(1, 3), pick(1, 3),
                                 pick(0, 4), pick(0, 4), pick(1, 3), pick(1, 3), 0, 0};
    if (trial % 2 == 0) g.stride_h = g.stride_w = 1;  // often stride 1, and "same" padding: the shifted-image path
    if (trial % 4 == 0) g.pad_w = g.dilation_w * (g.kernel_w - 1) / 2 + (g.dilation_w * (g.kernel_w - 1)) % 2;
    const std::size_t span_h = g.dilation_h * (g.kernel_h - 1) + 1, span_w = g.dilation_w * (g.kernel_w - 1) + 1;
    if (g.height + 2 * g.pad_h < span_h || g.width + 2 * g.pad_w < span_w) continue;
    g.out_h = (g.height + 2 * g.pad_h - span_h) / g.stride_h + 1;
    g.out_w = (g.width + 2 * g.pad_w - span_w) / g.stride_w + 1;
    shifted += g.is_shifted_image();
    std::vector<double> image(g.image_size()), cols(g.rows() * g.positions(), -1.0);
    for (auto& v : image) v = static_cast<double>(pick(1, 1000));
    tg::kernels::im2col(g, image.data(), cols.data());
    std::vector<double> random_cols(cols.size()), folded(image.size(), 0.5), expected_fold(image.size(), 0.5);
    for (auto& v : random_cols) v = static_cast<double>(pick(1, 1000));
    tg::kernels::col2im_add(g, random_cols.data(), folded.data());
    bool same = true;
    for (std::size_t c = 0; c < g.channels; ++c)
      for (std::size_t i = 0; i < g.kernel_h; ++i)
        for (std::size_t j = 0; j < g.kernel_w; ++j)
          for (std::size_t oh = 0; oh < g.out_h; ++oh)
            for (std::size_t ow = 0; ow < g.out_w; ++ow) {
              const auto ih = static_cast<std::int64_t>(oh * g.stride_h + i * g.dilation_h) - static_cast<std::int64_t>(g.pad_h);
              const auto iw = static_cast<std::int64_t>(ow * g.stride_w + j * g.dilation_w) - static_cast<std::int64_t>(g.pad_w);
              const bool inside = ih >= 0 && iw >= 0 && ih < static_cast<std::int64_t>(g.height) && iw < static_cast<std::int64_t>(g.width);
              const std::size_t at = ((c * g.kernel_h + i) * g.kernel_w + j) * g.positions() + oh * g.out_w + ow;
              const std::size_t pixel = inside ? (c * g.height + static_cast<std::size_t>(ih)) * g.width + static_cast<std::size_t>(iw) : 0;
              same = same && cols[at] == (inside ? image[pixel] : 0.0);
              if (inside) expected_fold[pixel] += random_cols[at];
            }
    CHECK_MESSAGE(same, "im2col, geometry #" << trial);
    CHECK_MESSAGE(folded == expected_fold, "col2im_add, geometry #" << trial);
    ++checked;
  }
  CHECK(checked > 1500);
  CHECK(shifted > 500);
}

TEST_CASE("unfold and fold: im2col's layout, adjoint to each other, differentiable twice") {
  D x = tg::testing::pattern_input({2, 3, 4, 5});
  const UnfoldOptions o{.kernel_size = {2, 3}, .dilation = {1, 2}, .padding = {1, 0}, .stride = {2, 1}};
  const D cols = unfold(x, o);
  // L = ((4 + 2 - 2) / 2 + 1) ((5 - 5) / 1 + 1) = 3 patches of 3 * 6 taps
  REQUIRE(cols.shape() == Shape{2, 18, 3});
  // row (c kH + i) kW + j, column (oh, ow) holds x[n, c, oh 2 - 1 + i, ow + 2 j]
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j)
          for (std::size_t oh = 0; oh < 3; ++oh) {
            const auto h = static_cast<std::int64_t>(oh * 2 + i) - 1;
            const double expected = h < 0 || h >= 4 ? 0.0 : x.value()(n, c, h, 2 * j);
            CHECK(cols.value()(n, (c * 2 + i) * 3 + j, oh) == expected);
          }
  // <unfold(x), y> = <x, fold(y)>
  tg::manual_seed(5);
  D y = random_input(cols.shape());
  const D folded = fold(y, {4, 5}, o);
  CHECK(sum(cols * y).item() == doctest::Approx(sum(x * folded).item()).epsilon(1e-12));
  // non-overlapping patches that tile the image: fold(unfold(x)) = x
  CHECK(xt::allclose(fold(unfold(x, {.kernel_size = {2, 5}, .stride = {2, 5}}), {4, 5}, {.kernel_size = {2, 5}, .stride = {2, 5}}).value(),
                     x.value()));
  D small = random_input({1, 2, 3, 4});
  CHECK(gradcheck([o](const std::vector<D>& v) { return unfold(v[0], o); }, {random_input({1, 2, 4, 5})}));
  CHECK(gradgradcheck([](const std::vector<D>& v) { return unfold(v[0], {.kernel_size = 2, .padding = 1}); }, {small}));
  D c2 = random_input({1, 8, 20});  // (3 + 2 - 2 + 1) (4 + 2 - 2 + 1) patches
  const auto f = [](const std::vector<D>& v) { return fold(v[0], {3, 4}, {.kernel_size = 2, .padding = 1}); };
  CHECK(f({c2}).shape() == Shape{1, 2, 3, 4});
  CHECK(gradcheck(f, {c2}));
  CHECK(gradgradcheck(f, {c2}));
}

TEST_CASE("conv: a tg::Error naming the op and the shapes for bad input") {
  const D x = tg::testing::pattern_input({2, 4, 5, 5}), w = tg::testing::pattern_weight({6, 2, 3, 3});
  check_error([&] { conv2d(x, w); }, {"conv2d", "[2,4,5,5]", "[6,2,3,3]", "expects 2 input channels", "has 4"});
  check_error([&] { conv2d(x, w, D(), {.groups = 3}); }, {"conv2d", "4 input channels are not divisible by groups 3"});
  check_error([&] { conv2d(x, tg::testing::pattern_weight({5, 2, 3, 3}), D(), {.groups = 2}); },
              {"conv2d", "5 output channels are not divisible by groups 2"});
  check_error([&] { conv2d(x, tg::testing::pattern_weight({6, 4, 7, 3})); },
              {"conv2d", "[2,4,5,5]", "[6,4,7,3]", "the kernel spans 7", "padded input is only 5"});
  check_error([&] { conv2d(x, tg::testing::pattern_weight({6, 4, 3, 3}), D(), {.padding = 1, .dilation = 4}); },
              {"conv2d", "the kernel spans 9 (size 3, dilation 4) but the padded input is only 7 long"});
  check_error([&] { conv2d(x, w, D(), {.stride = 2, .padding = "same", .groups = 2}); }, {"conv2d", "\"same\" needs stride 1"});
  check_error([&] { conv2d(x, w, tg::testing::pattern_bias(5), {.groups = 2}); }, {"conv2d", "bias [5] must be [6]"});
  check_error([&] { conv2d(tg::testing::pattern_input({4, 5, 5}), w); }, {"conv2d", "[4,5,5]", "must be [N, C, H, W]"});
  check_error([&] { conv1d(tg::testing::pattern_input({2, 4, 5}), w); }, {"conv1d", "[6,2,3,3]", "must be [O, C/groups, K]"});
  check_error([&] { conv2d(x, w, D(), {.stride = 0, .groups = 2}); }, {"conv2d", "stride must be positive"});
  check_error([&] { conv_transpose2d(x, tg::testing::pattern_weight({3, 2, 3, 3})); },
              {"conv_transpose2d", "[2,4,5,5]", "[3,2,3,3]", "first axis 3 must equal the input channels 4"});
  check_error([&] { conv_transpose2d(x, tg::testing::pattern_weight({4, 2, 3, 3}), D(), {.stride = 2, .output_padding = 2}); },
              {"conv_transpose2d", "output_padding 2 must be smaller than the stride 2 or the dilation 1"});
  check_error([&] { conv_transpose2d(x, tg::testing::pattern_weight({4, 2, 3, 3}), D(), {.groups = 3}); },
              {"conv_transpose2d", "4 input channels are not divisible by groups 3"});
  check_error([&] { fold(tg::testing::pattern_input({1, 7, 20}), {3, 4}, {.kernel_size = 2, .padding = 1}); },
              {"fold", "[1,7,20]", "7 rows are not a multiple of the kernel's 4 taps"});
  check_error([&] { fold(tg::testing::pattern_input({1, 8, 11}), {3, 4}, {.kernel_size = 2, .padding = 1}); },
              {"fold", "11 columns, but the output size has 20 patches"});
  check_error([&] { unfold(tg::testing::pattern_input({1, 2, 3}), {.kernel_size = 2}); }, {"unfold", "[1,2,3]", "[N, C, H, W]"});
  check_error([&] { Conv2dOptions{.padding = "full"}; }, {"padding \"full\" is neither"});
}
