// Module: registration, dotted names, modes, state dicts, the printed summary.
#include "testing.hpp"

#include <sstream>

using namespace tg;
using tg::testing::check_error;

namespace {

/// A user-defined module: two Linear layers and a parameter of its own.
struct Net : nn::Module<float> {
  Net() {
    fc1 = register_module("fc1", std::make_shared<nn::Linear<float>>(4, 3));
    fc2 = register_module("fc2", std::make_shared<nn::Linear<float>>(3, 2, nn::LinearOptions{.bias = false}));
    scale = register_parameter("scale", ones<float>({2}));
    steps = register_buffer("steps", zeros<float>({}));
  }
  Var forward(const Var& x) override { return fc2->forward(relu(fc1->forward(x))) * scale; }
  std::shared_ptr<nn::Linear<float>> fc1, fc2;
  Var scale, steps;
};

std::vector<std::string> names(const nn::Module<float>::NamedVariables& named) {
  std::vector<std::string> out;
  for (const auto& [name, v] : named) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("parameters, buffers and submodules have dotted names in registration order") {
  Net net;
  CHECK(names(net.named_parameters()) == std::vector<std::string>{"scale", "fc1.weight", "fc1.bias", "fc2.weight"});
  CHECK(names(net.named_parameters(false)) == std::vector<std::string>{"scale"});
  CHECK(names(net.named_buffers()) == std::vector<std::string>{"steps"});
  CHECK(net.parameters().size() == 4);
  CHECK(net.named_children().size() == 2);
  CHECK(net.named_children()[1].first == "fc2");
  // the registered handles are the members: same nodes
  CHECK(net.named_parameters()[1].second.same_node(net.fc1->weight));
  CHECK(net.fc1->weight.requires_grad());
  CHECK_FALSE(net.steps.requires_grad());
  CHECK(net.num_parameters() == 2 + 4 * 3 + 3 + 3 * 2);
}

TEST_CASE("registration errors name the module and the entry") {
  Net net;
  check_error([&] { net.register_parameter("scale", ones<float>({1})); }, {"register_parameter", "'scale'", "already registered", "Net"});
  check_error([&] { net.register_buffer("fc1", ones<float>({1})); }, {"register_buffer", "'fc1'", "already registered"});
  check_error([&] { net.register_parameter("a.b", ones<float>({1})); }, {"register_parameter", "'a.b'", "dot"});
  check_error([&] { net.register_parameter("", ones<float>({1})); }, {"register_parameter", "empty name"});
  check_error([&] { net.register_parameter("u", Var()); }, {"register_parameter", "'u'", "undefined"});
  Var leaf = ones<float>({2}, true);
  check_error([&] { net.register_parameter("v", leaf * 2.0f); }, {"register_parameter", "'v'", "mul_scalar", "leaves"});
  check_error([&] { net.register_module("m", std::shared_ptr<nn::ReLU<float>>()); }, {"register_module", "'m'", "null"});
}

TEST_CASE("a node registered twice (tied weights) is one parameter but two state-dict entries") {
  nn::Module<float> m;
  auto a = m.register_module("a", std::make_shared<nn::Linear<float>>(3, 3));
  auto b = m.register_module("b", std::make_shared<nn::Module<float>>());
  b->register_parameter("tied", a->weight);
  CHECK(names(m.named_parameters()) == std::vector<std::string>{"a.weight", "a.bias"});
  CHECK(m.num_parameters() == 12);
  auto dict = m.state_dict();
  CHECK(dict.size() == 3);
  CHECK(dict.count("b.tied") == 1);
}

TEST_CASE("train and eval reach every submodule") {
  nn::Sequential<float> seq{std::make_shared<nn::Linear<float>>(2, 2), std::make_shared<nn::Dropout<float>>(0.5)};
  CHECK(seq.is_training());
  seq.eval();
  CHECK_FALSE(seq.is_training());
  CHECK_FALSE(seq[1]->is_training());
  seq.train();
  CHECK(seq[1]->is_training());
}

TEST_CASE("zero_grad clears every parameter's gradient") {
  Net net;
  auto y = net(ones<float>({5, 4}));
  sum(y).backward();
  for (const auto& p : net.parameters()) CHECK(p.has_grad());
  net.zero_grad();
  for (const auto& p : net.parameters()) CHECK_FALSE(p.has_grad());
}

TEST_CASE("a frozen parameter is counted apart") {
  Net net;
  net.fc1->weight.set_requires_grad(false);
  CHECK(net.num_parameters() == 23);
  CHECK(net.num_parameters(true) == 11);
  CHECK(net.repr().find("Total: 23 parameters (11 trainable)") != std::string::npos);
}

TEST_CASE("state_dict and load_state_dict round-trip into the same nodes") {
  manual_seed(1);
  Net a, b;
  a.steps.mutable_value()() = 7;
  const Var b_weight = b.fc1->weight;
  b.load_state_dict(a.state_dict());
  CHECK(b.fc1->weight.same_node(b_weight));
  CHECK(b.fc1->weight.value() == a.fc1->weight.value());
  CHECK(b.fc2->weight.value() == a.fc2->weight.value());
  CHECK(b.steps.value()() == 7);
  auto dict = a.state_dict();
  CHECK(dict.size() == 5);
  CHECK(dict.at("fc1.bias").shape() == Shape{3});
  // the dict holds copies
  dict.at("scale")(0) = 100;
  CHECK(a.scale.value()(0) == 1);
}

TEST_CASE("load_state_dict names missing, mismatched and unexpected entries and changes nothing") {
  Net net;
  const xt::xarray<float> before = net.fc1->weight.value();
  auto dict = net.state_dict();
  dict.erase("fc2.weight");
  dict.at("fc1.weight") = xt::zeros<float>({5, 4});
  dict.at("fc1.bias") = xt::zeros<float>({3});
  dict.emplace("fc3.weight", xt::zeros<float>({1}));
  check_error([&] { net.load_state_dict(dict); },
              {"load_state_dict", "Net", "missing fc2.weight", "fc1.weight is [3,4] in the module but [5,4] in the state dict",
               "unexpected fc3.weight"});
  CHECK(net.fc1->weight.value() == before);
  CHECK(net.fc1->bias.value()(0) != 0);
  // non-strict: missing and unexpected are fine, shapes must still agree
  dict.at("fc1.weight") = xt::zeros<float>({3, 4});
  net.load_state_dict(dict, false);
  CHECK(net.fc1->weight.value()(2, 3) == 0);
  CHECK(net.fc1->bias.value()(0) == 0);
}

TEST_CASE("the printed summary shows layers, settings, shapes and counts") {
  Net net;
  std::ostringstream os;
  os << net;
  const std::string expected =
      "Net(\n"
      "  (fc1): Linear(in_features=4, out_features=3, bias=true)  # weight [3,4], bias [3]: 15 parameters\n"
      "  (fc2): Linear(in_features=3, out_features=2, bias=false)  # weight [2,3]: 6 parameters\n"
      ")  # scale [2]: 2 parameters; buffers steps []\n"
      "Total: 23 parameters";
  CHECK(os.str() == expected);
}

TEST_CASE("nested containers print indented, and big counts get thousands separators") {
  nn::Sequential<float> seq;
  seq.push_back(std::make_shared<nn::MLP<float>>(std::vector<std::size_t>{784, 256, 10}));
  seq.push_back("norm", std::make_shared<nn::BatchNorm1d<float>>(10));
  const std::string s = seq.repr();
  INFO(s);
  CHECK(s.find("Sequential(\n  (0): MLP(\n    (0): Linear(in_features=784, out_features=256, bias=true)  # weight [256,784], "
               "bias [256]: 200,960 parameters\n    (1): ReLU()\n") != std::string::npos);
  CHECK(s.find("  (norm): BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)  # weight [10], "
               "bias [10]: 20 parameters; buffers running_mean [10], running_var [10]\n") != std::string::npos);
  CHECK(s.find("Total: 203,550 parameters") != std::string::npos);
}

TEST_CASE("a module without a single-input forward says so") {
  nn::Module<double> m;
  check_error([&] { m(ones<double>({1})); }, {"Module", "forward"});
}

TEST_CASE("layers default to float and take designated-initializer options") {
  nn::Linear fc(784, 256, {.bias = false});
  static_assert(std::is_same_v<decltype(fc), nn::Linear<float>>);
  CHECK_FALSE(fc.bias.defined());
  nn::BatchNorm1d bn(8, {.momentum = 0.01, .affine = false});
  static_assert(std::is_same_v<decltype(bn), nn::BatchNorm1d<float>>);
  CHECK(bn.parameters().empty());
}

TEST_CASE("double modules work the same") {
  nn::Linear<double> fc(3, 2);
  CHECK(fc.type_name() == "Linear");
  auto y = fc(ones<double>({4, 3}));
  CHECK(y.shape() == Shape{4, 2});
  CHECK(fc.state_dict().at("weight").shape() == Shape{2, 3});
}
