#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "datasets/dataset.h"

namespace rampart::datasets {

/// Reads a NumPy `.npy` file (format versions 1.0, 2.0 and 3.0) into a CPU tensor.
///
/// Supported dtypes: `<f4` (float32), `<f8` (float64), `|u1` (uint8), `|i1` (int8),
/// `<i4` (int32), `<i8` (int64). The header is parsed strictly: a dict with exactly the keys
/// `descr`, `fortran_order` and `shape`. Fortran order, big-endian data, unknown dtypes,
/// truncated data and trailing bytes are rejected with a DataError naming the file.
///
/// Example:
///   at::Tensor x = read_npy("reports/fmnist/adv/pgd-linf-0.1.npy");  // float32 [N,1,28,28]
at::Tensor read_npy(const std::string& path);

/// Writes `t` as a version 1.0 `.npy` file (2.0 when the header needs it), C order, header
/// padded to 64 bytes as NumPy does, written atomically. Supported dtypes: float32, float64,
/// uint8, int8, int32, int64; other dtypes throw ConfigError. CUDA tensors are copied to the
/// CPU first.
///
/// Example:
///   write_npy("adv/fgsm-linf-0.1.npy", adversarial);  // np.load() reads it back
void write_npy(const std::string& path, const at::Tensor& t);

/// How a 4-D image array is laid out.
enum class Layout {
  kAuto,  ///< NHWC when the last dim is 1 or 3 and the second is not 1 or 3, else NCHW
  kNCHW,
  kNHWC,
};

/// Reads an image array and a label array saved with `np.save`.
///
/// Images: float32 in [0, 1] (float64 is accepted and converted) or uint8 (divided by 255);
/// 4-D NCHW or NHWC (see Layout) or 3-D [N, H, W] (one channel). Labels: 1-D int64, int32 or
/// uint8, each in [0, num_classes). Both arrays must hold the same number of points.
/// Returns images float32 [N, C, H, W] contiguous and labels int64 [N].
///
/// Example:
///   Dataset d = read_npy_dataset("x_test.npy", "y_test.npy", 10, Layout::kNHWC);
Dataset read_npy_dataset(const std::string& images_path, const std::string& labels_path,
                         int64_t num_classes, Layout layout = Layout::kAuto);

}  // namespace rampart::datasets
