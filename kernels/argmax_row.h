#pragma once

// The index of a row's maximum as at::argmax picks it (the first maximum; NaN counts as the
// largest value, its first occurrence wins), shared by the CPU and CUDA twins of
// update_fooled_. Plain C++ so nvcc and the host compiler both take it.

#include <cstdint>

#include "kernels/host_device.h"

namespace rampart::kernels {

RAMPART_HOST_DEVICE inline int64_t argmax_row(const float* row, int64_t classes) {
  int64_t best = 0;
  float value = row[0];
  for (int64_t j = 1; j < classes && value == value; ++j) {  // value != value: NaN, done
    const float v = row[j];
    if (v != v || v > value) {
      best = j;
      value = v;
    }
  }
  return best;
}

}  // namespace rampart::kernels
