#pragma once

#include <ATen/core/Tensor.h>

namespace rampart::kernels {

/// The early-stop mask update, in place on `fooled` ([N] bool) from `logits` ([N, C]) and
/// `labels` ([N] int64), in one pass per sample:
///
///   fooled[i] |= targeted ? argmax(logits[i]) == labels[i] : argmax(logits[i]) != labels[i]
///
/// argmax as at::argmax: the first maximum, NaN counting as the largest value. float32
/// logits take the fused twins (CPU loop, CUDA thread per sample); other dtypes the ATen
/// reference.
///
/// Example:
///   kernels::update_fooled_(frozen, step.logits, labels, /*targeted=*/false);
void update_fooled_(at::Tensor& fooled, const at::Tensor& logits, const at::Tensor& labels,
                    bool targeted);

/// The same update as ATen ops (argmax, compare, or): the reference.
at::Tensor update_fooled_reference(const at::Tensor& fooled, const at::Tensor& logits,
                                   const at::Tensor& labels, bool targeted);

}  // namespace rampart::kernels
