#pragma once

#include <ATen/ATen.h>

namespace rampart::python {

/// Images from Python as float32 on the CPU: uint8 images are pixels, scaled by 1/255 as the
/// .npy reader scales them, so the same points give the same manifests, poisons, audits and
/// evaluations here as through the command line.
inline at::Tensor images_as_float(const at::Tensor& images) {
  const at::Tensor cpu = images.detach().to(at::kCPU);
  return cpu.scalar_type() == at::kByte ? cpu.to(at::kFloat).div_(255.0) : cpu.to(at::kFloat);
}

}  // namespace rampart::python
