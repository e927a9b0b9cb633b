#include "datasets/npy.h"

#include <ATen/ATen.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/shape_text.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.cpp assumes a little-endian host");

namespace rampart::datasets {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
constexpr uint64_t kMaxHeaderBytes = 1 << 20;

struct DType {
  const char* descr;
  at::ScalarType type;
  int64_t itemsize;
};

constexpr DType kDTypes[] = {
    {"<f4", at::kFloat, 4}, {"<f8", at::kDouble, 8}, {"|u1", at::kByte, 1},
    {"|i1", at::kChar, 1},  {"<i4", at::kInt, 4},    {"<i8", at::kLong, 8},
};

std::optional<DType> dtype_from_descr(std::string d) {
  // One-byte types have no byte order; NumPy writes '|' but accepts '<' and '>' too.
  if (d.size() == 3 && (d[0] == '<' || d[0] == '>') && d[2] == '1') d[0] = '|';
  for (const DType& t : kDTypes) {
    if (d == t.descr) return t;
  }
  return std::nullopt;
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

/// A strict parser for the Python dict literal in a .npy header.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{');
    skip_space();
    while (peek() != '}') {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr" && !seen_descr) {
        h.descr = parse_string();
        seen_descr = true;
      } else if (key == "fortran_order" && !seen_fortran) {
        h.fortran_order = parse_bool();
        seen_fortran = true;
      } else if (key == "shape" && !seen_shape) {
        h.shape = parse_shape();
        seen_shape = true;
      } else {
        fail("unexpected or repeated key '" + key +
             "' (expected exactly descr, fortran_order, shape)");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != s_.size()) fail("unexpected text after the closing '}'");
    if (!seen_descr || !seen_fortran || !seen_shape) {
      fail(std::string("missing key '") +
           (!seen_descr     ? "descr"
            : !seen_fortran ? "fortran_order"
                            : "shape") +
           "'");
    }
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw DataError(path_ + ": malformed .npy header: " + why + " at offset " +
                    std::to_string(pos_) + " of \"" + printable() + "\"");
  }
  std::string printable() const {
    std::string out;
    for (char c : s_.substr(0, 200)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    return out;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const std::size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    if (out.find('\\') != std::string::npos) fail("escapes are not supported in strings");
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) return pos_ += 4, true;
    if (s_.compare(pos_, 5, "False") == 0) return pos_ += 5, false;
    fail("expected True or False");
  }
  std::vector<int64_t> parse_shape() {
    expect('(');
    std::vector<int64_t> dims;
    bool trailing_comma = false;
    skip_space();
    while (peek() != ')') {
      trailing_comma = false;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
      uint64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const uint64_t digit = static_cast<uint64_t>(peek() - '0');
        if (v > (static_cast<uint64_t>(INT64_MAX) - digit) / 10) fail("dimension too large");
        v = v * 10 + digit;
        ++pos_;
      }
      dims.push_back(static_cast<int64_t>(v));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
        skip_space();
      } else if (peek() != ')') {
        fail("expected ',' or ')' in shape");
      }
    }
    ++pos_;
    if (dims.size() == 1 && !trailing_comma) fail("a one-dimensional shape must be written (n,)");
    return dims;
  }

  const std::string& s_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

uint32_t le_u32(const unsigned char* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

}  // namespace

at::Tensor read_npy(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw DataError(path + ": no such file");
  if (fs::is_directory(path, ec)) throw DataError(path + ": is a folder, expected a file");
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) throw DataError(path + ": cannot determine the file size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open: " + std::strerror(errno));

  unsigned char pre[12] = {};
  if (file_size < 10 || !in.read(reinterpret_cast<char*>(pre), 10)) {
    throw DataError(path + ": file is too short to be a .npy file");
  }
  if (std::memcmp(pre, kMagic, kMagicLen) != 0) {
    throw DataError(path + ": not a .npy file (the magic string \\x93NUMPY is missing)");
  }
  const int major = pre[6], minor = pre[7];
  if (major < 1 || major > 3 || minor != 0) {
    throw DataError(path + ": .npy format version " + std::to_string(major) + "." +
                    std::to_string(minor) + " is not supported (1.0, 2.0 and 3.0 are)");
  }
  uint64_t prefix = 10, header_len = uint64_t{pre[8]} | (uint64_t{pre[9]} << 8);
  if (major >= 2) {
    if (file_size < 12 || !in.read(reinterpret_cast<char*>(pre + 10), 2)) {
      throw DataError(path + ": file is too short to be a .npy file");
    }
    prefix = 12;
    header_len = le_u32(pre + 8);
  }
  if (header_len > kMaxHeaderBytes || prefix + header_len > file_size) {
    throw DataError(path + ": .npy header length " + std::to_string(header_len) +
                    " is larger than the file or the 1 MiB limit");
  }
  std::string text(static_cast<std::size_t>(header_len), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_len))) {
    throw DataError(path + ": cannot read the .npy header");
  }
  if (text.empty() || text.back() != '\n') {
    throw DataError(path + ": malformed .npy header: it does not end with a newline");
  }
  const Header h = HeaderParser(text, path).parse();

  const std::optional<DType> dt = dtype_from_descr(h.descr);
  if (!dt) {
    const bool big = !h.descr.empty() && h.descr[0] == '>';
    throw DataError(path + ": dtype '" + h.descr + "' is not supported" +
                    (big ? " (big-endian data; save it little-endian with arr.astype('<" +
                               h.descr.substr(1) + "'))"
                         : " (supported: <f4, <f8, |u1, |i1, <i4, <i8)"));
  }
  if (h.fortran_order) {
    throw DataError(path +
                    ": array is stored in Fortran order, which is not supported; save it "
                    "with np.save(path, np.ascontiguousarray(arr))");
  }
  // Zero-sized dimensions count as 1 here: (0, 2**62, 4) holds nothing but still cannot be
  // allocated (its strides overflow), so it is refused like any other oversized shape.
  uint64_t bound = 1;
  uint64_t count = 1;
  for (int64_t d : h.shape) {
    const uint64_t nonzero = d == 0 ? 1 : static_cast<uint64_t>(d);
    if (__builtin_mul_overflow(bound, nonzero, &bound) || bound > (uint64_t{1} << 62)) {
      throw DataError(path + ": shape " + core::python_shape_text(h.shape) +
                      " has too many elements");
    }
    count *= static_cast<uint64_t>(d);
  }
  uint64_t need = 0;
  if (__builtin_mul_overflow(count, static_cast<uint64_t>(dt->itemsize), &need)) {
    throw DataError(path + ": shape " + core::python_shape_text(h.shape) +
                    " has too many elements");
  }
  const uint64_t have = file_size - prefix - header_len;
  if (have != need) {
    throw DataError(
        path + ": shape " + core::python_shape_text(h.shape) + " of " + h.descr + " needs " +
        std::to_string(need) + " data bytes but the file holds " + std::to_string(have) +
        (have < need ? " (truncated)" : " (" + std::to_string(have - need) + " trailing bytes)"));
  }
  at::Tensor t = at::empty(h.shape, at::TensorOptions().dtype(dt->type));
  if (need > 0 && !in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(need))) {
    throw DataError(path + ": read failed");
  }
  return t;
}

void write_npy(const std::string& path, const at::Tensor& t) {
  if (!t.defined()) throw ConfigError(path + ": cannot write an undefined tensor as .npy");
  const char* descr = nullptr;
  for (const DType& d : kDTypes) {
    if (d.type == t.scalar_type()) descr = d.descr;
  }
  if (descr == nullptr) {
    throw ConfigError(path + ": cannot write dtype " + std::string(c10::toString(t.scalar_type())) +
                      " as .npy (supported: float32, float64, uint8, int8, int32, int64)");
  }
  const at::Tensor c = t.to(at::kCPU).contiguous();
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " +
                       core::python_shape_text(c.sizes().vec()) + ", }";
  // Pad with spaces and a final newline so the data starts on a 64-byte boundary.
  std::size_t prefix = 10;
  if (header.size() + 1 + prefix > 65535) prefix = 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';

  const auto nbytes = static_cast<std::size_t>(c.numel() * c.element_size());
  std::string bytes;
  bytes.reserve(prefix + header.size() + nbytes);
  bytes.append(kMagic, kMagicLen);
  bytes += static_cast<char>(prefix == 10 ? 1 : 2);
  bytes += '\0';
  const auto len = static_cast<uint32_t>(header.size());
  for (std::size_t i = 0; i < prefix - 8; ++i) bytes += static_cast<char>((len >> (8 * i)) & 0xff);
  bytes += header;
  if (nbytes > 0) bytes.append(static_cast<const char*>(c.data_ptr()), nbytes);
  core::write_file_atomic(path, bytes);
}

}  // namespace rampart::datasets
