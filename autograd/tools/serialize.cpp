// .npz reading and writing with libzip: one .npy (format 1.0) entry per array.
// The .npy format: magic "\x93NUMPY", version, a little-endian header length, a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a
// multiple of 64 bytes and ended by '\n', then the raw C-order data.
#include "serialize.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../ops/detail/derivatives.hpp"

namespace tg {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr char kNative = std::endian::native == std::endian::little ? '<' : '>';

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string npy_bytes(const NpyArray& a) {
  std::string dict = "{'descr': '" + a.dtype + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < a.shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(a.shape[i]);
  if (a.shape.size() == 1) dict += ",";  // Python's one-element tuple
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
  out += a.bytes;
  return out;
}

/// The dtype of V in native byte order: "<f4", "<f8", "<i8", "<u8", "<u4" on little-endian hosts.
template <class V>
std::string dtype_of() {
  const char kind = std::is_floating_point_v<V> ? 'f' : std::is_signed_v<V> ? 'i' : 'u';
  return std::string{kNative, kind, static_cast<char>('0' + sizeof(V))};
}

/// The byte count an array of this dtype and shape holds, when the dtype is well formed.
std::optional<std::size_t> byte_count(const NpyArray& a) {
  const auto n = detail::checked_numel(a.shape);
  std::size_t bytes = 0;
  if (a.dtype.size() != 3 || a.dtype[2] < '1' || a.dtype[2] > '8' || !n ||
      __builtin_mul_overflow(*n, static_cast<std::size_t>(a.dtype[2] - '0'), &bytes))
    return std::nullopt;
  return bytes;
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

/// Makes what was written to `path` durable (the file before it is renamed over the old one,
/// the folder after, so the rename itself survives a power cut); false with errno on failure.
bool sync_file(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
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

/// An .npy entry's dtype, shape and data, its data turned to native byte order. Only plain
/// numeric dtypes are accepted: a kind of b (bool), i, u or f and a size of 1, 2, 4 or 8 bytes.
NpyArray parse_npy(const std::string& bytes) {
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
  if (bytes.size() - start < header_len) throw NpyError{"its header is truncated"};
  const std::string header = bytes.substr(start, header_len);
  NpyArray out;
  out.dtype = dict_value(header, "descr");
  const std::string fortran = dict_value(header, "fortran_order");
  if (fortran.find("True") != std::string::npos)
    throw NpyError{"it is stored in Fortran order; only C order is supported"};
  out.shape = parse_shape(dict_value(header, "shape"));
  const std::string& descr = out.dtype;
  const bool known = descr.size() == 3 && std::string_view("<>=|").find(descr[0]) != std::string_view::npos &&
                     std::string_view("biuf").find(descr[1]) != std::string_view::npos &&
                     std::string_view("1248").find(descr[2]) != std::string_view::npos &&
                     (descr[1] != 'b' || descr[2] == '1') && (descr[1] != 'f' || descr[2] != '1');
  if (!known) throw NpyError{"its dtype '" + descr + "' is not a plain number type ('<f4', '<f8', '<i8', ...)"};
  const std::size_t item = static_cast<std::size_t>(descr[2] - '0');
  // n and n * item checked for overflow: a crafted shape whose product wraps to the stored
  // byte count would pass the size check and then be indexed far out of bounds
  const auto n = detail::checked_numel(out.shape);
  std::size_t need = 0;
  if (!n || __builtin_mul_overflow(*n, item, &need))
    throw NpyError{"its shape " + shape_str(out.shape) + " of " + descr + " has more bytes than fit in size_t"};
  const std::size_t data = start + header_len;
  if (bytes.size() - data != need)
    throw NpyError{"it holds " + std::to_string(bytes.size() - data) + " data bytes, but shape " +
                   shape_str(out.shape) + " of " + descr + " needs " + std::to_string(need)};
  out.bytes = bytes.substr(data);
  if (item > 1 && descr[0] != '=' && descr[0] != '|' && descr[0] != kNative)
    for (std::size_t i = 0; i < out.bytes.size(); i += item) std::reverse(&out.bytes[i], &out.bytes[i] + item);
  out.dtype[0] = item == 1 ? '|' : kNative;
  return out;
}

/// A float32 or float64 entry as T (numpy.savez writes float64 by default).
template <class T>
xt::xarray<T> float_values(const NpyArray& a) {
  if (a.dtype[1] != 'f' || (a.dtype[2] != '4' && a.dtype[2] != '8'))  // float16 too: not read as double
    throw NpyError{"its dtype '" + a.dtype + "' is not float32 or float64 ('<f4', '<f8')"};
  xt::xarray<T> out = xt::empty<T>(a.shape);
  const std::size_t n = out.size();
  auto convert = [&](auto stored) {
    using Stored = decltype(stored);
    for (std::size_t i = 0; i < n; ++i) {
      std::memcpy(&stored, a.bytes.data() + i * sizeof(Stored), sizeof(Stored));
      out.data()[i] = static_cast<T>(stored);
    }
  };
  if (a.dtype[2] == '4') convert(float{});
  else convert(double{});
  return out;
}

}  // namespace

void save_npz_arrays(const std::string& path, const NpyArrays& arrays) {
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
    if (byte_count(array) != array.bytes.size())
      fail("array '" + name + "' of dtype '" + array.dtype + "' and shape " + shape_str(array.shape) + " holds " +
           std::to_string(array.bytes.size()) + " bytes");
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
    // a fixed time stamp (1980-01-01, zip's first day): the same arrays give the same bytes
    zip_file_set_dostime(archive.z, static_cast<zip_uint64_t>(index), 0, (0 << 9) | (1 << 5) | 1, 0);
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
  if (!sync_file(tmp, false)) fail("cannot flush '" + tmp + "' to disk: " + std::strerror(errno));
  std::filesystem::rename(tmp, path, error);
  if (error) fail("cannot rename '" + tmp + "' into place: " + error.message());
  const auto folder = std::filesystem::path(path).parent_path();
  if (!sync_file(folder.empty() ? "." : folder.string(), true))
    throw Error("save_npz: '" + path + "': written, but flushing its folder to disk failed: " + std::strerror(errno));
}

template <class T>
void save_npz(const std::string& path, const StateDict<T>& arrays) {
  NpyArrays stored;
  for (const auto& [name, array] : arrays) stored.emplace(name, to_npy(array));
  save_npz_arrays(path, stored);
}

NpyArrays load_npz_arrays(const std::string& path) {
  int code = 0;
  ZipCloser archive{zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code)};
  if (!archive.z) {
    if (code == ZIP_ER_NOENT) throw Error("load_npz: no such file '" + path + "'");
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
      throw Error("load_npz: '" + path + "' is not an .npz file (corrupt or not a zip archive): " + zip_message(code));
    throw Error("load_npz: cannot open '" + path + "': " + zip_message(code));
  }
  NpyArrays arrays;
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
      arrays.emplace(name, parse_npy(bytes));
    } catch (const NpyError& e) {
      throw Error("load_npz: '" + path + "': entry '" + name + "': " + e.what);
    }
  }
  return arrays;
}

template <class T>
StateDict<T> load_npz(const std::string& path) {
  StateDict<T> out;
  for (const auto& [name, array] : load_npz_arrays(path)) {
    try {
      out.emplace(name, float_values<T>(array));
    } catch (const NpyError& e) {
      throw Error("load_npz: '" + path + "': entry '" + name + "': " + e.what);
    }
  }
  return out;
}

template <class V>
NpyArray to_npy(const xt::xarray<V>& array) {
  return {dtype_of<V>(), array.shape(), std::string(reinterpret_cast<const char*>(array.data()), array.size() * sizeof(V))};
}

template <class V>
xt::xarray<V> from_npy(const NpyArray& array, const std::string& op, const std::string& what) {
  TG_CHECK(array.dtype == dtype_of<V>(), op, what + " has dtype '" + array.dtype + "', expected '" + dtype_of<V>() + "'");
  const auto n = detail::checked_numel(array.shape);
  TG_CHECK(n && *n * sizeof(V) == array.bytes.size(), op,
           what + " of shape " + shape_str(array.shape) + " holds " + std::to_string(array.bytes.size()) + " bytes");
  xt::xarray<V> out = xt::empty<V>(array.shape);
  if (*n) std::memcpy(out.data(), array.bytes.data(), array.bytes.size());
  return out;
}

#define TG_NPY_INSTANTIATE(V)                                       \
  template NpyArray to_npy<V>(const xt::xarray<V>&);               \
  template xt::xarray<V> from_npy<V>(const NpyArray&, const std::string&, const std::string&);
TG_NPY_INSTANTIATE(float)
TG_NPY_INSTANTIATE(double)
TG_NPY_INSTANTIATE(std::int64_t)
TG_NPY_INSTANTIATE(std::uint64_t)
TG_NPY_INSTANTIATE(std::uint32_t)
#undef TG_NPY_INSTANTIATE

template void save_npz<float>(const std::string&, const StateDict<float>&);
template void save_npz<double>(const std::string&, const StateDict<double>&);
template StateDict<float> load_npz<float>(const std::string&);
template StateDict<double> load_npz<double>(const std::string&);

}  // namespace tg
