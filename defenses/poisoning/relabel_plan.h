#pragma once

#include <ATen/core/Tensor.h>

#include "datasets/relabel_file.h"

namespace rampart::defenses::poisoning {

/// Decides each point a data audit flagged, from the logits of a model trained without them
/// (the sanitised model of `data.exclude`), instead of dropping them all: a point takes the
/// model's class when that differs from the label it was flagged under and the model's softmax
/// probability of it is at least `min_confidence`; every other flagged point is left out. A
/// backdoor's poisons are images of other classes, so the sanitised model, which never saw
/// the trigger, mostly names their true class; a flagged point the model puts in its given
/// class is never kept under that label (a model that learned the backdoor would put its
/// poisons there: they are left out, not relabelled to the target).
///
/// `flagged` int64 [F] (indices into the data), `labels` int64 [F] (their labels in the data),
/// `logits` [F, C]. Fills indices, from, to, confidence, left_out and min_confidence; the
/// caller fills the provenance fields. Throws std::invalid_argument when the shapes disagree,
/// `min_confidence` is outside [0, 1], an index is negative or repeated, or a label is not one
/// of the logits' classes; DataError (exit 4) when a flagged point's logits are not finite.
///
/// Example:
///   auto plan = plan_relabelling(flagged, data.labels.index_select(0, flagged), logits, 0.0);
datasets::Relabelling plan_relabelling(const at::Tensor& flagged, const at::Tensor& labels,
                                       const at::Tensor& logits, double min_confidence);

}  // namespace rampart::defenses::poisoning
