#pragma once
// tg::Error and the one shape-check helper every op uses.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tg {

/// Thrown for every misuse tapegrad detects: bad shapes, axes, arguments, a freed graph,
/// an anomaly. The message starts with the op's name and quotes the shapes involved.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// "[64,784]": how shapes are printed in every message.
template <class Shape>
std::string shape_str(const Shape& shape) {
  std::string s = "[";
  bool first = true;
  for (auto d : shape) {
    if (!first) s += ",";
    s += std::to_string(d);
    first = false;
  }
  return s + "]";
}

std::string axes_str(const std::vector<std::int64_t>& axes);

/// The shortest text that reads back as v ("0.5", "1e-08"; not std::to_string's "0.500000").
std::string number_str(double v);

}  // namespace tg

/// Throws tg::Error("<op>: <message>") when cond is false. The message is built only on failure.
#define TG_CHECK(cond, op, message)                                   \
  do {                                                                \
    if (!(cond)) throw ::tg::Error(std::string(op) + ": " + (message)); \
  } while (0)
