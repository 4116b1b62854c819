// .npz reading and writing with libzip: one .npy (format 1.0) entry per array.
// The .npy format: magic "\x93NUMPY", version, a little-endian header length, a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a
// multiple of 64 bytes and ended by '\n', then the raw C-order data.
#include "serialize.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zip.h>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "detail/shape_ops.hpp"

namespace tg {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr char kNative = std::endian::native == std::endian::little ? '<' : '>';

std::string quoted(const std::string& s) { return "'" + s + "'"; }

template <class T>
std::string npy_bytes(const xt::xarray<T>& a) {
  std::string dict = "{'descr': '";
  dict += kNative;
  dict += sizeof(T) == 4 ? "f4" : "f8";
  dict += "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < a.dimension(); ++i) dict += (i ? ", " : "") + std::to_string(a.shape()[i]);
  if (a.dimension() == 1) dict += ",";  // Python's one-element tuple
  dict += "), }";
  const std::size_t unpadded = kMagicSize + 4 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicSize);
  out += '\x01';
  out += '\x00';
  const auto len = static_cast<std::uint16_t>(dict.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += dict;
  out.append(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(T));
  return out;
}

struct ZipCloser {
  zip_t* z;
  ~ZipCloser() {
    if (z) zip_discard(z);
  }
};

std::string zip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

/// Makes what was written to `path` durable before it is renamed over the old file.
void sync_file(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// ---- reading an .npy entry ---------------------------------------------------------------

struct NpyError {
  std::string what;
};

/// The value of key in the header dict: from after "'key':" up to the matching end.
std::string dict_value(const std::string& header, const std::string& key) {
  auto at = header.find(quoted(key));
  if (at == std::string::npos) at = header.find("\"" + key + "\"");
  if (at == std::string::npos) throw NpyError{"its header has no " + key};
  auto colon = header.find(':', at);
  if (colon == std::string::npos) throw NpyError{"its header is malformed at " + key};
  std::size_t i = colon + 1;
  while (i < header.size() && header[i] == ' ') ++i;
  if (i == header.size()) throw NpyError{"its header is malformed at " + key};
  if (header[i] == '\'' || header[i] == '"') {
    auto end = header.find(header[i], i + 1);
    if (end == std::string::npos) throw NpyError{"its header is malformed at " + key};
    return header.substr(i + 1, end - i - 1);
  }
  if (header[i] == '(') {
    auto end = header.find(')', i);
    if (end == std::string::npos) throw NpyError{"its header is malformed at " + key};
    return header.substr(i + 1, end - i - 1);
  }
  auto end = header.find_first_of(",}", i);
  if (end == std::string::npos) throw NpyError{"its header is malformed at " + key};
  return header.substr(i, end - i);
}

Shape parse_shape(const std::string& text) {
  Shape shape;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i == text.size()) break;
    std::size_t used = 0;
    unsigned long long d = 0;
    try {
      d = std::stoull(text.substr(i), &used);
    } catch (const std::exception&) {
      throw NpyError{"its shape (" + text + ") is malformed"};
    }
    shape.push_back(static_cast<std::size_t>(d));
    i += used;
    if (i < text.size() && text[i] == 'L') ++i;  // Python 2 longs
  }
  return shape;
}

template <class T, class Stored>
void convert(const char* src, std::size_t n, bool swap, T* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    char bytes[sizeof(Stored)];
    std::memcpy(bytes, src + i * sizeof(Stored), sizeof(Stored));
    if (swap)
      for (std::size_t b = 0; b < sizeof(Stored) / 2; ++b) std::swap(bytes[b], bytes[sizeof(Stored) - 1 - b]);
    Stored v;
    std::memcpy(&v, bytes, sizeof(Stored));
    dst[i] = static_cast<T>(v);
  }
}

/// float32 or float64 data converts to T (numpy.savez writes float64 by default).
template <class T>
xt::xarray<T> parse_npy(const std::string& bytes) {
  if (bytes.size() < kMagicSize + 4 || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0)
    throw NpyError{"it is not an .npy array (bad magic)"};
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, start = 0;
  auto byte = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(bytes[i])); };
  if (major == 1) {
    header_len = byte(8) | byte(9) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw NpyError{"its header is truncated"};
    header_len = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    start = 12;
  } else {
    throw NpyError{"its .npy version " + std::to_string(major) + " is unknown"};
  }
  if (bytes.size() < start + header_len) throw NpyError{"its header is truncated"};
  const std::string header = bytes.substr(start, header_len);
  const std::string descr = dict_value(header, "descr");
  const std::string fortran = dict_value(header, "fortran_order");
  if (fortran.find("True") != std::string::npos)
    throw NpyError{"it is stored in Fortran order; only C order is supported"};
  const Shape shape = parse_shape(dict_value(header, "shape"));
  if (descr.size() != 3 || (descr[0] != '<' && descr[0] != '>' && descr[0] != '=') || descr[1] != 'f' ||
      (descr[2] != '4' && descr[2] != '8'))
    throw NpyError{"its dtype '" + descr + "' is not float32 or float64 ('<f4', '<f8')"};
  const std::size_t item = descr[2] == '4' ? 4 : 8;
  const bool swap = descr[0] != '=' && descr[0] != kNative;
  // n and n * item checked for overflow: a crafted shape whose product wraps to the stored
  // byte count would pass the size check and then be indexed far out of bounds
  const auto n = detail::checked_numel(shape);
  std::size_t need = 0;
  if (!n || __builtin_mul_overflow(*n, item, &need))
    throw NpyError{"its shape " + shape_str(shape) + " of " + descr + " has more bytes than fit in size_t"};
  const std::size_t data = start + header_len;
  if (bytes.size() - data != need)
    throw NpyError{"it holds " + std::to_string(bytes.size() - data) + " data bytes, but shape " + shape_str(shape) +
                   " of " + descr + " needs " + std::to_string(need)};
  xt::xarray<T> out = xt::empty<T>(shape);
  if (item == 4) convert<T, float>(bytes.data() + data, *n, swap, out.data());
  else convert<T, double>(bytes.data() + data, *n, swap, out.data());
  return out;
}

}  // namespace

template <class T>
void save_npz(const std::string& path, const StateDict<T>& arrays) {
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  TG_CHECK(fd >= 0, "save_npz", "cannot create a temporary file '" + tmp + "' beside '" + path + "': " + std::strerror(errno));
  ::close(fd);
  auto fail = [&](const std::string& message) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error("save_npz: '" + path + "': " + message);
  };

  int code = 0;
  ZipCloser archive{zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code)};
  if (!archive.z) fail("cannot open a zip archive: " + zip_message(code));
  // libzip reads the sources at zip_close, so the entry bytes live until then
  std::vector<std::string> entries;
  entries.reserve(arrays.size());
  for (const auto& [name, array] : arrays) {
    if (name.empty()) fail("an array has an empty name");
    entries.push_back(npy_bytes(array));
    zip_source_t* source = zip_source_buffer(archive.z, entries.back().data(), entries.back().size(), 0);
    if (!source) fail("cannot add '" + name + "': " + zip_strerror(archive.z));
    const zip_int64_t index = zip_file_add(archive.z, (name + ".npy").c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      fail("cannot add '" + name + "': " + zip_strerror(archive.z));
    }
    // stored, not deflated, as numpy.savez does: float data barely compresses
    zip_set_file_compression(archive.z, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  if (zip_close(archive.z) != 0) fail(std::string("cannot write the archive: ") + zip_strerror(archive.z));
  archive.z = nullptr;
  if (arrays.empty()) {
    // libzip deletes an archive left with no entries; an empty .npz is a lone
    // end-of-central-directory record (signature PK\5\6 and 18 zero bytes).
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const char eocd[22] = {'P', 'K', 5, 6};
    out.write(eocd, sizeof eocd);
    if (!out.flush()) fail("cannot write the empty archive");
  }
  // mkstemp made the file private (0600): give it the old file's mode, or the usual 0644
  std::error_code error;
  const auto old_status = std::filesystem::status(path, error);
  const auto mode = std::filesystem::exists(old_status)
                        ? old_status.permissions()
                        : std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                              std::filesystem::perms::group_read | std::filesystem::perms::others_read;
  std::filesystem::permissions(tmp, mode, error);
  sync_file(tmp, false);
  std::filesystem::rename(tmp, path, error);
  if (error) fail("cannot rename '" + tmp + "' into place: " + error.message());
  sync_file(std::filesystem::path(path).parent_path().empty() ? "." : std::filesystem::path(path).parent_path().string(), true);
}

template <class T>
StateDict<T> load_npz(const std::string& path) {
  int code = 0;
  ZipCloser archive{zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code)};
  if (!archive.z) {
    if (code == ZIP_ER_NOENT) throw Error("load_npz: no such file '" + path + "'");
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
      throw Error("load_npz: '" + path + "' is not an .npz file (corrupt or not a zip archive): " + zip_message(code));
    throw Error("load_npz: cannot open '" + path + "': " + zip_message(code));
  }
  StateDict<T> arrays;
  const zip_int64_t count = zip_get_num_entries(archive.z, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive.z, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE))
      throw Error("load_npz: '" + path + "' is corrupt: entry " + std::to_string(i) + ": " + zip_strerror(archive.z));
    std::string name = st.name;
    if (!name.empty() && name.back() == '/') continue;  // a folder entry
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".npy") != 0)
      throw Error("load_npz: '" + path + "': entry '" + name + "' is not an .npy array");
    zip_file_t* file = zip_fopen_index(archive.z, index, 0);
    if (!file) throw Error("load_npz: '" + path + "' is corrupt: entry '" + name + "': " + zip_strerror(archive.z));
    std::string bytes(static_cast<std::size_t>(st.size), '\0');
    std::size_t got = 0;
    bool ok = true;
    // read to the end (one call past the data): libzip checks the CRC when it reaches it
    for (;;) {
      char extra;
      const std::size_t want = got < bytes.size() ? bytes.size() - got : 1;
      char* into = got < bytes.size() ? bytes.data() + got : &extra;
      const zip_int64_t n = zip_fread(file, into, want);
      if (n < 0) ok = false;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
      if (got > bytes.size()) {
        ok = false;
        break;
      }
    }
    const std::string reason = ok ? "" : zip_file_strerror(file);
    zip_fclose(file);
    if (!ok || got != bytes.size())
      throw Error("load_npz: '" + path + "' is corrupt: entry '" + name + "': " + (ok ? "short read" : reason));
    name.resize(name.size() - 4);
    try {
      arrays.emplace(name, parse_npy<T>(bytes));
    } catch (const NpyError& e) {
      throw Error("load_npz: '" + path + "': entry '" + name + "': " + e.what);
    }
  }
  return arrays;
}

template void save_npz<float>(const std::string&, const StateDict<float>&);
template void save_npz<double>(const std::string&, const StateDict<double>&);
template StateDict<float> load_npz<float>(const std::string&);
template StateDict<double> load_npz<double>(const std::string&);

}  // namespace tg
