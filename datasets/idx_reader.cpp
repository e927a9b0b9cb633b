#include "datasets/idx_reader.h"

#include <ATen/ATen.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/shape_text.h"

namespace rampart::datasets {
namespace {

constexpr std::size_t kChunk = std::size_t{4} << 20;
constexpr uint64_t kMaxFileBytes = kMaxIdxPayloadBytes + (uint64_t{1} << 20);

std::string hex(uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, v);
  return buf;
}
std::string hex32(uint32_t v) { return hex(v, 8); }

/// The bytes of one IDX file: raw, or inflated on demand from gzip members so that no more is
/// ever decompressed than the caller asks for.
class IdxStream {
 public:
  explicit IdxStream(const std::string& path)
      : path_(path), file_(core::read_file(path, kMaxFileBytes)) {
    gzip_ = file_.size() >= 2 && static_cast<unsigned char>(file_[0]) == 0x1f &&
            static_cast<unsigned char>(file_[1]) == 0x8b;
    if (gzip_) {
      std::memset(&z_, 0, sizeof z_);
      if (inflateInit2(&z_, 15 + 16) != Z_OK) throw DataError(path_ + ": cannot start zlib");
      z_.next_in = reinterpret_cast<Bytef*>(file_.data());
      z_.avail_in = 0;
      z_open_ = true;
    }
  }
  ~IdxStream() {
    if (z_open_) inflateEnd(&z_);
  }
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;

  bool gzip() const { return gzip_; }
  /// True once a gzip stream was found to end early (its end and checksum are missing).
  bool truncated() const { return truncated_; }

  /// Copies up to `n` bytes into `dst`; returns fewer only at the end of the data.
  std::size_t read(unsigned char* dst, std::size_t n) {
    if (!gzip_) {
      const std::size_t got = std::min(n, file_.size() - pos_);
      std::memcpy(dst, file_.data() + pos_, got);
      pos_ += got;
      return got;
    }
    std::size_t got = 0;
    while (got < n && !ended_) {
      if (z_.avail_in == 0) {
        const std::size_t left = file_.size() - pos_;
        const std::size_t take = std::min<std::size_t>(left, 1u << 30);
        z_.next_in = reinterpret_cast<Bytef*>(file_.data() + pos_);
        z_.avail_in = static_cast<uInt>(take);
        pos_ += take;
      }
      const std::size_t want = std::min<std::size_t>(n - got, 1u << 30);
      z_.next_out = dst + got;
      z_.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&z_, Z_NO_FLUSH);
      got += want - z_.avail_out;
      if (rc == Z_STREAM_END) {
        next_member();
      } else if (rc == Z_BUF_ERROR && z_.avail_in == 0 && pos_ == file_.size()) {
        truncated_ = true;  // the compressed data ends before the gzip stream does
        ended_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw DataError(path_ + ": corrupt gzip data (" + (z_.msg ? z_.msg : "zlib error") + ")");
      }
    }
    return got;
  }

  /// Counts the bytes left, reading at most `cap` of them.
  uint64_t count_rest(uint64_t cap) {
    std::vector<unsigned char> sink(std::min<uint64_t>(cap, kChunk));
    uint64_t total = 0;
    while (total < cap) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<uint64_t>(cap - total, sink.size()));
      const std::size_t got = read(sink.data(), want);
      total += got;
      if (got < want) break;
    }
    return total;
  }

 private:
  // After one gzip member: another may follow (as `cat a.gz b.gz` makes); anything else is
  // garbage.
  void next_member() {
    const std::size_t left = z_.avail_in + (file_.size() - pos_);
    if (left == 0) {
      ended_ = true;
      return;
    }
    const std::size_t at = pos_ - z_.avail_in;  // first byte after the member
    if (left < 2 || static_cast<unsigned char>(file_[at]) != 0x1f ||
        static_cast<unsigned char>(file_[at + 1]) != 0x8b) {
      throw DataError(path_ + ": " + std::to_string(left) +
                      " bytes of data that is not gzip follow the gzip stream");
    }
    inflateReset(&z_);
  }

  std::string path_;
  std::string file_;
  std::size_t pos_ = 0;
  bool gzip_ = false;
  bool ended_ = false;
  bool truncated_ = false;
  bool z_open_ = false;
  z_stream z_;
};

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

/// Reads the magic and the dimensions; checks the type byte, the rank and the sizes.
std::vector<uint64_t> read_header(IdxStream& in, const std::string& path, int rank,
                                  const char* what) {
  const uint32_t expected_magic = 0x800u | static_cast<uint32_t>(rank);
  std::array<unsigned char, 4> m{};
  if (in.read(m.data(), 4) < 4) {
    throw DataError(path + ": file is too short to hold an IDX header" +
                    std::string(in.truncated() ? " (the gzip stream is truncated)" : ""));
  }
  const uint32_t magic = be32(m.data());
  if (m[0] != 0 || m[1] != 0) {
    throw DataError(path + ": not an IDX file (magic " + hex32(magic) + ", expected " +
                    hex32(expected_magic) + " for IDX " + what + ")");
  }
  if (m[2] != 0x08) {
    throw DataError(path + ": IDX data type " + hex(m[2], 2) + " is not supported (magic " +
                    hex32(magic) + "); expected unsigned bytes (" + hex32(expected_magic) + ")");
  }
  if (m[3] != rank) {
    throw DataError(path + ": IDX " + what + " file must have " + std::to_string(rank) +
                    " dimension" + (rank == 1 ? "" : "s") + " but the header says " +
                    std::to_string(m[3]) + " (magic " + hex32(magic) + ", expected " +
                    hex32(expected_magic) + ")");
  }
  std::vector<uint64_t> dims(static_cast<std::size_t>(rank));
  uint64_t product = 1;
  for (int d = 0; d < rank; ++d) {
    std::array<unsigned char, 4> b{};
    if (in.read(b.data(), 4) < 4) {
      throw DataError(path + ": file ends inside the IDX header (dimension " + std::to_string(d) +
                      " missing)" + (in.truncated() ? " (the gzip stream is truncated)" : ""));
    }
    dims[d] = be32(b.data());
    if (dims[d] == 0) {
      throw DataError(path + ": IDX header dimension " + std::to_string(d) + " is 0");
    }
    if (product > kMaxIdxPayloadBytes / dims[d]) {
      throw DataError(path + ": IDX header dimensions declare more than the " +
                      std::to_string(kMaxIdxPayloadBytes >> 30) + " GiB limit of data");
    }
    product *= dims[d];
  }
  return dims;
}

/// Reads exactly `bytes` payload bytes, growing the buffer only as data actually arrives.
std::vector<unsigned char> read_payload(IdxStream& in, uint64_t bytes) {
  std::vector<unsigned char> out;
  std::size_t got = 0;
  while (got < bytes) {
    const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(bytes - got, kChunk));
    if (out.capacity() < got + want) {
      out.reserve(static_cast<std::size_t>(
          std::min<uint64_t>(bytes, std::max<uint64_t>(2 * out.capacity(), got + want))));
    }
    out.resize(got + want);
    const std::size_t n = in.read(out.data() + got, want);
    got += n;
    if (n < want) break;
  }
  out.resize(got);
  return out;
}

std::string truncation_note(const IdxStream& in) {
  return in.truncated() ? " (the gzip stream is truncated)" : "";
}

void check_no_trailing(IdxStream& in, const std::string& path, uint64_t count, const char* what) {
  constexpr uint64_t kCap = uint64_t{64} << 20;
  const uint64_t extra = in.count_rest(kCap);
  if (in.truncated()) {
    throw DataError(path + ": the gzip stream is truncated after the " + std::to_string(count) +
                    " " + what + " (its end and checksum are missing)");
  }
  if (extra > 0) {
    throw DataError(path + ": " + (extra >= kCap ? "more than " : "") + std::to_string(extra) +
                    " trailing byte" + (extra == 1 ? "" : "s") + " after the " +
                    std::to_string(count) + " " + what + " the header declares");
  }
}

}  // namespace

Dataset read_idx(const std::string& images_path, const std::string& labels_path,
                 int64_t num_classes, const std::vector<int64_t>& expected_shape) {
  if (num_classes <= 0) {
    throw ConfigError("idx: num_classes must be positive, got " + std::to_string(num_classes));
  }
  // Both headers first: a point count or image size that cannot be used is refused before a
  // payload of up to 8 GiB (from a small gzip file) is inflated and converted.
  IdxStream img(images_path);
  const std::vector<uint64_t> d = read_header(img, images_path, 3, "images");
  IdxStream lab(labels_path);
  const std::vector<uint64_t> n = read_header(lab, labels_path, 1, "labels");
  if (n[0] != d[0]) {
    throw DataError(labels_path + ": holds " + std::to_string(n[0]) + " labels but " + images_path +
                    " holds " + std::to_string(d[0]) + " images");
  }
  const std::vector<int64_t> shape{1, static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2])};
  if (!expected_shape.empty() && shape != expected_shape) {
    throw DataError(images_path + ": points have shape " + core::shape_text(shape) +
                    " but model.input.shape is " + core::shape_text(expected_shape));
  }
  // Images.
  const uint64_t per_image = d[1] * d[2];
  std::vector<unsigned char> pixels = read_payload(img, d[0] * per_image);
  if (pixels.size() < d[0] * per_image) {
    const uint64_t full = pixels.size() / per_image;
    throw DataError(images_path + ": header says " + std::to_string(d[0]) + " images of " +
                    std::to_string(d[1]) + "x" + std::to_string(d[2]) + " but the " +
                    (img.gzip() ? "decompressed data" : "file") + " holds " + std::to_string(full) +
                    (pixels.size() % per_image ? " and a partial one" : "") + " (" +
                    std::to_string(d[0] * per_image - pixels.size()) + " bytes short)" +
                    truncation_note(img));
  }
  check_no_trailing(img, images_path, d[0], "images");

  // Labels.
  std::vector<unsigned char> label_bytes = read_payload(lab, n[0]);
  if (label_bytes.size() < n[0]) {
    throw DataError(labels_path + ": header says " + std::to_string(n[0]) + " labels but the " +
                    (lab.gzip() ? "decompressed data" : "file") + " holds " +
                    std::to_string(label_bytes.size()) + truncation_note(lab));
  }
  check_no_trailing(lab, labels_path, n[0], "labels");

  const auto count = static_cast<int64_t>(d[0]);
  at::Tensor labels =
      at::from_blob(label_bytes.data(), {count}, at::kByte).to(at::kLong);  // copies
  validate_labels(labels, num_classes, labels_path);

  Dataset out;
  out.images =
      at::from_blob(pixels.data(),
                    {count, 1, static_cast<int64_t>(d[1]), static_cast<int64_t>(d[2])}, at::kByte)
          .to(at::kFloat)
          .div_(255.0)
          .contiguous();
  out.labels = labels.contiguous();
  out.num_classes = num_classes;
  out.source = images_path;
  return out;
}

}  // namespace rampart::datasets
