#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "defenses/poisoning/feature_geometry.h"

namespace rampart::defenses::poisoning {

/// The split's discriminant values oriented towards its suspect side (> 0 there), float64 [N].
at::Tensor towards_suspect(const FisherSplit& split, bool second_is_suspect);

/// The flagged points of a class judged poisoned, from its two-cluster split: the suspect side
/// (`split.second` when `second_is_suspect`, else the other), and the points beyond `tail_k`
/// robust standard deviations (1.4826 MAD) of the other side's discriminant values towards the
/// suspect side (poisons that the midpoint of the two means left on the clean side). bool [N].
at::Tensor flag_with_tail(const FisherSplit& split, bool second_is_suspect, double tail_k);

/// The flagged points, polished: Fisher's refinement restarted from them (`flagged`, bool [N]
/// over the rows of `reduced`), and the new split's side with its tail flagged instead, while
/// that changes the set, at most `rounds` times. A refinement stops at the first fixed point from
/// its start; the flagged set is one more start, judged like the others: a round is kept only
/// when its split is better separated than `separation` (the class's split, then the round
/// before), holds less than half of the rows, and keeps at least half of the points flagged
/// before (no drift to another cluster). Updates `flagged`; returns the rounds kept.
int64_t polish_flagged(const at::Tensor& reduced, at::Tensor& flagged, double separation,
                       int64_t rounds, double tail_k);

}  // namespace rampart::defenses::poisoning
