#pragma once
// A confusion matrix over class labels: rows are the true class, columns the prediction,
// printed with class names, per-class recall and precision, and the overall accuracy.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace examples {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(std::vector<std::string> class_names)
      : names_(std::move(class_names)), counts_(names_.size() * names_.size(), 0) {
    TG_CHECK(!names_.empty(), "ConfusionMatrix", "needs at least one class name");
  }

  std::size_t num_classes() const { return names_.size(); }
  const std::vector<std::string>& class_names() const { return names_; }

  /// One example of class `target` predicted as `predicted`.
  void add(std::int64_t target, std::int64_t predicted) {
    check_label(target, "target");
    check_label(predicted, "predicted");
    ++counts_[static_cast<std::size_t>(target) * names_.size() + static_cast<std::size_t>(predicted)];
  }

  /// A batch: targets [B] and predictions [B] (e.g. argmax(logits, 1)).
  void add(const tg::IndexArray& targets, const tg::IndexArray& predicted) {
    TG_CHECK(targets.dimension() == 1 && targets.shape() == predicted.shape(), "ConfusionMatrix",
             "targets " + tg::shape_str(targets.shape()) + " and predictions " + tg::shape_str(predicted.shape()) +
                 " must be the same [B]");
    for (std::size_t i = 0; i < targets.size(); ++i) add(targets(i), predicted(i));
  }

  /// How many examples of class `target` were predicted as `predicted`.
  std::size_t count(std::size_t target, std::size_t predicted) const {
    return counts_.at(target * names_.size() + predicted);
  }
  std::size_t total() const {
    std::size_t n = 0;
    for (auto c : counts_) n += c;
    return n;
  }
  std::size_t correct() const {
    std::size_t n = 0;
    for (std::size_t k = 0; k < names_.size(); ++k) n += count(k, k);
    return n;
  }
  /// correct / total (0 when empty).
  double accuracy() const { return total() ? double(correct()) / double(total()) : 0.0; }
  /// Of the examples of class k, the fraction predicted as k (0 when there are none).
  double recall(std::size_t k) const {
    std::size_t row = 0;
    for (std::size_t j = 0; j < names_.size(); ++j) row += count(k, j);
    return row ? double(count(k, k)) / double(row) : 0.0;
  }
  /// Of the examples predicted as k, the fraction that are k (0 when there are none).
  double precision(std::size_t k) const {
    std::size_t column = 0;
    for (std::size_t i = 0; i < names_.size(); ++i) column += count(i, k);
    return column ? double(count(k, k)) / double(column) : 0.0;
  }
  void reset() { std::fill(counts_.begin(), counts_.end(), 0); }

  /// The table: one row per true class ("3 Dress"), one column per predicted class (by
  /// number, to keep it narrow), recall at the end of each row, precision under each column.
  void print(std::ostream& os) const {
    const std::size_t k = names_.size();
    std::size_t name_width = 0;
    for (const auto& n : names_) name_width = std::max(name_width, n.size());
    const std::size_t label_width = std::to_string(k - 1).size() + 1 + name_width;
    std::size_t cell = 6;  // fits "100.0%" in the precision row
    for (auto c : counts_) cell = std::max(cell, std::to_string(c).size() + 1);

    const auto pad = [](std::string s, std::size_t w, bool left) {
      if (s.size() >= w) return s;
      return left ? s + std::string(w - s.size(), ' ') : std::string(w - s.size(), ' ') + s;
    };
    const auto percent = [](double x) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%.1f%%", 100 * x);
      return std::string(buf);
    };

    os << "confusion matrix: rows = true class, columns = predicted class\n";
    os << pad("", label_width, true) << " |";
    for (std::size_t j = 0; j < k; ++j) os << pad(std::to_string(j), cell + 1, false);
    os << " | recall\n";
    os << std::string(label_width + 2 + k * (cell + 1) + 9, '-') << "\n";
    for (std::size_t i = 0; i < k; ++i) {
      os << pad(pad(std::to_string(i), std::to_string(k - 1).size(), false) + " " + names_[i], label_width, true)
         << " |";
      for (std::size_t j = 0; j < k; ++j) os << pad(std::to_string(count(i, j)), cell + 1, false);
      os << " | " << pad(percent(recall(i)), 6, false) << "\n";
    }
    os << pad("precision", label_width, true) << " |";
    for (std::size_t j = 0; j < k; ++j) os << pad(percent(precision(j)), cell + 1, false);
    os << " |\n";
    os << "accuracy " << percent(accuracy()) << " (" << correct() << "/" << total() << ")\n";
  }

 private:
  void check_label(std::int64_t label, const char* what) const {
    TG_CHECK(label >= 0 && static_cast<std::size_t>(label) < names_.size(), "ConfusionMatrix",
             std::string(what) + " label " + std::to_string(label) + " is outside 0.." +
                 std::to_string(names_.size() - 1));
  }

  std::vector<std::string> names_;
  std::vector<std::size_t> counts_;
};

}  // namespace examples
