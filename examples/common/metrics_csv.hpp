#pragma once
// Per-epoch metrics as CSV: a header row of column names, then one row per epoch, flushed
// as it is written so a crashed or interrupted run keeps every finished epoch.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

class CsvWriter {
 public:
  /// Creates (or truncates) path and writes the header, e.g. {"epoch", "train_loss", ...}.
  CsvWriter(std::string path, std::vector<std::string> columns) : path_(std::move(path)), columns_(std::move(columns)) {
    if (columns_.empty()) throw std::invalid_argument("CsvWriter: " + path_ + ": no columns");
    for (const auto& c : columns_)
      if (c.empty() || c.find_first_of(",\"\n\r") != std::string::npos)
        throw std::invalid_argument("CsvWriter: column name '" + c + "' is empty or holds a comma, quote or newline");
    out_.open(path_, std::ios::trunc);
    if (!out_) throw std::runtime_error("CsvWriter: cannot write " + path_);
    for (std::size_t i = 0; i < columns_.size(); ++i) out_ << (i ? "," : "") << columns_[i];
    out_ << "\n" << std::flush;
  }

  /// One row, a value per column. Whole numbers print as integers ("3"), others with
  /// 8 significant digits ("0.41234567"), NaN as "nan".
  void row(const std::vector<double>& values) {
    if (values.size() != columns_.size())
      throw std::invalid_argument("CsvWriter: " + path_ + ": a row of " + std::to_string(values.size()) +
                                  " values for " + std::to_string(columns_.size()) + " columns");
    for (std::size_t i = 0; i < values.size(); ++i) out_ << (i ? "," : "") << format(values[i]);
    out_ << "\n" << std::flush;
    if (!out_) throw std::runtime_error("CsvWriter: writing " + path_ + " failed");
  }

  const std::string& path() const { return path_; }
  const std::vector<std::string>& columns() const { return columns_; }

  static std::string format(double v) {
    if (std::isnan(v)) return "nan";
    char buf[32];
    if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
    else std::snprintf(buf, sizeof buf, "%.8g", v);
    return buf;
  }

 private:
  std::string path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
};

}  // namespace examples
