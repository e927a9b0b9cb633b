#pragma once

// The ATen side of the CUDA twins: device guard, current stream, launch check. Compiled only
// against a CUDA-enabled libtorch (RAMPART_WITH_CUDA); `out`, `x`, `g` are contiguous float32
// CUDA tensors on one device.

#include <ATen/core/Tensor.h>

namespace rampart::kernels::cuda {

void linf_step_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& g, float alpha,
                    float eps, float lo, float hi);

void l2_step_cuda(at::Tensor& out, const at::Tensor& x, const at::Tensor& g, float alpha, float eps,
                  float lo, float hi);

}  // namespace rampart::kernels::cuda
