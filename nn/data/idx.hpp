#pragma once
// The IDX format of MNIST and Fashion-MNIST: a 4-byte magic (0, 0, type code, number of
// dimensions), one big-endian uint32 per dimension, then the elements in C order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tg::data {

/// The contents of an IDX file of unsigned bytes (type code 0x08).
struct IdxArray {
  std::vector<std::size_t> dims;    // e.g. {60000, 28, 28} for images, {60000} for labels
  std::vector<std::uint8_t> data;   // prod(dims) elements, C order

  /// prod(dims): the number of elements.
  std::size_t numel() const;
};

/// Reads an IDX file of unsigned bytes. A gzip-compressed file (.gz, as distributed) and a
/// plain one are both read, through zlib. Throws tg::Error("read_idx: <path>: ...") for a
/// missing or unreadable file, a bad magic number (quoting its bytes), a type code other
/// than 0x08, data shorter than the header announces, or bytes left over after the data.
IdxArray read_idx(const std::string& path);

}  // namespace tg::data
