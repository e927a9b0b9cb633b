#pragma once

// A per-sample vector [N] shaped to broadcast against a batch [N, ...] (kernels::detail).

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rampart::kernels::detail {

/// [N] -> [N, 1, ...] against `like`.
inline at::Tensor per_sample(const at::Tensor& v, const at::Tensor& like) {
  std::vector<int64_t> shape(static_cast<std::size_t>(like.dim()), 1);
  shape[0] = like.size(0);
  return v.reshape(shape);
}

}  // namespace rampart::kernels::detail
