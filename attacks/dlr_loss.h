#pragma once

#include <ATen/core/Tensor.h>

/// The Difference of Logits Ratio losses of Croce & Hein 2020 (section 3.2), per sample, as
/// fra31/auto-attack (autopgd_base.py) defines them; with z sorted so z_pi1 >= z_pi2 >= ...:
namespace rampart::attacks {

/// DLR(z, y) = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12): invariant to shifting and
/// scaling the logits. Needs at least 3 classes (ConfigError otherwise).
at::Tensor dlr_loss(const at::Tensor& logits, const at::Tensor& labels);

/// Targeted DLR(z, y, t) = -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12), climbed to move
/// the prediction from y to t. Needs at least 4 classes (ConfigError otherwise).
at::Tensor targeted_dlr_loss(const at::Tensor& logits, const at::Tensor& labels,
                             const at::Tensor& targets);

/// The k-th most likely class other than the label (k = 1: the runner-up), per sample, by
/// `logits`: APGD-T's and FAB-T's k-th target class. Excluding the label keeps the target
/// meaningful where the label is not the top class (a vote ensemble); where it is, this is the
/// reference's `logits.sort()[1][:, -(k + 1)]`.
at::Tensor kth_other_class(const at::Tensor& logits, const at::Tensor& labels, int64_t k);

}  // namespace rampart::attacks
