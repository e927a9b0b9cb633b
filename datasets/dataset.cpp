#include "datasets/dataset.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/error.h"

namespace rampart::datasets {

int64_t Dataset::size() const { return labels.defined() ? labels.size(0) : 0; }

Dataset Dataset::take(int64_t limit) const {
  Dataset out = *this;
  if (limit <= 0 || limit >= size()) return out;
  out.images = images.slice(/*dim=*/0, 0, limit);
  out.labels = labels.slice(/*dim=*/0, 0, limit);
  return out;
}

Dataset Dataset::skip(int64_t offset) const {
  Dataset out = *this;
  if (offset <= 0) return out;
  const int64_t from = std::min(offset, size());
  out.images = images.slice(/*dim=*/0, from, size());
  out.labels = labels.slice(/*dim=*/0, from, size());
  return out;
}

void validate_labels(const at::Tensor& labels, int64_t num_classes, const std::string& file) {
  if (num_classes <= 0) {
    throw ConfigError(file + ": num_classes must be positive, got " + std::to_string(num_classes));
  }
  if (at::isFloatingType(labels.scalar_type()) || labels.scalar_type() == at::kBool) {
    throw DataError(file + ": labels must be integers, got " +
                    std::string(c10::toString(labels.scalar_type())));
  }
  const at::Tensor flat = labels.reshape({-1}).to(at::kCPU, at::kLong).contiguous();
  const int64_t* p = flat.data_ptr<int64_t>();
  const int64_t n = flat.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] < 0 || p[i] >= num_classes) {
      throw DataError(file + ": label " + std::to_string(p[i]) + " at index " + std::to_string(i) +
                      " is outside [0, " + std::to_string(num_classes) + ")");
    }
  }
}

}  // namespace rampart::datasets
