#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "datasets/dataset.h"

namespace rampart::datasets {

/// The points a data audit flagged (`rampart audit-data`), read from its audit.json, or from
/// the folder holding one: int64 [F], sorted and unique. DataError (exit 4) naming the file
/// when it is not an audit, when an index is outside [0, points), when the audit covered
/// another number of points than `points`, or when both the audit and the data carry a
/// manifest root and the roots differ (the indices would name other points).
at::Tensor read_exclusion(const std::string& path, int64_t points, const std::string& manifest_root);

/// `data` without the points at `indices` (sorted, unique), in order; records the count and
/// `file` in Dataset::excluded_points and exclusion_file.
Dataset exclude_points(const Dataset& data, const at::Tensor& indices, const std::string& file);

}  // namespace rampart::datasets
