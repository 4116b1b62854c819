#include "op_registry.hpp"

#include <algorithm>
#include <cctype>

namespace tg::detail {

namespace {

// A function-local static: registrars in other files run before main in any order.
std::vector<RegisteredOp>& registry() {
  static std::vector<RegisteredOp> ops;
  return ops;
}

std::string_view stem(std::string_view path) {
  if (const auto slash = path.find_last_of("/\\"); slash != std::string_view::npos) path.remove_prefix(slash + 1);
  return path.substr(0, path.find('.'));
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

const std::vector<RegisteredOp>& registered_ops() { return registry(); }

OpRegistrar::OpRegistrar(std::string_view file, std::string_view names) {
  const std::string_view family = stem(file);
  auto& ops = registry();
  while (!names.empty()) {
    const auto comma = names.find(',');
    const std::string_view name = trimmed(names.substr(0, comma));
    names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
    if (name.empty()) continue;
    if (std::none_of(ops.begin(), ops.end(), [&](const RegisteredOp& op) { return op.name == name; }))
      ops.push_back({name, family});
  }
}

}  // namespace tg::detail
