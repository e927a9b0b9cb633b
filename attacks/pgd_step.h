#pragma once

// One PGD step on a fixed batch, the body that the CUDA-graph path captures (attacks::detail).

#include <ATen/core/Tensor.h>

#include "attacks/pgd.h"

namespace rampart::attacks::detail {

/// The fused projected update of `o` (Linf or L2), in place on x_adv.
void pgd_update_(at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad,
                 const PGDOptions& o);

/// The update for samples not in `frozen` [N] bool; frozen ones keep their iterate bit for bit.
void pgd_masked_update_(at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad,
                        const at::Tensor& frozen, const PGDOptions& o);

/// Forward, backward and the fused update, all in place on fixed tensors: x_adv [N, ...]
/// moves; with early stop, `frozen` [N] bool gains the samples this step's forward finds fooled
/// and those keep their iterate bit for bit. No host synchronization.
void pgd_step_in_place(models::Model& model, at::Tensor& x_adv, const at::Tensor& x,
                       const at::Tensor& labels, at::Tensor& frozen, const PGDOptions& o);

}  // namespace rampart::attacks::detail
