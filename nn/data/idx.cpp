// IDX reading through zlib: gzread decompresses .gz files and passes plain files through
// unchanged, so one code path reads both.
#include "idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <type_traits>

#include "../../autograd/core/error.hpp"

namespace tg::data {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error("read_idx: " + path + ": " + what);
}

std::string hex_byte(unsigned b) {
  char s[8];
  std::snprintf(s, sizeof s, "0x%02x", b & 0xffu);
  return s;
}

const char* type_name(unsigned code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0b: return "int16";
    case 0x0c: return "int32";
    case 0x0d: return "float32";
    case 0x0e: return "float64";
    default: return "unknown";
  }
}

struct GzClose {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzClose>;

/// Reads up to n bytes and returns how many came: fewer only when the data ends early. A
/// gzip stream cut short ends the data (the caller reports the truncation with its sizes);
/// any other zlib error (bad CRC, corrupt deflate data) is reported here.
std::size_t read_some(gzFile f, const std::string& path, std::uint8_t* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    // gzread takes an unsigned count and returns an int: read at most 1 GiB per call.
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, std::size_t{1} << 30));
    const int r = gzread(f, out + got, chunk);
    if (r < 0) {
      int code = Z_OK;
      const char* message = gzerror(f, &code);
      if (code == Z_BUF_ERROR) break;  // "unexpected end of file": a truncated .gz
      // gzerror prefixes the path, which our message already starts with.
      std::string what = message;
      if (what.rfind(path + ": ", 0) == 0) what.erase(0, path.size() + 2);
      fail(path, "corrupt compressed data (zlib: " + what + ")");
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

}  // namespace

std::size_t IdxArray::numel() const {
  std::size_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

IdxArray read_idx(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) fail(path, "no such file");
  if (std::filesystem::is_directory(status)) fail(path, "is a directory, not an IDX file");

  errno = 0;
  GzHandle file(gzopen(path.c_str(), "rb"));
  if (!file) fail(path, std::string("cannot open: ") + (errno ? std::strerror(errno) : "out of memory"));
  gzbuffer(file.get(), 1u << 17);  // fewer, larger reads of the 26 MB image files

  std::uint8_t magic[4];
  const auto got_magic = read_some(file.get(), path, magic, 4);
  if (got_magic < 4)
    fail(path, "truncated header: expected a 4-byte magic number, got " + std::to_string(got_magic) + " bytes");
  if (magic[0] != 0 || magic[1] != 0)
    fail(path, "bad magic number " + hex_byte(magic[0]) + " " + hex_byte(magic[1]) + " " + hex_byte(magic[2]) +
                   " " + hex_byte(magic[3]) + " (an IDX file starts with 0x00 0x00, a type code, a rank)");
  if (magic[2] != 0x08)
    fail(path, "unsupported type code " + hex_byte(magic[2]) + " (" + type_name(magic[2]) +
                   "); only 0x08 (unsigned byte) is supported");
  const std::size_t rank = magic[3];
  if (rank == 0) fail(path, "bad rank 0 in the magic number (an IDX file has at least one dimension)");

  std::vector<std::uint8_t> header(4 * rank);
  const auto got_header = read_some(file.get(), path, header.data(), header.size());
  if (got_header < header.size())
    fail(path, "truncated header: expected " + std::to_string(header.size()) + " bytes of dimensions, got " +
                   std::to_string(got_header));

  IdxArray result;
  result.dims.resize(rank);
  std::size_t total = 1;
  for (std::size_t i = 0; i < rank; ++i) {
    const std::uint8_t* b = &header[4 * i];
    const std::size_t d = (std::size_t{b[0]} << 24) | (std::size_t{b[1]} << 16) | (std::size_t{b[2]} << 8) | b[3];
    result.dims[i] = d;
    if (d != 0 && total > std::numeric_limits<std::size_t>::max() / d)
      fail(path, "dimensions " + shape_str(result.dims) + " overflow the element count");
    total *= d;
  }

  // Grow the buffer as data arrives instead of trusting the header with one huge allocation:
  // a corrupt header then costs a clear error, not an out-of-memory abort.
  std::size_t got = 0;
  std::size_t capacity = std::min<std::size_t>(total, std::size_t{1} << 16);
  while (true) {
    result.data.resize(capacity);
    got += read_some(file.get(), path, result.data.data() + got, capacity - got);
    if (got < capacity || capacity == total) break;
    capacity = std::min(total, 2 * capacity);
  }
  if (got < total)
    fail(path, "truncated data: expected " + std::to_string(total) + " bytes for dimensions " +
                   shape_str(result.dims) + ", got " + std::to_string(got));
  std::uint8_t extra;
  if (read_some(file.get(), path, &extra, 1) != 0)
    fail(path, "unexpected bytes after the " + std::to_string(total) + " bytes of data that dimensions " +
                   shape_str(result.dims) + " announce");
  return result;
}

}  // namespace tg::data
