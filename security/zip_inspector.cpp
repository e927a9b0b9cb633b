#include "security/zip_inspector.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace rampart::security {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kDataDescriptor = 0x08074b50;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagDataDescriptor = 0x0008;
constexpr uint16_t kFlagStrongEncryption = 0x0040;

[[noreturn]] void reject(const std::string& code, const std::string& message) {
  throw InspectionError(code, message);
}

// Bounds-checked little-endian reads over the archive.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size() const { return bytes_.size(); }
  bool has(uint64_t offset, uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }
  void need(uint64_t offset, uint64_t length, const char* what) const {
    if (!has(offset, length)) {
      reject("truncated", std::string("the archive ends inside ") + what + " (offset " +
                              std::to_string(offset) + ")");
    }
  }
  uint64_t le(uint64_t offset, int width) const {
    need(offset, static_cast<uint64_t>(width), "a header");
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) {
      v = (v << 8) | static_cast<unsigned char>(bytes_[offset + static_cast<uint64_t>(i)]);
    }
    return v;
  }
  uint16_t u16(uint64_t offset) const { return static_cast<uint16_t>(le(offset, 2)); }
  uint32_t u32(uint64_t offset) const { return static_cast<uint32_t>(le(offset, 4)); }
  uint64_t u64(uint64_t offset) const { return le(offset, 8); }
  std::string_view view(uint64_t offset, uint64_t length, const char* what) const {
    need(offset, length, what);
    return bytes_.substr(offset, length);
  }

 private:
  std::string_view bytes_;
};

struct Directory {
  uint64_t entries = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t end = 0;  // where the directory must end: the (zip64) end record
};

Directory find_directory(const Reader& r) {
  if (r.size() < 22) reject("not_an_archive", "too short to be a zip archive");
  // torch.jit.save writes no archive comment, so the end record is exactly the last 22 bytes.
  // A comment is where a second archive, a signature or a polyglot's other half would hide.
  const uint64_t eocd = r.size() - 22;
  if (r.u32(eocd) != kEndOfDirectory) {
    const uint64_t lowest = r.size() >= 22 + 65535 ? r.size() - 22 - 65535 : 0;
    for (uint64_t at = eocd; at-- > lowest;) {
      if (r.u32(at) == kEndOfDirectory && at + 22 + r.u16(at + 20) == r.size()) {
        reject("archive_comment", "the archive carries a comment of " +
                                      std::to_string(r.u16(at + 20)) + " bytes");
      }
    }
    reject("not_an_archive", "no zip end-of-central-directory record in the last 22 bytes");
  }
  if (r.u16(eocd + 20) != 0) reject("archive_comment", "the archive carries a comment");
  if (r.u16(eocd + 4) != 0 || r.u16(eocd + 6) != 0 || r.u16(eocd + 8) != r.u16(eocd + 10)) {
    reject("bad_directory", "multi-disk archives are not model files");
  }
  Directory d;
  d.entries = r.u16(eocd + 10);
  d.size = r.u32(eocd + 12);
  d.offset = r.u32(eocd + 16);
  d.end = eocd;
  if (eocd >= 20 && r.u32(eocd - 20) == kZip64Locator) {
    const uint64_t z = r.u64(eocd - 20 + 8);
    if (r.u32(eocd - 20 + 4) != 0 || r.u32(eocd - 20 + 16) > 1) {
      reject("bad_directory", "multi-disk zip64 archives are not model files");
    }
    r.need(z, 56, "the zip64 end record");
    if (r.u32(z) != kZip64EndOfDirectory || z + 12 + r.u64(z + 4) != eocd - 20) {
      reject("bad_directory", "the zip64 locator does not point at a zip64 end record");
    }
    if (r.u32(z + 16) != 0 || r.u32(z + 20) != 0 || r.u64(z + 24) != r.u64(z + 32)) {
      reject("bad_directory", "multi-disk zip64 archives are not model files");
    }
    const uint64_t entries = r.u64(z + 32), size = r.u64(z + 40), offset = r.u64(z + 48);
    // The 32-bit fields either say "see zip64" or agree with it.
    if ((d.entries != 0xFFFF && d.entries != entries) ||
        (d.size != 0xFFFFFFFF && d.size != size) || (d.offset != 0xFFFFFFFF && d.offset != offset)) {
      reject("bad_directory", "the zip64 end record disagrees with the end record");
    }
    d.entries = entries;
    d.size = size;
    d.offset = offset;
    d.end = z;
  } else if (d.entries == 0xFFFF || d.size == 0xFFFFFFFF || d.offset == 0xFFFFFFFF) {
    reject("bad_directory", "the end record points to a zip64 record that is not there");
  }
  if (!r.has(d.offset, d.size) || d.offset + d.size != d.end) {
    reject("bad_directory", "the central directory does not end where the end record starts");
  }
  return d;
}

void check_name(const std::string& name) {
  if (name.empty() || name.size() > 4096) reject("bad_name", "an entry has an empty or huge name");
  for (unsigned char ch : name) {
    if (ch == 0) reject("bad_name", "entry name contains a NUL byte");
    if (ch < 0x20 || ch == 0x7f) reject("bad_name", "entry name contains a control character");
    if (ch == '\\') reject("path_traversal", "entry name '" + name + "' contains a backslash");
  }
  if (name.front() == '/') reject("path_traversal", "entry name '" + name + "' is absolute");
  if (name.size() > 1 && name[1] == ':') {
    reject("path_traversal", "entry name '" + name + "' starts with a drive letter");
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = name.find('/', start);
    const std::string part = name.substr(start, slash == std::string::npos ? slash : slash - start);
    if (part == "..") reject("path_traversal", "entry name '" + name + "' climbs out with '..'");
    if (part.empty() || part == ".") {
      reject("bad_name", "entry name '" + name + "' has an empty or '.' component");
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

// Sizes and offset from a zip64 extended-information extra field, for the fields whose 32-bit
// value is 0xFFFFFFFF (in the order usize, csize, offset).
void apply_zip64(const Reader& r, uint64_t extra, uint64_t extra_len, uint64_t& usize,
                 uint64_t& csize, uint64_t* offset, const std::string& name) {
  const bool need_u = usize == 0xFFFFFFFF, need_c = csize == 0xFFFFFFFF;
  const bool need_o = offset && *offset == 0xFFFFFFFF;
  if (!need_u && !need_c && !need_o) return;
  for (uint64_t at = extra; at + 4 <= extra + extra_len;) {
    const uint16_t id = r.u16(at), len = r.u16(at + 2);
    if (at + 4 + len > extra + extra_len) break;
    if (id == 0x0001) {
      uint64_t field = at + 4;
      const uint64_t end = at + 4 + len;
      auto take = [&](uint64_t& value) {
        if (field + 8 > end) reject("bad_directory", name + ": zip64 field too short");
        value = r.u64(field);
        field += 8;
      };
      if (need_u) take(usize);
      if (need_c) take(csize);
      if (need_o) take(*offset);
      return;
    }
    at += 4 + len;
  }
  reject("bad_directory", name + ": sizes say zip64 but the entry has no zip64 field");
}

bool compressed_allowed(const std::string& name, const std::string& prefix,
                        const ArchiveLimits& limits) {
  if (limits.allow_compressed_data) return true;
  const std::string code = prefix + "/code/";
  const std::string debug = ".debug_pkl";
  return name.compare(0, code.size(), code) == 0 ||
         (name.size() > debug.size() &&
          name.compare(name.size() - debug.size(), debug.size(), debug) == 0);
}

std::string inflate_exactly(std::string_view compressed, uint64_t size, const std::string& name) {
  std::string out(size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw std::runtime_error("zlib: inflateInit failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(size);
  const int rc = inflate(&z, Z_FINISH);
  const uint64_t produced = z.total_out;
  const uint64_t consumed = z.total_in;
  inflateEnd(&z);
  // Z_BUF_ERROR with a full buffer: the stream wants to produce more than declared.
  if (rc != Z_STREAM_END || produced != size || consumed != compressed.size()) {
    reject("header_mismatch", name + ": the deflated data does not inflate to its declared " +
                                  std::to_string(size) + " bytes");
  }
  return out;
}

}  // namespace

bool looks_like_zip(std::string_view bytes) {
  return bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K' &&
         ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6));
}

std::string folded_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

const ArchiveEntry* Archive::find(const std::string& relative) const {
  const auto it = index.find(folded_name(prefix + "/" + relative));
  return it == index.end() ? nullptr : &entries[it->second];
}

std::string read_entry(std::string_view bytes, const ArchiveEntry& entry) {
  const std::string_view data = bytes.substr(entry.data_offset, entry.compressed_size);
  if (entry.method == 8) return inflate_exactly(data, entry.size, entry.name);
  return std::string(data);
}

Archive inspect_archive(std::string_view bytes, const ArchiveLimits& limits) {
  const Reader r(bytes);
  if (!looks_like_zip(bytes)) reject("not_an_archive", "does not start with a zip header");
  const Directory dir = find_directory(r);
  if (dir.entries == 0) reject("bad_directory", "the archive holds no records");
  if (dir.entries > static_cast<uint64_t>(limits.max_entries)) {
    reject("too_many_entries", "the archive declares " + std::to_string(dir.entries) +
                                   " records, more than the limit of " +
                                   std::to_string(limits.max_entries));
  }
  Archive archive;
  std::set<std::string> names, folded_names;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  uint64_t at = dir.offset;
  for (uint64_t i = 0; i < dir.entries; ++i) {
    r.need(at, 46, "a central directory entry");
    if (r.u32(at) != kCentralHeader) {
      reject("bad_directory", "central directory entry " + std::to_string(i) + " is corrupt");
    }
    ArchiveEntry e;
    e.flags = r.u16(at + 8);
    e.method = r.u16(at + 10);
    e.crc32 = r.u32(at + 16);
    e.compressed_size = r.u32(at + 20);
    e.size = r.u32(at + 24);
    const uint16_t name_len = r.u16(at + 28), extra_len = r.u16(at + 30),
                   comment_len = r.u16(at + 32);
    if (r.u16(at + 34) != 0) reject("bad_directory", "an entry lives on another disk");
    uint64_t header = r.u32(at + 42);
    e.name = std::string(r.view(at + 46, name_len, "an entry name"));
    r.need(at + 46 + name_len, static_cast<uint64_t>(extra_len) + comment_len, "an entry");
    apply_zip64(r, at + 46 + name_len, extra_len, e.size, e.compressed_size, &header, e.name);
    at += 46 + static_cast<uint64_t>(name_len) + extra_len + comment_len;
    if (at > dir.offset + dir.size) reject("bad_directory", "entries overrun the directory");

    check_name(e.name);
    const std::string prefix = e.name.substr(0, e.name.find('/'));
    if (e.name.find('/') == std::string::npos) {
      reject("several_prefixes", "entry '" + e.name + "' is not inside the archive's directory");
    }
    if (archive.prefix.empty()) archive.prefix = prefix;
    if (prefix != archive.prefix) {
      reject("several_prefixes", "entries live under both '" + archive.prefix + "/' and '" +
                                     prefix + "/'");
    }
    if (!names.insert(e.name).second) {
      reject("duplicate_name", "entry '" + e.name + "' appears twice");
    }
    // libtorch's zip reader looks names up ignoring case: two names equal up to case would let
    // the scanner and libtorch read different records.
    if (!folded_names.insert(folded_name(e.name)).second) {
      reject("duplicate_name", "entry '" + e.name + "' differs from another only in case");
    }
    if (e.flags & (kFlagEncrypted | kFlagStrongEncryption)) {
      reject("encrypted_entry", "entry '" + e.name + "' is encrypted");
    }
    if (e.method != 0 && !(e.method == 8 && compressed_allowed(e.name, archive.prefix, limits))) {
      reject("compressed_entry", "entry '" + e.name + "' is compressed (method " +
                                     std::to_string(e.method) +
                                     "); PyTorch stores its data records uncompressed");
    }
    if (e.method == 0 && e.compressed_size != e.size) {
      reject("header_mismatch", "stored entry '" + e.name + "' has different sizes");
    }
    if (e.method == 8 && e.size > static_cast<uint64_t>(limits.max_deflated_entry_bytes)) {
      reject("entry_too_large", "deflated entry '" + e.name + "' declares " +
                                    std::to_string(e.size) + " bytes, more than the limit of " +
                                    std::to_string(limits.max_deflated_entry_bytes));
    }
    if (e.size > static_cast<uint64_t>(limits.max_entry_bytes)) {
      reject("entry_too_large", "entry '" + e.name + "' declares " + std::to_string(e.size) +
                                    " bytes, more than the limit of " +
                                    std::to_string(limits.max_entry_bytes));
    }
    archive.total_bytes += e.size;
    if (archive.total_bytes > static_cast<uint64_t>(limits.max_total_bytes)) {
      reject("total_too_large", "the records add up to more than the limit of " +
                                    std::to_string(limits.max_total_bytes) + " bytes");
    }

    // The local header must tell the same story as the central directory.
    r.need(header, 30, "a local header");
    if (r.u32(header) != kLocalHeader) {
      reject("header_mismatch", "entry '" + e.name + "' has no local header at its offset");
    }
    const uint16_t local_name_len = r.u16(header + 26), local_extra_len = r.u16(header + 28);
    const std::string local_name(r.view(header + 30, local_name_len, "a local name"));
    if (local_name != e.name) {
      reject("header_mismatch", "entry '" + e.name + "' is named '" + local_name +
                                    "' in its local header");
    }
    if (r.u16(header + 6) != e.flags) {
      reject("header_mismatch", "entry '" + e.name + "' has different flags in its two headers");
    }
    if (r.u16(header + 8) != e.method) {
      reject("header_mismatch", "entry '" + e.name + "' has different methods in its two headers");
    }
    e.data_offset = header + 30 + local_name_len + local_extra_len;
    if (!r.has(e.data_offset, e.compressed_size) ||
        e.data_offset + e.compressed_size > dir.offset) {
      reject("truncated", "entry '" + e.name + "' runs past the end of the data");
    }
    uint64_t end = e.data_offset + e.compressed_size;
    uint32_t local_crc = r.u32(header + 14);
    uint64_t local_c = r.u32(header + 18), local_u = r.u32(header + 22);
    if (e.flags & kFlagDataDescriptor) {
      // Sizes follow the data: optional signature, CRC, then 4- or 8-byte sizes.
      uint64_t d = end;
      if (r.has(d, 4) && r.u32(d) == kDataDescriptor) d += 4;
      const bool wide = r.has(d, 20) && r.u64(d + 4) == e.compressed_size && r.u64(d + 12) == e.size;
      local_crc = r.u32(d);
      local_c = wide ? r.u64(d + 4) : r.u32(d + 4);
      local_u = wide ? r.u64(d + 12) : r.u32(d + 8);
      end = d + (wide ? 20 : 12);
      r.need(d, end - d, "a data descriptor");
    } else {
      apply_zip64(r, header + 30 + local_name_len, local_extra_len, local_u, local_c, nullptr,
                  e.name);
    }
    if (local_crc != e.crc32 || local_c != e.compressed_size || local_u != e.size) {
      reject("header_mismatch", "entry '" + e.name +
                                    "' has a different CRC or size in its local header");
    }
    if (end > dir.offset) reject("truncated", "entry '" + e.name + "' runs into the directory");
    spans.push_back({header, end, e.name});
    archive.entries.push_back(std::move(e));
  }
  if (at != dir.offset + dir.size) reject("bad_directory", "the directory has trailing bytes");

  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].begin < spans[i - 1].end) {
      reject("overlapping_entries", "entries '" + spans[i - 1].name + "' and '" + spans[i].name +
                                        "' share bytes");
    }
  }
  // As torch.jit.save writes it, the records tile the file from byte 0 to the directory: no
  // prefix (libtorch's reader accepts one), no gap, no hidden bytes between them.
  uint64_t expected = 0;
  for (const Span& span : spans) {
    if (span.begin != expected) {
      reject("hidden_bytes", std::to_string(span.begin - expected) + " bytes before entry '" +
                                 span.name + "' belong to no record");
    }
    expected = span.end;
  }
  if (expected != dir.offset) {
    reject("hidden_bytes", std::to_string(dir.offset - expected) +
                               " bytes before the central directory belong to no record");
  }
  for (std::size_t i = 0; i < archive.entries.size(); ++i) archive.index[folded_name(archive.entries[i].name)] = i;
  for (const auto& e : archive.entries) {
    const std::string content = e.method == 8 ? read_entry(bytes, e) : std::string();
    const std::string_view data =
        e.method == 8 ? std::string_view(content) : bytes.substr(e.data_offset, e.size);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint64_t off = 0; off < data.size(); off += (1u << 30)) {
      const uInt len = static_cast<uInt>(std::min<uint64_t>(data.size() - off, 1u << 30));
      crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + off), len);
    }
    if (static_cast<uint32_t>(crc) != e.crc32) {
      reject("bad_crc", "entry '" + e.name + "' fails its CRC-32 check");
    }
    // A storage record is raw tensor bytes that libtorch never opens as an archive: an int32
    // tensor starting 67324752 (PK\3\4) is a valid model.
    const std::string relative = folded_name(e.name.substr(archive.prefix.size() + 1));
    const bool storage = relative.compare(0, 5, "data/") == 0 || relative.compare(0, 10, "constants/") == 0;
    if (!storage && looks_like_zip(data)) {
      reject("nested_archive", "entry '" + e.name + "' is itself a zip archive");
    }
  }
  return archive;
}

}  // namespace rampart::security
