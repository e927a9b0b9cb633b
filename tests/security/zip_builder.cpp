#include "zip_builder.h"

#include <zlib.h>

#include <sstream>
#include <stdexcept>

#include "models/small_cnn.h"

#include "security/zip_inspector.h"

namespace rampart::test {
namespace {

void put(std::string& out, uint64_t value, int width) { out += little_endian(value, width); }

std::string raw_deflate(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

std::string little_endian(uint64_t value, int width) {
  std::string out;
  for (int i = 0; i < width; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

std::string build_zip(const std::vector<ZipRecord>& records) {
  std::string out, directory;
  for (const auto& r : records) {
    const std::string body = r.deflate ? raw_deflate(r.data) : r.data;
    uint32_t crc = static_cast<uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(r.data.data()), static_cast<uInt>(r.data.size())));
    if (r.bad_crc) crc ^= 0xdeadbeef;
    const uint64_t size = r.declared_size ? r.declared_size : r.data.size();
    const bool zip64 = size >= 0xFFFFFFFF;
    const uint16_t method = r.deflate ? 8 : 0;
    const std::string local_name = r.local_name.empty() ? r.name : r.local_name;
    const uint64_t offset = out.size();
    std::string zip64_extra;
    if (zip64) {
      put(zip64_extra, 0x0001, 2);
      put(zip64_extra, 16, 2);
      put(zip64_extra, size, 8);
      put(zip64_extra, body.size(), 8);
    }
    put(out, 0x04034b50, 4);
    put(out, zip64 ? 45 : 20, 2);
    put(out, r.flags ^ r.local_flags, 2);
    put(out, method, 2);
    put(out, 0, 4);  // time, date
    put(out, crc, 4);
    put(out, zip64 ? 0xFFFFFFFF : body.size(), 4);
    put(out, zip64 ? 0xFFFFFFFF : size, 4);
    put(out, local_name.size(), 2);
    put(out, zip64_extra.size(), 2);
    out += local_name + zip64_extra + body;

    put(directory, 0x02014b50, 4);
    put(directory, zip64 ? 45 : 20, 2);
    put(directory, zip64 ? 45 : 20, 2);
    put(directory, r.flags, 2);
    put(directory, method, 2);
    put(directory, 0, 4);
    put(directory, crc, 4);
    put(directory, zip64 ? 0xFFFFFFFF : body.size(), 4);
    put(directory, zip64 ? 0xFFFFFFFF : size, 4);
    put(directory, r.name.size(), 2);
    put(directory, zip64_extra.size(), 2);
    put(directory, 0, 2);  // comment
    put(directory, 0, 2);  // disk
    put(directory, 0, 2);  // internal attributes
    put(directory, 0, 4);  // external attributes
    put(directory, offset, 4);
    directory += r.name + zip64_extra;
  }
  const uint64_t directory_offset = out.size();
  out += directory;
  put(out, 0x06054b50, 4);
  put(out, 0, 4);
  put(out, records.size(), 2);
  put(out, records.size(), 2);
  put(out, directory.size(), 4);
  put(out, directory_offset, 4);
  put(out, 0, 2);
  return out;
}

std::string small_cnn_archive() {
  torch::manual_seed(0);
  models::SmallCNN net(models::InputSpec{{1, 28, 28}, 0, 1}, 10);
  std::ostringstream out;
  net.to_torchscript().save(out);
  return out.str();
}

std::vector<ZipRecord> read_zip(const std::string& bytes) {
  const security::Archive archive = security::inspect_archive(bytes);
  std::vector<ZipRecord> out;
  for (const auto& e : archive.entries) {
    ZipRecord r;
    r.name = e.name;
    r.data = security::read_entry(bytes, e);
    r.deflate = e.method == 8;
    out.push_back(std::move(r));
  }
  return out;
}

std::string with_prefix(const std::string& prefix, const std::string& zip) {
  auto u16 = [](const std::string& b, std::size_t at) {
    return static_cast<uint32_t>(static_cast<unsigned char>(b[at])) |
           static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8;
  };
  auto u32 = [&](const std::string& b, std::size_t at) { return u16(b, at) | u16(b, at + 2) << 16; };
  auto put32 = [](std::string& b, std::size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  };
  std::string out = zip;
  const auto shift = static_cast<uint32_t>(prefix.size());
  const std::size_t eocd = out.size() - 22;
  const uint32_t entries = u16(out, eocd + 10), directory = u32(out, eocd + 16);
  std::size_t at = directory;
  for (uint32_t i = 0; i < entries; ++i) {
    put32(out, at + 42, u32(out, at + 42) + shift);
    at += 46 + u16(out, at + 28) + u16(out, at + 30) + u16(out, at + 32);
  }
  put32(out, eocd + 16, directory + shift);
  return prefix + out;
}

}  // namespace rampart::test
