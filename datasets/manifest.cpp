#include "datasets/manifest.h"

#include <ATen/ATen.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/parallel_for.h"
#include "core/shape_text.h"
#include "core/version.h"
#include "security/signature.h"

namespace rampart::datasets {
namespace {

using nlohmann::json;
using Digest = std::array<unsigned char, 32>;

// SHA-256 over the parts, in order.
Digest sha256(std::initializer_list<std::pair<const void*, std::size_t>> parts) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Digest d{};
  unsigned int length = 0;
  const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
  for (const auto& [data, size] : parts) {
    if (ok) EVP_DigestUpdate(ctx, data, size);
  }
  if (ok) EVP_DigestFinal_ex(ctx, d.data(), &length);
  EVP_MD_CTX_free(ctx);
  if (!ok || length != d.size()) throw std::runtime_error("SHA-256 failed (OpenSSL)");
  return d;
}

std::string hex(const unsigned char* bytes, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

bool unhex(const std::string& text, Digest& out) {
  if (text.size() != 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    unsigned value = 0;
    for (int k = 0; k < 2; ++k) {
      const char c = text[2 * i + k];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return false;
      value = value * 16 + static_cast<unsigned>(d);
    }
    out[i] = static_cast<unsigned char>(value);
  }
  return true;
}

std::string file_sha256(const std::string& path, int64_t& bytes) {
  const std::string content = core::read_file(path);
  bytes = static_cast<int64_t>(content.size());
  const Digest d = sha256({{content.data(), content.size()}});
  return hex(d.data(), d.size());
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw DataError(path + ": not a Rampart data manifest: " + what);
}

}  // namespace

std::vector<std::string> point_digests(const Dataset& data) {
  const int64_t n = data.size();
  const at::Tensor images = data.images.to(at::kFloat).contiguous();
  const at::Tensor labels = data.labels.to(at::kLong).contiguous();
  const int64_t per_point = n == 0 ? 0 : images.numel() / n;
  const float* pixels = images.data_ptr<float>();
  const int64_t* label = labels.data_ptr<int64_t>();
  std::vector<std::string> out(static_cast<std::size_t>(n));
  at::parallel_for(0, n, 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      unsigned char le[8];
      const uint64_t value = static_cast<uint64_t>(label[i]);
      for (int b = 0; b < 8; ++b) le[b] = static_cast<unsigned char>(value >> (8 * b));
      const Digest d = sha256({{le, sizeof(le)},
                               {pixels + i * per_point, static_cast<std::size_t>(per_point) * sizeof(float)}});
      out[static_cast<std::size_t>(i)] = hex(d.data(), d.size());
    }
  });
  return out;
}

std::string manifest_root(const std::vector<std::string>& digests) {
  std::string joined;
  joined.reserve(digests.size() * 32);
  for (const auto& text : digests) {
    Digest d{};
    if (!unhex(text, d)) throw DataError("manifest: a point digest is not 64 hex digits: " + text);
    joined.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  const Digest root = sha256({{joined.data(), joined.size()}});
  return hex(root.data(), root.size());
}

std::string data_root(const Dataset& data) {
  return data.manifest_root.empty() ? manifest_root(point_digests(data)) : data.manifest_root;
}

DataManifest make_manifest(const Dataset& data, const std::vector<std::string>& files) {
  DataManifest m;
  m.source = data.source;
  for (const auto& path : files) {
    DataManifest::File f;
    f.path = path;
    f.sha256 = file_sha256(path, f.bytes);
    m.files.push_back(f);
  }
  m.num_classes = data.num_classes;
  for (int64_t d = 1; d < data.images.dim(); ++d) m.shape.push_back(data.images.size(d));
  const at::Tensor labels = data.labels.to(at::kLong).contiguous();
  m.labels.assign(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + labels.numel());
  m.label_histogram.assign(static_cast<std::size_t>(data.num_classes), 0);
  for (int64_t y : m.labels) ++m.label_histogram.at(static_cast<std::size_t>(y));
  m.digests = point_digests(data);
  m.root = manifest_root(m.digests);
  m.tool = std::string("rampart ") + kVersion;
  m.created_at = core::utc_now_iso8601();
  return m;
}

std::string manifest_json(const DataManifest& m) {
  json files = json::array();
  for (const auto& f : m.files) files.push_back({{"path", f.path}, {"sha256", f.sha256}, {"bytes", f.bytes}});
  const json j{{"schema", "rampart-data-manifest/1"},
               {"tool", m.tool},
               {"created_at", m.created_at},
               {"source", m.source},
               {"files", files},
               {"points", static_cast<int64_t>(m.digests.size())},
               {"num_classes", m.num_classes},
               {"shape", m.shape},
               {"label_histogram", m.label_histogram},
               {"point_digest", "sha256(label as int64 LE || image as float32 [C,H,W] LE)"},
               {"root", m.root},
               {"labels", m.labels},
               {"digests", m.digests}};
  return core::json_text(j, 1) + "\n";
}

namespace {

// The manifest in `text`, the bytes of `path` (read once by the caller).
DataManifest parse_manifest(const std::string& text, const std::string& path);

}  // namespace

DataManifest read_manifest(const std::string& path) { return parse_manifest(core::read_file(path), path); }

namespace {

DataManifest parse_manifest(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    bad(path, std::string("not JSON (") + e.what() + ")");
  }
  DataManifest m;
  int64_t points = -1;
  try {
    if (j.at("schema") != "rampart-data-manifest/1") bad(path, "unknown schema");
    m.source = j.at("source").get<std::string>();
    m.num_classes = j.at("num_classes").get<int64_t>();
    m.shape = j.at("shape").get<std::vector<int64_t>>();
    m.label_histogram = j.at("label_histogram").get<std::vector<int64_t>>();
    m.labels = j.at("labels").get<std::vector<int64_t>>();
    m.digests = j.at("digests").get<std::vector<std::string>>();
    m.root = j.at("root").get<std::string>();
    m.tool = j.at("tool").get<std::string>();
    m.created_at = j.at("created_at").get<std::string>();
    for (const auto& f : j.at("files")) {
      m.files.push_back({f.at("path").get<std::string>(), f.at("sha256").get<std::string>(),
                         f.at("bytes").get<int64_t>()});
    }
    points = j.at("points").get<int64_t>();
  } catch (const json::exception& e) {
    bad(path, std::string("a field is missing or malformed (") + e.what() + ")");
  }
  if (m.labels.size() != m.digests.size() || points != static_cast<int64_t>(m.digests.size())) {
    bad(path, "the point count, labels and digests disagree");
  }
  if (m.num_classes < 1 || static_cast<int64_t>(m.label_histogram.size()) != m.num_classes) {
    bad(path, "num_classes and label_histogram disagree");
  }
  std::vector<int64_t> histogram(m.label_histogram.size(), 0);
  for (int64_t y : m.labels) {
    if (y < 0 || y >= m.num_classes) bad(path, "a label is not one of its num_classes classes");
    ++histogram[static_cast<std::size_t>(y)];
  }
  if (histogram != m.label_histogram) bad(path, "label_histogram does not count its labels");
  if (m.shape.empty() || std::any_of(m.shape.begin(), m.shape.end(), [](int64_t d) { return d < 1; })) {
    bad(path, "shape is not a point shape");
  }
  for (std::size_t i = 0; i < m.digests.size(); ++i) {
    Digest d{};
    if (!unhex(m.digests[i], d)) {
      bad(path, "digests[" + std::to_string(i) + "] is not 64 lowercase hex digits");
    }
  }
  if (manifest_root(m.digests) != m.root) bad(path, "its root does not match its digests");
  return m;
}

}  // namespace

std::string verify_manifest(const Dataset& data, const std::string& path,
                            const std::string& signature, const std::string& public_key) {
  // One read: the bytes whose signature is checked are the bytes parsed (a file replaced in
  // between would otherwise be trusted unsigned).
  const std::string text = core::read_file(path);
  if (!signature.empty() && !security::ed25519_verifies(text, signature, public_key)) {
    throw DataError(path + ": the Ed25519 signature " + signature +
                    " does not verify with the public key " + public_key);
  }
  const DataManifest m = parse_manifest(text, path);
  // The digests cover a point's values, not its shape: the same values read as [1, 4, 16]
  // instead of [1, 8, 8] are other data.
  const std::vector<int64_t> shape(data.images.sizes().begin() + 1, data.images.sizes().end());
  if (shape != m.shape) {
    throw DataError(path + ": the points of " + data.source + " have shape " +
                    core::shape_text(shape) + ", the manifest's " + core::shape_text(m.shape));
  }
  const std::vector<std::string> digests = point_digests(data);
  const int64_t n = static_cast<int64_t>(digests.size());
  const int64_t expected = static_cast<int64_t>(m.digests.size());
  const at::Tensor labels = data.labels.to(at::kLong).contiguous();
  const int64_t* label = labels.data_ptr<int64_t>();
  const std::string counts = "the data has " + std::to_string(n) + " points, the manifest " +
                             std::to_string(expected);
  for (int64_t i = 0; i < std::min(n, expected); ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (digests[k] == m.digests[k]) continue;
    if (n > expected && (i + 1 >= n || digests[k + 1] == m.digests[k])) {
      throw DataError(path + ": point " + std::to_string(i) + " of " + data.source +
                      " was added (" + counts + ")");
    }
    if (n < expected && (i + 1 >= expected || digests[k] == m.digests[k + 1])) {
      throw DataError(path + ": point " + std::to_string(i) + " of the manifest was removed from " +
                      data.source + " (" + counts + ")");
    }
    if (label[i] != m.labels[k]) {
      throw DataError(path + ": point " + std::to_string(i) + " of " + data.source +
                      " has label " + std::to_string(label[i]) + ", the manifest says " +
                      std::to_string(m.labels[k]));
    }
    throw DataError(path + ": point " + std::to_string(i) + " of " + data.source +
                    " has a changed image (label " + std::to_string(label[i]) + ")" +
                    (n == expected ? "" : "; " + counts));
  }
  if (n != expected) {
    const int64_t i = std::min(n, expected);
    throw DataError(path + ": point " + std::to_string(i) + (n > expected ? " of " + data.source + " was added" : " of the manifest was removed from " + data.source) + " (" + counts + ")");
  }
  // Every digest matched, so the data's labels are the ones hashed; a labels[] entry that says
  // otherwise was edited after the manifest was written.
  for (int64_t i = 0; i < n; ++i) {
    if (label[i] != m.labels[static_cast<std::size_t>(i)]) {
      bad(path, "labels[" + std::to_string(i) + "] is " + std::to_string(m.labels[static_cast<std::size_t>(i)]) +
                    " but its digest is of label " + std::to_string(label[i]));
    }
  }
  return m.root;
}

}  // namespace rampart::datasets
