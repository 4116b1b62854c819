// Every fused op: its raw first-order kernel against its derivative written with ops
// (tests/ops/fused_paths.hpp), and for the normalisation ops values, gradcheck and gradgradcheck.
#include "fused_paths.hpp"

#include <cmath>

using namespace tg;
using tg::testing::check_error;
using tg::testing::check_fused_paths;
using tg::testing::D;
using tg::testing::random_input;

TEST_CASE("lstm_cell_state, lstm_cell_output and gru_cell: raw kernel and ops form agree") {
  manual_seed(31);
  // H = 5: the vectorised loops' full vectors and their remainder; two leading axes
  for (const Shape& rows : {Shape{3}, Shape{2, 3}}) {
    auto with_last = [&](std::size_t last) {
      Shape s = rows;
      s.push_back(last);
      return s;
    };
    D gates = random_input(with_last(20)), c = random_input(with_last(5));
    D xw = random_input(with_last(15)), hw = random_input(with_last(15)), h = random_input(with_last(5));
    check_fused_paths("lstm_cell_state", [](const std::vector<D>& in) { return lstm_cell_state(in[0], in[1]); }, {gates, c});
    check_fused_paths("lstm_cell_output", [](const std::vector<D>& in) { return lstm_cell_output(in[0], in[1]); }, {gates, c});
    check_fused_paths("gru_cell", [](const std::vector<D>& in) { return gru_cell(in[0], in[1], in[2]); }, {xw, hw, h});
  }
}

TEST_CASE("conv1d and conv2d: the one-pass backward and the ops form agree") {
  manual_seed(32);
  // 5 samples: split into ranges over the threads, the partial sums added
  D x2 = random_input({5, 4, 6, 5}), w2 = random_input({6, 2, 3, 2}), b2 = random_input({6});
  check_fused_paths("conv2d, groups 2, stride 2, padding 1",
                    [](const std::vector<D>& in) { return conv2d(in[0], in[1], in[2], {.stride = 2, .padding = 1, .groups = 2}); },
                    {x2, w2, b2});
  D w3 = random_input({3, 4, 2, 2});
  check_fused_paths("conv2d without bias, dilation 2",
                    [](const std::vector<D>& in) { return conv2d(in[0], in[1], D(), {.dilation = 2}); }, {x2, w3});
  D w1x1 = random_input({3, 4, 1, 1}), b1x1 = random_input({3});
  check_fused_paths("conv2d 1x1 (the image is its own column matrix)",
                    [](const std::vector<D>& in) { return conv2d(in[0], in[1], in[2]); }, {x2, w1x1, b1x1});
  D x1 = random_input({1, 3, 9}), w1 = random_input({4, 3, 3}), b1 = random_input({4});
  check_fused_paths("conv1d, one sample, padding same",
                    [](const std::vector<D>& in) { return conv1d(in[0], in[1], in[2], {.padding = "same"}); }, {x1, w1, b1});
}

TEST_CASE("split: the pieces' shared gradient buffer and the ops form agree") {
  manual_seed(33);
  D x = random_input({3, 5, 2});
  check_fused_paths("split, every piece used",
                    [](const std::vector<D>& in) {
                      auto p = split(in[0], {1, 2, 2}, 1);
                      return concat({p[2] * 3.0, p[0], p[1] * -2.0}, 1);
                    },
                    {x});
  check_fused_paths("split, a piece unused",
                    [](const std::vector<D>& in) {
                      auto p = split(in[0], {2, 1, 2}, 1);
                      return concat({p[2], p[0] * 0.5}, 1);
                    },
                    {x});
}

TEST_CASE("layer_norm and batch_norm: raw kernel and ops form agree") {
  manual_seed(34);
  D x = random_input({4, 3, 5});
  check_fused_paths("layer_norm over the last axis",
                    [](const std::vector<D>& in) { return layer_norm(in[0], in[1], in[2]); },
                    {x, random_input({5}), random_input({5})});
  check_fused_paths("layer_norm over the last two axes",
                    [](const std::vector<D>& in) { return layer_norm(in[0], in[1], in[2], 1e-3); },
                    {x, random_input({3, 5}), random_input({3, 5})});
  check_fused_paths("batch_norm [N, C, L]", [](const std::vector<D>& in) { return batch_norm(in[0], in[1], in[2]); },
                    {x, random_input({3}), random_input({3})});
  check_fused_paths("batch_norm [N, C, H, W] without weight and bias",
                    [](const std::vector<D>& in) { return batch_norm(in[0], D(), D()); }, {random_input({3, 2, 2, 3})});
}

TEST_CASE("layer_norm: values, gradcheck, gradgradcheck, errors") {
  manual_seed(35);
  D x = random_input({2, 3, 4}), w = random_input({3, 4}), b = random_input({3, 4});
  // against the formula with ops over the last two axes
  D centred = x - mean(x, {1, 2}, true);
  D expected = centred / sqrt(mean(centred * centred, {1, 2}, true) + 1e-5) * w + b;
  CHECK(xt::allclose(layer_norm(x, w, b).value(), expected.value(), 1e-12, 1e-12));
  // each row has mean 0 and variance ~1 before the affine part
  D y = layer_norm(x, ones<double>({4}), zeros<double>({4}), 1e-12);
  CHECK(xt::allclose(mean(y, {2}).value(), xt::zeros<double>({2, 3}), 0, 1e-12));
  CHECK(xt::allclose(mean(y * y, {2}).value(), xt::ones<double>({2, 3}), 1e-9));
  testing::FusedOp f = [](const std::vector<D>& in) { return layer_norm(in[0], in[1], in[2]); };
  CHECK(gradcheck(f, {x, w, b}));
  CHECK(gradgradcheck(f, {x, w, b}));
  check_error([&] { layer_norm(x, random_input({4, 3}), random_input({4, 3})); },
              {"layer_norm", "input [2,3,4]", "weight [4,3]", "must end in the weight's shape"});
  check_error([&] { layer_norm(x, w, random_input({4})); }, {"layer_norm", "bias [4]", "the weight's shape"});
  check_error([&] { layer_norm(x, w, b, 0.0); }, {"layer_norm", "eps must be positive"});
}

TEST_CASE("batch_norm: values, statistics, gradcheck, gradgradcheck, errors") {
  manual_seed(36);
  D x = random_input({4, 2, 3}), w = random_input({2}), b = random_input({2});
  BatchStatistics<double> stats;
  D y = batch_norm(x, w, b, 1e-5, &stats);
  D mu = mean(x, {0, 2}, true), centred = x - mu, var = mean(centred * centred, {0, 2}, true);
  D expected = centred / sqrt(var + 1e-5) * reshape(w, {1, 2, 1}) + reshape(b, {1, 2, 1});
  CHECK(xt::allclose(y.value(), expected.value(), 1e-12, 1e-12));
  CHECK(xt::allclose(stats.mean, reshape(mu, {2}).value(), 1e-14, 1e-14));
  CHECK(xt::allclose(stats.var, reshape(var, {2}).value(), 1e-14, 1e-14));
  // without weight and bias: weight 1, bias 0
  CHECK(xt::allclose(batch_norm(x, D(), D()).value(), (centred / sqrt(var + 1e-5)).value(), 1e-12, 1e-12));
  testing::FusedOp f = [](const std::vector<D>& in) { return batch_norm(in[0], in[1], in[2]); };
  CHECK(gradcheck(f, {x, w, b}));
  CHECK(gradgradcheck(f, {x, w, b}));
  D images = random_input({3, 2, 2, 2});
  CHECK(gradcheck(f, {images, w, b}));
  CHECK(gradgradcheck(f, {images, w, b}));
  check_error([&] { batch_norm(random_input({4}), w, b); }, {"batch_norm", "input [4]", "[N, C, ...]"});
  check_error([&] { batch_norm(x, random_input({3}), b); }, {"batch_norm", "weight [3]", "must be [2]"});
  check_error([&] { batch_norm(random_input({0, 2, 3}), w, b); }, {"batch_norm", "input [0,2,3]", "at least one value"});
}
