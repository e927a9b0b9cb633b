// read_npy_dataset (declared in datasets/npy.h): image and label arrays saved with np.save.
#include <ATen/ATen.h>

#include "core/error.h"
#include "core/shape_text.h"
#include "datasets/npy.h"

namespace rampart::datasets {
namespace {

std::string shape_of(const at::Tensor& t) { return core::python_shape_text(t.sizes()); }

std::string dtype_of(const at::Tensor& t) { return std::string(c10::toString(t.scalar_type())); }

/// Throws naming the first value outside [0, 1] (NaN included) of a float tensor.
template <typename T>
void check_unit_range(const at::Tensor& x, const std::string& path) {
  const at::Tensor c = x.contiguous();
  const T* p = c.data_ptr<T>();
  const int64_t n = c.numel();
  const int64_t per_image = c.size(0) > 0 ? n / c.size(0) : 1;
  for (int64_t i = 0; i < n; ++i) {
    if (!(p[i] >= T(0) && p[i] <= T(1))) {
      throw DataError(path + ": float images must lie in [0, 1] but element " + std::to_string(i) +
                      " (image " + std::to_string(i / per_image) + ") is " + std::to_string(p[i]));
    }
  }
}

at::Tensor to_nchw(const at::Tensor& x, Layout layout, const std::string& path) {
  if (x.dim() == 3) return x.unsqueeze(1);
  if (x.dim() != 4) {
    throw DataError(path + ": images have shape " + shape_of(x) +
                    ", expected 3-D [N, H, W] or 4-D NCHW or NHWC");
  }
  if (layout == Layout::kAuto) {
    const auto is_channels = [](int64_t c) { return c == 1 || c == 3; };
    layout = is_channels(x.size(3)) && !is_channels(x.size(1)) ? Layout::kNHWC : Layout::kNCHW;
  }
  return layout == Layout::kNHWC ? x.permute({0, 3, 1, 2}) : x;
}

}  // namespace

Dataset read_npy_dataset(const std::string& images_path, const std::string& labels_path,
                         int64_t num_classes, Layout layout) {
  if (num_classes <= 0) {
    throw ConfigError("npy: num_classes must be positive, got " + std::to_string(num_classes));
  }
  at::Tensor x = read_npy(images_path);
  if (x.dim() < 1 || x.size(0) == 0) {
    throw DataError(images_path + ": holds no images (shape " + shape_of(x) + ")");
  }
  if (x.numel() == 0)
    throw DataError(images_path + ": images are empty (shape " + shape_of(x) + ")");
  if (x.scalar_type() == at::kByte) {
    x = x.to(at::kFloat).div_(255.0);
  } else if (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble) {
    if (x.scalar_type() == at::kDouble) {
      check_unit_range<double>(x, images_path);
      x = x.to(at::kFloat);
    } else {
      check_unit_range<float>(x, images_path);
    }
  } else {
    throw DataError(images_path + ": images must be float32 or uint8, got " + dtype_of(x));
  }
  x = to_nchw(x, layout, images_path).contiguous();

  at::Tensor y = read_npy(labels_path);
  const auto t = y.scalar_type();
  if (t != at::kLong && t != at::kInt && t != at::kByte) {
    throw DataError(labels_path + ": labels must be int64, int32 or uint8, got " + dtype_of(y));
  }
  if (y.dim() != 1) {
    throw DataError(labels_path + ": labels have shape " + shape_of(y) + ", expected 1-D [N]");
  }
  if (y.size(0) != x.size(0)) {
    throw DataError(labels_path + ": holds " + std::to_string(y.size(0)) + " labels but " +
                    images_path + " holds " + std::to_string(x.size(0)) + " images");
  }
  y = y.to(at::kLong).contiguous();
  validate_labels(y, num_classes, labels_path);

  Dataset out;
  out.images = x;
  out.labels = y;
  out.num_classes = num_classes;
  out.source = images_path;
  return out;
}

}  // namespace rampart::datasets
