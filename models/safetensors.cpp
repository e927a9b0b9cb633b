#include "models/safetensors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/shape_text.h"

namespace rampart::models {
namespace {

using Json = nlohmann::ordered_json;  // writing: keeps the order tensors are given in
// Reading: a plain (std::map) object, whose inserts are logarithmic; ordered_json's are linear,
// so a header of n tensors cost n^2. The header's own order comes from the SAX pass instead.
using HeaderJson = nlohmann::json;

constexpr std::size_t kLengthPrefix = 8;
constexpr std::size_t kMaxDims = 64;
constexpr int kMaxJsonDepth = 16;
constexpr const char* kMetadataKey = "__metadata__";

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr bool kBigEndianHost = true;
#else
constexpr bool kBigEndianHost = false;
#endif

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  std::size_t itemsize;
};

constexpr std::array<DtypeInfo, 10> kDtypes = {{
    {"F64", at::kDouble, 8},
    {"F32", at::kFloat, 4},
    {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},
    {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},
    {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
}};

// Dtypes the format defines that Rampart does not load (rejected by name, not as unknown).
constexpr std::array<const char*, 10> kUnsupportedDtypes = {
    "U16", "U32", "U64", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const DtypeInfo* dtype_by_type(at::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (type == d.type) return &d;
  }
  return nullptr;
}

// Untrusted text (tensor names, dtype strings) as it goes into a one-line message:
// control and non-ASCII bytes escaped, long text cut.
std::string printable(std::string_view text, std::size_t max_chars = 80) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= max_chars) return out + "...";
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string quote_name(std::string_view name) { return "'" + printable(name) + "'"; }

template <typename... Parts>
[[noreturn]] void reject(const std::string& file, const Parts&... parts) {
  std::ostringstream out;
  out << file << ": ";
  (out << ... << parts);
  throw ModelRejected(out.str());
}

using core::shape_text;

// Reverses each `itemsize`-byte element in place (for big-endian hosts only).
void swap_bytes(char* data, std::size_t nbytes, std::size_t itemsize) {
  if (itemsize < 2) return;
  for (std::size_t i = 0; i + itemsize <= nbytes; i += itemsize) {
    std::reverse(data + i, data + i + itemsize);
  }
}

// ----------------------------------------------------------------------------- reader

struct Entry {
  std::string name;
  const DtypeInfo* dtype = nullptr;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

std::uint64_t read_header_length(std::string_view bytes, const std::string& file) {
  if (bytes.size() < kLengthPrefix) {
    reject(file, "file is ", bytes.size(),
           " bytes long, shorter than the 8-byte header length prefix of a safetensors file");
  }
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < kLengthPrefix; ++i) {
    n |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  const std::uint64_t available = bytes.size() - kLengthPrefix;
  if (n > kSafetensorsMaxHeaderBytes) {
    reject(file, "header length ", n, " exceeds the limit of ", kSafetensorsMaxHeaderBytes,
           " bytes (the file holds ", available, " bytes after the length prefix)");
  }
  if (n > available) {
    reject(file, "header length ", n, " exceeds the ", available,
           " bytes that follow the length prefix (file truncated?)");
  }
  return n;
}

// The strictness checks of the header, as a SAX pass: duplicate keys (at any depth) and deep
// nesting rejected. A SAX pass, not nlohmann's parser callback: on every object's end the
// callback parser scans the enclosing object for discarded members, which made a header of n
// tensors cost n^2 (44 s for 131,072 tensors).
class StrictHeaderSax : public nlohmann::json_sax<HeaderJson> {
 public:
  StrictHeaderSax(const std::string& file, std::vector<std::string>& order)
      : file_(file), order_(order) {}
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override {
    value();
    open();
    keys_.emplace_back();
    arrays_.push_back(-1);
    return true;
  }
  bool key(string_t& key) override {
    if (!keys_.back().insert(key).second) {
      reject(file_, "header JSON has duplicate key ", quote_name(key));
    }
    // Before the full parse holds them all: a header of millions of keys (tensors or metadata)
    // is refused here, not after gigabytes of parsed JSON.
    if (keys_.back().size() > kSafetensorsMaxTensors + 1) {
      reject(file_, "header JSON has an object of more than ", kSafetensorsMaxTensors + 1, " keys");
    }
    if (depth_ == 1) order_.push_back(key);
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    arrays_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    value();
    open();
    arrays_.push_back(0);
    return true;
  }
  bool end_array() override {
    arrays_.pop_back();
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    std::string what = e.what();
    if (what.rfind('[', 0) == 0 && what.find("] ") != std::string::npos) {
      what = what.substr(what.find("] ") + 2);  // drop "[json.exception.parse_error.101] "
    }
    reject(file_, "header is not valid JSON: ", printable(what, 300));
  }

 private:
  // The header's only arrays are shapes (at most kMaxDims values) and data_offsets (2): a longer
  // one ([0, 0, ...] of 50 million zeros) is refused before the full parse holds it.
  bool value() {
    if (!arrays_.empty() && arrays_.back() >= 0 && ++arrays_.back() > static_cast<std::int64_t>(kMaxDims)) {
      reject(file_, "header JSON has an array of more than ", kMaxDims,
             " values (a shape has at most ", kMaxDims, " dimensions)");
    }
    return true;
  }
  void open() {
    if (depth_++ >= kMaxJsonDepth) {
      reject(file_, "header JSON is nested more than ", kMaxJsonDepth, " levels deep");
    }
  }
  const std::string& file_;
  std::vector<std::string>& order_;  // the top-level keys, in the header's order
  int depth_ = 0;
  std::vector<std::set<std::string>> keys_;
  std::vector<std::int64_t> arrays_;  // per open container: values so far in an array, -1 an object
};

// Strict JSON parse of the header: the SAX checks (which also record the top-level keys in
// order into `order`), then a plain parse; n log n in the number of tensors.
HeaderJson parse_header_json(std::string_view text, const std::string& file,
                             std::vector<std::string>& order) {
  if (text.empty() || text.front() != '{') {
    reject(file, "header is not a JSON object: it must start with '{' but ",
           text.empty() ? std::string("is empty") : "starts with " + quote_name(text.substr(0, 1)));
  }
  StrictHeaderSax checks(file, order);
  HeaderJson::sax_parse(text.begin(), text.end(), &checks);
  return HeaderJson::parse(text.begin(), text.end());
}

std::map<std::string, std::string> parse_metadata(const HeaderJson& value, const std::string& file) {
  if (!value.is_object()) {
    reject(file, "\"__metadata__\" must be an object of strings but is a ", value.type_name());
  }
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      reject(file, "\"__metadata__\" value for key ", quote_name(key),
             " must be a string but is a ", item.type_name());
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

// A JSON number that must be a non-negative integer; `what` names it in the message.
std::uint64_t non_negative_integer(const HeaderJson& v, const std::string& file,
                                   const std::string& what) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i >= 0) return static_cast<std::uint64_t>(i);
    reject(file, what, " is negative (", i, ")");
  }
  reject(file, what, " must be a non-negative integer but is ",
         v.is_number() ? "the number " + v.dump() : "a " + std::string(v.type_name()));
}

const DtypeInfo& parse_dtype(const HeaderJson& v, const std::string& tensor, const std::string& file) {
  if (!v.is_string()) {
    reject(file, "tensor ", tensor, " has a dtype that is a ", v.type_name(), ", not a string");
  }
  const auto& name = v.get_ref<const std::string&>();
  if (const DtypeInfo* d = dtype_by_name(name)) return *d;
  for (const char* unsupported : kUnsupportedDtypes) {
    if (name == unsupported) {
      reject(file, "tensor ", tensor, " has dtype ", name,
             ", which Rampart does not support (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 "
             "BOOL)");
    }
  }
  reject(file, "tensor ", tensor, " has unknown dtype ", quote_name(name));
}

std::vector<std::int64_t> parse_shape(const HeaderJson& v, const std::string& tensor,
                                      const std::string& file) {
  if (!v.is_array()) {
    reject(file, "tensor ", tensor, " has a shape that is a ", v.type_name(), ", not an array");
  }
  if (v.size() > kMaxDims) {
    reject(file, "tensor ", tensor, " has ", v.size(), " dimensions, more than the ", kMaxDims,
           " allowed");
  }
  std::vector<std::int64_t> shape;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::uint64_t dim =
        non_negative_integer(v[i], file, "tensor " + tensor + " shape[" + std::to_string(i) + "]");
    if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      reject(file, "tensor ", tensor, " shape[", i, "] = ", dim, " is too large");
    }
    shape.push_back(static_cast<std::int64_t>(dim));
  }
  return shape;
}

// Bytes that dtype and shape need. Rejects when itemsize times the product of the dims
// (zero dims counted as 1, as libtorch's strides need) overflows int64: a stricter form of
// the reference implementation's overflow check.
std::uint64_t needed_bytes(const Entry& e, const std::string& tensor, const std::string& file) {
  constexpr auto kLimit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t bound = e.dtype->itemsize;
  bool has_zero_dim = false;
  for (const std::int64_t dim : e.shape) {
    const auto d = static_cast<std::uint64_t>(dim);
    has_zero_dim = has_zero_dim || d == 0;
    if (d > 1 && bound > kLimit / d) {
      reject(file, "tensor ", tensor, " with dtype ", e.dtype->name, " and shape ",
             shape_text(e.shape), " overflows a 64-bit byte count");
    }
    bound *= std::max<std::uint64_t>(d, 1);
  }
  return has_zero_dim ? 0 : bound;
}

Entry parse_entry(const std::string& name, const HeaderJson& v, const std::string& file) {
  const std::string tensor = quote_name(name);
  if (name.empty()) reject(file, "header has a tensor with an empty name");
  if (!v.is_object()) {
    reject(file, "tensor ", tensor, " is described by a ", v.type_name(), ", not an object");
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!v.contains(field)) reject(file, "tensor ", tensor, " lacks the \"", field, "\" field");
  }
  if (v.size() != 3) {
    for (const auto& [key, unused] : v.items()) {
      if (key != "dtype" && key != "shape" && key != "data_offsets") {
        reject(file, "tensor ", tensor, " has unexpected field ", quote_name(key));
      }
    }
  }
  Entry e;
  e.name = name;
  e.dtype = &parse_dtype(v["dtype"], tensor, file);
  e.shape = parse_shape(v["shape"], tensor, file);
  const HeaderJson& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    reject(file, "tensor ", tensor, " data_offsets must be an array [begin, end] but is ",
           printable(offsets.dump(), 60));
  }
  e.begin = non_negative_integer(offsets[0], file, "tensor " + tensor + " data_offsets begin");
  e.end = non_negative_integer(offsets[1], file, "tensor " + tensor + " data_offsets end");
  if (e.begin > e.end) {
    reject(file, "tensor ", tensor, " has data_offsets [", e.begin, ", ", e.end,
           "] whose begin is after its end");
  }
  const std::uint64_t need = needed_bytes(e, tensor, file);
  if (e.end - e.begin != need) {
    reject(file, "tensor ", tensor, " has data_offsets [", e.begin, ", ", e.end, "] but dtype ",
           e.dtype->name, " and shape ", shape_text(e.shape), " need ", need, " bytes");
  }
  return e;
}

// Sorts `entries` into buffer order and checks that they tile the data buffer exactly.
void check_layout(std::vector<Entry>& entries, std::uint64_t data_size, const std::string& file) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  if (entries.empty()) {
    if (data_size != 0) {
      reject(file, "header declares no tensors but ", data_size,
             " bytes of data follow it (bytes after the last tensor)");
    }
    return;
  }
  if (entries.front().begin != 0) {
    reject(file, "the first tensor ", quote_name(entries.front().name), " begins at byte ",
           entries.front().begin, " of the data, leaving a gap of ", entries.front().begin,
           " unused bytes before it");
  }
  for (std::size_t i = 1; i < entries.size(); ++i) {
    const Entry& prev = entries[i - 1];
    const Entry& cur = entries[i];
    if (cur.begin < prev.end) {
      reject(file, "tensors ", quote_name(prev.name), " [", prev.begin, ", ", prev.end, "] and ",
             quote_name(cur.name), " [", cur.begin, ", ", cur.end, "] overlap");
    }
    if (cur.begin > prev.end) {
      reject(file, "there is a gap of ", cur.begin - prev.end, " bytes between tensor ",
             quote_name(prev.name), " (ends at ", prev.end, ") and tensor ", quote_name(cur.name),
             " (begins at ", cur.begin, ")");
    }
  }
  const Entry& last = entries.back();
  if (last.end > data_size) {
    reject(file, "data is truncated: tensor ", quote_name(last.name), " ends at byte ", last.end,
           " but the file holds ", data_size, " bytes of data");
  }
  if (last.end < data_size) {
    reject(file, "there are ", data_size - last.end, " bytes after the last tensor ",
           quote_name(last.name), " (it ends at byte ", last.end, " of ", data_size, ")");
  }
}

at::Tensor copy_tensor(const Entry& e, const char* data, const std::string& file) {
  const char* src = data + e.begin;
  const auto nbytes = static_cast<std::size_t>(e.end - e.begin);
  if (e.dtype->type == at::kBool) {
    for (std::size_t i = 0; i < nbytes; ++i) {
      if (src[i] != 0 && src[i] != 1) {
        reject(file, "tensor ", quote_name(e.name), " of dtype BOOL holds byte value ",
               static_cast<int>(static_cast<unsigned char>(src[i])), " at element ", i,
               " (only 0 and 1 are valid)");
      }
    }
  }
  at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype->type));
  if (nbytes > 0) {
    std::memcpy(t.data_ptr(), src, nbytes);
    if (kBigEndianHost) swap_bytes(static_cast<char*>(t.data_ptr()), nbytes, e.dtype->itemsize);
  }
  return t;
}

// ----------------------------------------------------------------------------- writer

void check_names(const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) throw std::invalid_argument("safetensors: a tensor name is empty");
    if (name == kMetadataKey) {
      throw std::invalid_argument("safetensors: \"__metadata__\" is reserved, not a tensor name");
    }
    if (!seen.insert(name).second) {
      throw std::invalid_argument("safetensors: duplicate tensor name " + quote_name(name));
    }
  }
}

// The tensor as a contiguous CPU tensor ready to be written, and its dtype.
std::pair<at::Tensor, const DtypeInfo*> prepare(const std::string& name, const at::Tensor& t) {
  if (!t.defined()) {
    throw std::invalid_argument("safetensors: tensor " + quote_name(name) + " is undefined");
  }
  if (t.layout() != at::kStrided || t.is_meta()) {
    throw std::invalid_argument("safetensors: tensor " + quote_name(name) +
                                " is not a dense tensor with data");
  }
  const DtypeInfo* d = dtype_by_type(t.scalar_type());
  if (d == nullptr) {
    throw std::invalid_argument("safetensors: tensor " + quote_name(name) + " has dtype " +
                                std::string(c10::toString(t.scalar_type())) +
                                ", which safetensors files written by Rampart cannot hold");
  }
  return {t.detach().to(at::kCPU).contiguous(), d};
}

}  // namespace

const at::Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return &t;
  }
  return nullptr;
}

std::string serialize_safetensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  check_names(tensors);
  Json header = Json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::vector<at::Tensor> ready;
  ready.reserve(tensors.size());
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    auto [t, dtype] = prepare(name, tensor);
    const auto nbytes = static_cast<std::uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", dtype->name},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", Json::array({offset, offset + nbytes})}};
    offset += nbytes;
    ready.push_back(std::move(t));
  }
  std::string text;
  try {
    text = core::json_text(header);
  } catch (const Json::exception& e) {
    throw std::invalid_argument(std::string("safetensors: cannot write header: ") + e.what());
  }
  text.append((kLengthPrefix - text.size() % kLengthPrefix) % kLengthPrefix, ' ');

  std::string out;
  out.reserve(kLengthPrefix + text.size() + offset);
  for (std::size_t i = 0; i < kLengthPrefix; ++i) {
    out += static_cast<char>((static_cast<std::uint64_t>(text.size()) >> (8 * i)) & 0xff);
  }
  out += text;
  for (const at::Tensor& t : ready) {
    const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * t.element_size();
    if (nbytes == 0) continue;
    const std::size_t pos = out.size();
    out.append(static_cast<const char*>(t.data_ptr()), nbytes);
    if (kBigEndianHost) swap_bytes(&out[pos], nbytes, t.element_size());
  }
  return out;
}

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& file_name) {
  const std::uint64_t header_len = read_header_length(bytes, file_name);
  std::vector<std::string> order;
  const HeaderJson header = parse_header_json(
      bytes.substr(kLengthPrefix, static_cast<std::size_t>(header_len)), file_name, order);
  if (!header.is_object()) reject(file_name, "header is not a JSON object");
  const std::size_t tensor_count = header.size() - (header.contains(kMetadataKey) ? 1 : 0);
  if (tensor_count > kSafetensorsMaxTensors) {
    reject(file_name, "header lists ", tensor_count, " tensors, more than the limit of ",
           kSafetensorsMaxTensors, " tensors");
  }

  SafetensorsFile result;
  std::vector<Entry> entries;
  for (const std::string& key : order) {  // the header's order: buffer-order ties stay stable
    const HeaderJson& value = header.at(key);
    if (key == kMetadataKey) {
      result.metadata = parse_metadata(value, file_name);
    } else {
      entries.push_back(parse_entry(key, value, file_name));
    }
  }
  const std::size_t data_start = kLengthPrefix + static_cast<std::size_t>(header_len);
  check_layout(entries, bytes.size() - data_start, file_name);

  result.tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    result.tensors.emplace_back(e.name, copy_tensor(e, bytes.data() + data_start, file_name));
  }
  return result;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  core::write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

}  // namespace rampart::models
