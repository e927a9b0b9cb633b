#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "datasets/dataset.h"

namespace rampart::datasets {

/// What to do with a data audit's flagged points instead of dropping them all
/// (`rampart data relabel`, schema rampart-data-relabel/1): the points that take another label,
/// the label they had and the one they take, and the points left out.
///
/// Example (a train config):
///   data: {format: npy, images: x.npy, labels: y.npy, relabel: runs/relabel.json}
struct Relabelling {
  at::Tensor indices;     ///< int64 [R]: the relabelled points, sorted
  at::Tensor from, to;    ///< int64 [R]: each one's label in the data, and its new label
  at::Tensor confidence;  ///< float32 [R]: the model's probability of `to`
  at::Tensor left_out;    ///< int64 [D]: the flagged points not relabelled, sorted
  int64_t points = 0;            ///< points of the data it was made for (as configured)
  std::string data_root;         ///< that data's root (datasets::data_root: its manifest's)
  std::string source;            ///< that data's reader description
  std::string audit;             ///< the audit whose flagged points it decides
  std::string model, model_sha256;  ///< the model that predicted the new labels
  double min_confidence = 0.0;
  std::string file_sha256;       ///< set by read_relabelling: SHA-256 of the file's bytes
};

/// The relabelling as JSON (with the tool version and the UTC time).
std::string relabelling_json(const Relabelling& r);

/// Reads the relabelling at `path` and checks it against `data` (as configured, before any
/// point is left out): DataError (exit 4) naming the file when it is not a relabelling (a field
/// missing or of the wrong type), when it was made for another number of points or other data
/// (another root: a changed image or label anywhere, checked against datasets::data_root), when
/// an index is outside the data or named twice, when a new label is not a class of the data, or
/// when a point's label in the data is not the `from` it was relabelled from.
Relabelling read_relabelling(const std::string& path, const Dataset& data);

/// `data` with the relabelled points' labels set to `to` and the left-out points removed;
/// records the counts, `file` and its SHA-256 in Dataset::relabelled_points / excluded_points,
/// relabel_file and relabel_sha256 (exclusion_file stays `data`'s: this is no data.exclude).
/// Throws DataError when every point would be left out.
Dataset apply_relabelling(const Dataset& data, const Relabelling& r, const std::string& file);

}  // namespace rampart::datasets
