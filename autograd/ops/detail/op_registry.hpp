#pragma once
// The library's list of its public ops, filled before main by the TG_INSTANTIATE_OPS line at the
// bottom of each op file (autograd/ops/instantiate.hpp). Internal: the tests read it to demand a
// catalogue entry, a bench_ops row and a docs row for every op, so none of those lists is kept
// by hand. A program sees an op file's entries only if it links that file: the checking programs
// link the static library whole.
#include <string_view>
#include <vector>

namespace tg::detail {

struct RegisteredOp {
  std::string_view name;    // the public function's name; overloads (pow) appear once
  std::string_view family;  // the op file that defines it: "elementwise", "conv", ...
};

/// Every registered op, in registration order (which is unspecified across op files).
const std::vector<RegisteredOp>& registered_ops();

/// Adds the comma-separated `names` (as TG_INSTANTIATE_OPS stringises them) under the family
/// named by `file`'s stem; a name already registered is skipped.
struct OpRegistrar {
  OpRegistrar(std::string_view file, std::string_view names);
};

}  // namespace tg::detail
