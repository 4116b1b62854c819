#include "axes.hpp"

#include <algorithm>
#include <charconv>

namespace tg {

std::string axes_str(const std::vector<std::int64_t>& axes) { return shape_str(axes); }

std::string number_str(double v) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

std::size_t normalize_axis(const char* op, std::int64_t axis, const Shape& shape, std::size_t rank) {
  const auto n = static_cast<std::int64_t>(rank);
  TG_CHECK(axis >= -n && axis < n, op,
           "axis " + std::to_string(axis) + " is out of range for a tensor of shape " + shape_str(shape) +
               (n == 0 ? " (it has no axes)" : " (valid: " + std::to_string(-n) + " to " + std::to_string(n - 1) + ")"));
  return static_cast<std::size_t>(axis < 0 ? axis + n : axis);
}

std::vector<std::size_t> normalize_axes(const char* op, const Axes& axes, const Shape& shape) {
  std::vector<std::size_t> out;
  if (axes.empty()) {
    for (std::size_t i = 0; i < shape.size(); ++i) out.push_back(i);
    return out;
  }
  for (auto a : axes) out.push_back(normalize_axis(op, a, shape));
  std::sort(out.begin(), out.end());
  TG_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op,
           "axes " + axes_str(axes) + " of a tensor of shape " + shape_str(shape) + " name the same axis twice");
  return out;
}

}  // namespace tg
