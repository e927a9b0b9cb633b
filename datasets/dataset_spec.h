#pragma once

#include <string>
#include <vector>

#include "core/config_node.h"
#include "datasets/dataset.h"

namespace rampart::datasets {

/// Where a data set comes from, as written in a config's `data:` section.
///
/// Example (YAML):
///   data: {format: idx, images: t10k-images-idx3-ubyte.gz, labels: t10k-labels-idx1-ubyte.gz,
///          limit: 1000, batch_size: 256}
struct DatasetSpec {
  std::string format = "idx";      ///< idx | cifar10 | npy | image_folder | synthetic
  std::string images;              ///< idx, npy
  std::string labels;              ///< idx, npy
  std::vector<std::string> files;  ///< cifar10 batch files
  std::string root;                ///< image_folder
  std::string layout = "auto";     ///< npy: auto | nchw | nhwc
  int64_t num_samples = 1024;      ///< synthetic
  uint64_t synthetic_seed = 0;     ///< synthetic: the task (class prototypes)
  uint64_t sample_seed = 0;        ///< synthetic: which points are drawn
  double noise = 0.2;              ///< synthetic: pixel noise std
  int64_t offset = 0;              ///< skip the first N points (then `limit` applies)
  int64_t limit = 0;               ///< first N points; 0 = all
  int64_t batch_size = 128;
  bool shuffle = true;                   ///< training data only
  std::vector<std::string> class_names;  ///< optional, one per class (reports)
  /// A provenance manifest (`rampart data manifest`) the data must match, point by point,
  /// after offset and limit; optionally with its Ed25519 signature and the signer's key.
  std::string manifest, manifest_signature, manifest_public_key;
  /// A data audit's audit.json (or the folder holding it): its `flagged` indices (into the data
  /// as configured) are left out, after offset, limit and the manifest check.
  std::string exclude;
  /// `relabel`: a relabelling of an audit's flagged points (`rampart data relabel`,
  /// datasets/relabel_file.h), applied after the manifest check; not together with `exclude`.
  std::string relabel;
  std::string key;                       ///< config path, for messages
  /// "file:line:column: data.offset" (and class_names): errors found when the data is read
  /// name where the value was given.
  std::string offset_where, class_names_where, format_where;
};

/// Default Fashion-MNIST location (Debian package `dataset-fashion-mnist`).
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Parses a data section (keys: format, images, labels, files, root, layout, num_samples,
/// seed, sample_seed, noise, offset, limit, batch_size, shuffle, class_names, manifest,
/// manifest_signature, manifest_public_key, exclude, relabel). Format-specific keys are required
/// per format; exclude and relabel exclude each other.
DatasetSpec parse_dataset_spec(const core::ConfigNode& node);

/// Refuses (ConfigError naming the key) `exclude` and `relabel` in a data section that is not
/// training data (`node`: that section; `role`: "validation data", "evaluated data", ...):
/// leaving out or relabelling points of data a model is measured on changes the measurement,
/// and a CI gate could be passed that way.
void refuse_sanitising(const core::ConfigNode& node, const DatasetSpec& spec, const std::string& role);

/// Reads the data set a spec names, with the model's class count and input shape
/// ([C, H, W]); points whose shape differs from `input_shape` are a DataError naming the
/// source. Applies `offset`, then `limit`, then checks the `manifest` when one is named (a
/// DataError naming the first differing point; Dataset::manifest_root records it), then leaves
/// out the points an `exclude` audit flagged (datasets/exclusion.h) or applies a `relabel` file
/// (datasets/relabel_file.h).
Dataset load_dataset(const DatasetSpec& spec, int64_t num_classes,
                     const std::vector<int64_t>& input_shape);

/// The files a spec reads (for provenance hashes); empty for synthetic data.
std::vector<std::string> dataset_files(const DatasetSpec& spec);

}  // namespace rampart::datasets
