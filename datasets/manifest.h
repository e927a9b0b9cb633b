#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace rampart::datasets {

/// A provenance manifest: exactly which points a data set holds, as configured (after
/// `offset` and `limit`). Each point's digest is SHA-256 over its label (int64, little endian)
/// followed by its image as the reader decoded it (float32 [C, H, W], little endian), so the
/// digest does not depend on the file format. The root is SHA-256 over the points' digests
/// (32 bytes each) in order.
///
/// Example:
///   DataManifest m = make_manifest(data, files);
///   core::write_file_atomic("train.manifest.json", manifest_json(m));
struct DataManifest {
  std::string source;  ///< Dataset::source
  struct File {
    std::string path, sha256;
    int64_t bytes = 0;
  };
  std::vector<File> files;  ///< the files the reader read, hashed
  int64_t num_classes = 0;
  std::vector<int64_t> shape;            ///< [C, H, W]
  std::vector<int64_t> label_histogram;  ///< points per class
  std::vector<int64_t> labels;           ///< per point
  std::vector<std::string> digests;      ///< per point, 64 hex digits
  std::string root;                      ///< 64 hex digits
  std::string tool;                      ///< "rampart <version>"
  std::string created_at;                ///< UTC, ISO 8601
};

/// The per-point digests of `data` (64 hex digits each), computed in parallel.
std::vector<std::string> point_digests(const Dataset& data);

/// The root over per-point digests (hex), as DataManifest::root defines it.
std::string manifest_root(const std::vector<std::string>& digests);

/// The root `rampart data manifest` would record for `data`: its manifest root when it was
/// checked against a manifest, otherwise computed from its points (ties a file of indices,
/// such as a relabelling, to the exact data it was made for).
std::string data_root(const Dataset& data);

/// The manifest of `data`, with the SHA-256 and size of each of `files`.
DataManifest make_manifest(const Dataset& data, const std::vector<std::string>& files);

/// The manifest as JSON text (schema "rampart-data-manifest/1").
std::string manifest_json(const DataManifest& manifest);

/// Reads a manifest file. Throws DataError naming `path` when it is not one (unreadable, not
/// JSON, a missing or malformed field, or a root that does not match its digests).
DataManifest read_manifest(const std::string& path);

/// Checks `data` against the manifest in `path`: the same number of points with the same
/// digests, in order. With `signature` (and `public_key`), the manifest file's bytes must
/// carry a valid Ed25519 signature first. Throws DataError (exit 4) naming the manifest and the
/// first differing point: a changed image, a changed label (with both values), a point added
/// or removed. Returns the manifest's root.
std::string verify_manifest(const Dataset& data, const std::string& path,
                            const std::string& signature = "", const std::string& public_key = "");

}  // namespace rampart::datasets
