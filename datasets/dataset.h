#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::datasets {

/// A labelled image data set held in memory, as every reader returns it.
///
/// `images` is float32 [N, C, H, W] in [0, 1] and contiguous; `labels` is int64 [N] with
/// values in [0, num_classes). `source` says where the points came from (a path, a folder,
/// or "synthetic(...)"); `class_names` is filled by the image-folder reader (one name per
/// label, in label order) and empty for the other formats.
///
/// Example:
///   Dataset test = read_idx(images_path, labels_path).take(1000);
///   at::Tensor first = test.images[0];  // [1, 28, 28]
struct Dataset {
  at::Tensor images;
  at::Tensor labels;
  int64_t num_classes = 0;
  std::string source;
  std::vector<std::string> class_names;
  /// The root hash of the provenance manifest this data was checked against ("" when none).
  std::string manifest_root;
  /// Points left out by `data.exclude` (the flagged indices of a data audit) and its file;
  /// 0 and "" when nothing was excluded.
  int64_t excluded_points = 0;
  std::string exclusion_file;
  /// Points that took a new label by `data.relabel` (datasets/relabel_file.h) and its file; the
  /// points it leaves out count in excluded_points; the file's SHA-256. 0 and "" when none.
  int64_t relabelled_points = 0;
  std::string relabel_file, relabel_sha256;

  /// Number of points (0 when the data set holds no tensors).
  int64_t size() const;

  /// The first `limit` points (sharing storage with this one); `limit <= 0`, or a limit at
  /// least `size()`, means all of them.
  ///
  /// Example:
  ///   Dataset few = data.take(256);
  Dataset take(int64_t limit) const;

  /// The points from `offset` on (sharing storage); an offset at least `size()` gives none.
  ///
  /// Example:
  ///   Dataset held_out = train.skip(55000);  // the last 5000 of Fashion-MNIST's 60000
  Dataset skip(int64_t offset) const;
};

/// Checks that `labels` (an integer tensor) lies in [0, num_classes). Throws DataError naming
/// `file`, the index and the value of the first label outside that range, and ConfigError when
/// `num_classes` is not positive.
///
/// Example:
///   validate_labels(labels, 10, "/data/t10k-labels.gz");
void validate_labels(const at::Tensor& labels, int64_t num_classes, const std::string& file);

}  // namespace rampart::datasets
