#pragma once
// Shared by the suites that write and read files: a scratch folder per test case, whole-file
// reads and writes, and a Python with NumPy for the interoperability checks.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace tg::testing {

/// A fresh, empty folder build/<suite>/<name> for one test case's files.
inline std::filesystem::path scratch(const std::string& suite, const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(TAPEGRAD_BINARY_DIR) / suite / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// A Python interpreter that imports NumPy ("" if none): python3 on PATH, else Debian's.
inline std::string python_with_numpy() {
  for (std::string python : {"python3", "/usr/bin/python3"})
    if (std::system((python + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return python;
  return "";
}

}  // namespace tg::testing
