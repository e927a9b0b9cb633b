#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "datasets/dataset.h"

namespace rampart::datasets {

/// The points a data audit flagged (`rampart audit-data`), read from its audit.json, or from
/// the folder holding one: int64 [F], sorted and unique, indices into `data` (as configured).
/// DataError (exit 4) naming the file when it is not an audit (a field missing or of the wrong
/// type), when an index is outside `data`, when the audit covered another number of points,
/// when both the audit and the data carry a manifest root and the roots differ, or when the
/// audit records its data's root (datasets::data_root; audits since 2026-12-05) and `data`'s
/// differs: the indices would name other points. `root`: `data`'s root when the caller has
/// already computed it (it costs a SHA-256 pass over the data), "" to compute it when needed.
at::Tensor read_exclusion(const std::string& path, const Dataset& data, const std::string& root = "");

/// `data` without the points at `indices` (sorted, unique), in order; records the count and
/// `file` in Dataset::excluded_points and exclusion_file. Throws DataError naming `file` when
/// `indices` would leave no point.
Dataset exclude_points(const Dataset& data, const at::Tensor& indices, const std::string& file);

}  // namespace rampart::datasets
