#pragma once

#include <cstdint>
#include <string>

#include "datasets/dataset.h"

namespace rampart::datasets {

/// Reads an IDX image/label file pair (the MNIST and Fashion-MNIST format), gzip-compressed
/// (detected by the 1f 8b magic) or raw.
///
/// The images file must hold magic 0x00000803 (unsigned bytes, 3 dimensions N x H x W), the
/// labels file magic 0x00000801 (N labels). Dimensions must be non-zero, the data must match
/// the header exactly (no truncation, no trailing bytes), both files must hold the same
/// number of points and every label must lie in [0, num_classes). Decompression stops at the
/// size the header declares, so a gzip bomb cannot exhaust memory.
/// Returns images float32 [N, 1, H, W] (pixel / 255) and labels int64 [N].
/// Throws DataError naming the file and the problem.
///
/// Example:
///   Dataset test = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
///                           "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
/// With `expected_shape` ([C, H, W], e.g. model.input.shape) a file of other images is refused
/// from its header, before its payload is read.
Dataset read_idx(const std::string& images_path, const std::string& labels_path,
                 int64_t num_classes = 10, const std::vector<int64_t>& expected_shape = {});

/// Largest decompressed IDX payload accepted (8 GiB): headers claiming more are rejected
/// before anything is allocated.
constexpr uint64_t kMaxIdxPayloadBytes = uint64_t{8} << 30;

}  // namespace rampart::datasets
