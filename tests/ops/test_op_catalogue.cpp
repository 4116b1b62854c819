// Every op the library registers (TG_INSTANTIATE_OPS at the bottom of each op file) must have a
// catalogue entry (tests/ops/op_catalogue.hpp) whose derivatives pass gradcheck, a row of
// bench_ops and a row of the ops reference (docs/ops.md). Each check fails naming the ops it
// misses. This program links the static library whole, so an op nobody calls yet is listed too.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <tapegrad/autograd/ops/detail/op_registry.hpp>

#include "op_catalogue.hpp"
#include "testing.hpp"

namespace {

using tg::catalogue::D;
using tg::catalogue::OpInfo;

std::set<std::string> registered_names() {
  std::set<std::string> names;
  for (const auto& op : tg::detail::registered_ops()) names.emplace(op.name);
  return names;
}

/// The identifiers in a text: a name is "mentioned" if it is one of them (so `max` is not found
/// inside `max_pool2d`).
std::set<std::string> words(const std::string& text) {
  static const std::regex identifier("[A-Za-z_][A-Za-z0-9_]*");
  std::set<std::string> found;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), identifier); it != std::sregex_iterator(); ++it)
    found.insert(it->str());
  return found;
}

/// The registered ops, with their op files, that `known` lacks; "" when none.
std::string missing_from(const std::set<std::string>& known) {
  std::string missing;
  for (const auto& op : tg::detail::registered_ops())
    if (!known.count(std::string(op.name)))
      missing += (missing.empty() ? "" : ", ") + std::string(op.name) + " (" + std::string(op.family) + ")";
  return missing;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("the registry lists every op file's ops, each name once") {
  const auto& ops = tg::detail::registered_ops();
  // as many as autograd/ops held when the registry was introduced, or more
  CHECK(ops.size() >= 85);
  CHECK(registered_names().size() == ops.size());
  for (const auto& op : ops) CHECK_MESSAGE(!op.family.empty(), op.name << " has no op file");
}

// (a)
TEST_CASE("every registered op has an entry in the op catalogue, and every entry names a registered op") {
  std::set<std::string> catalogued, unknown;
  for (const OpInfo& info : tg::catalogue::op_catalogue()) {
    if (info.factory) continue;
    catalogued.insert(info.name);
    if (!registered_names().count(info.name)) unknown.insert(info.name);
  }
  const std::string missing = missing_from(catalogued);
  CHECK_MESSAGE(missing.empty(), "no entry in tests/ops/op_catalogue.hpp for: " << missing);
  std::string unknown_list;
  for (const auto& name : unknown) unknown_list += (unknown_list.empty() ? "" : ", ") + name;
  CHECK_MESSAGE(unknown.empty(), "catalogue entries that name no registered op (misspelt, or its file lacks "
                                 "TG_INSTANTIATE_OPS): "
                                     << unknown_list);
}

// (b)
TEST_CASE("every catalogue entry passes gradcheck on its samples, and gradgradcheck where twice differentiable") {
  for (const OpInfo& info : tg::catalogue::op_catalogue()) {
    CAPTURE(info.label());
    CHECK_MESSAGE(!info.samples.empty(), info.label() << " has no sample to check");
    for (std::size_t i = 0; i < info.samples.size(); ++i) {
      const auto& sample = info.samples[i];
      CAPTURE(i);
      REQUIRE(sample.inputs.size() == info.arity);
      const auto f = [&](const std::vector<D>& in) { return info.call(in, sample.params); };
      D out;
      try {
        out = f(sample.inputs);
      } catch (const std::exception& e) {
        FAIL_CHECK(info.label() << ", sample " << i << ": threw " << e.what());
        continue;
      }
      CHECK_MESSAGE(out.defined(), info.label() << ", sample " << i << ": returned an undefined variable");
      if (!info.has_gradient) {
        // no gradient: it must not record one either
        CHECK_MESSAGE(!out.requires_grad(), info.label() << ", sample " << i << ": marked without a gradient, but "
                                                            "its result requires one");
        continue;
      }
      CHECK_MESSAGE(out.requires_grad(), info.label() << ", sample " << i << ": its result records no gradient");
      tg::testing::check_grads(f, sample.inputs, {.second_order = info.twice_differentiable});
    }
  }
}

// (c)
TEST_CASE("every registered op names a row of bench_ops") {
#ifdef TAPEGRAD_BENCH_OPS
  // the rows as `bench_ops --benchmark_list_tests` prints them (listed, not run)
  const std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(TAPEGRAD_BENCH_OPS " --benchmark_list_tests", "r"), ::pclose);
  REQUIRE(pipe);
  std::string rows;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0;) rows.append(buffer, n);
  REQUIRE_MESSAGE(rows.size() > 0, TAPEGRAD_BENCH_OPS " --benchmark_list_tests printed nothing");
  const std::string missing = missing_from(words(rows));
  CHECK_MESSAGE(missing.empty(), "no row of bench_ops (benchmarks/bench_ops.cpp) names: " << missing);
#else
  MESSAGE("bench_ops is not built (TAPEGRAD_BUILD_BENCHMARKS=OFF or no Google Benchmark): its rows are not checked");
#endif
}

// (d)
TEST_CASE("every registered op is in the ops reference, docs/ops.md") {
  const std::string missing = missing_from(words(read_file(TAPEGRAD_SOURCE_DIR "/docs/ops.md")));
  CHECK_MESSAGE(missing.empty(), "docs/ops.md does not mention: " << missing);
}

// (e) to come: every registered op has a forward-mode (jvp) rule. When forward mode lands, a case
// here over tg::detail::registered_ops(), and a jvp check beside gradcheck in (b).
