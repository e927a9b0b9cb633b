#pragma once

// PGD steps replayed from a CUDA graph (built only against a CUDA-enabled libtorch).

#include <ATen/core/Tensor.h>

#include "attacks/pgd.h"

namespace rampart::attacks::detail {

/// Runs the PGD steps of one batch with the step (forward, backward, fused update, early-stop
/// mask) captured once as a CUDA graph and replayed. The first steps run eagerly on the capture
/// stream as the warm-up that capture needs (they are real steps); then one capture, then one
/// replay per remaining step. x_adv, x, labels, frozen are the graph's fixed buffers: x_adv
/// and frozen are updated in place. With early stop, every `every` steps one host sync ends
/// the loop once every sample is fooled.
///
/// Returns the number of steps done: o.steps() on success (or once all are fooled); fewer when
/// the model could not be captured (e.g. it synchronizes with the host or uses an op that
/// cannot be captured): the reason is logged once per process and the caller goes on eagerly
/// from the returned step, with x_adv and frozen valid.
int64_t pgd_steps_cuda_graph(models::Model& model, at::Tensor& x_adv, const at::Tensor& x,
                             const at::Tensor& labels, at::Tensor& frozen, const PGDOptions& o,
                             int64_t every);

}  // namespace rampart::attacks::detail
