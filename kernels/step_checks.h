#pragma once

// Argument checks shared by the fused attack updates (kernels::detail).

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

namespace rampart::kernels::detail {

/// x_adv, x and grad must agree in shape, dtype and device.
inline void check_step_inputs(const at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad,
                              const char* op) {
  TORCH_CHECK(x_adv.sizes() == x.sizes() && x.sizes() == grad.sizes(), op,
              ": x_adv, x and grad must have one shape, got ", x_adv.sizes(), ", ", x.sizes(),
              " and ", grad.sizes());
  TORCH_CHECK(x_adv.scalar_type() == x.scalar_type() && x.scalar_type() == grad.scalar_type(), op,
              ": x_adv, x and grad must have one dtype");
  TORCH_CHECK(x_adv.device() == x.device() && x.device() == grad.device(), op,
              ": x_adv, x and grad must be on one device, got ", x_adv.device(), ", ", x.device(),
              " and ", grad.device());
}

}  // namespace rampart::kernels::detail
