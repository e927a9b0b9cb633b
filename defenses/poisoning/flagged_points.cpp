// Which points of a poisoned class are flagged. The polish exists for a measured case: on 1%
// BadNets seed 5 (a CPU-trained small CNN, docs/poisoning.md) the spectral split of the target
// held 551 of the 600 poisons at separation 15.5; restarted from its 583 flagged points (side and
// tail) it ends at 18.1 with all 600. On synthetic layers a restart that ended below the class's
// split lost poisons (96.7% -> 91.7%), hence the separation bar.
#include "defenses/poisoning/flagged_points.h"

#include <ATen/ATen.h>

namespace rampart::defenses::poisoning {

at::Tensor towards_suspect(const FisherSplit& split, bool second_is_suspect) {
  return second_is_suspect ? split.discriminant : -split.discriminant;
}

at::Tensor flag_with_tail(const FisherSplit& split, bool second_is_suspect, double tail_k) {
  const at::Tensor towards = towards_suspect(split, second_is_suspect);
  const at::Tensor suspect = second_is_suspect ? split.second : split.second.logical_not();
  const at::Tensor clean = towards.index({suspect.logical_not()});
  at::Tensor out = suspect.clone();
  if (clean.numel() >= 2) {
    const double median = std::get<0>(clean.median(0)).item<double>();
    const double mad = std::get<0>((clean - median).abs().median(0)).item<double>() * 1.4826;
    out = out | (towards > median + tail_k * mad);
  }
  return out;
}

int64_t polish_flagged(const at::Tensor& reduced, at::Tensor& flagged, double separation,
                       int64_t rounds, double tail_k) {
  int64_t kept = 0;
  for (int64_t round = 0; round < rounds; ++round) {
    const FisherSplit split = fisher_split(reduced, flagged);
    if (2 * split.second.sum().item<int64_t>() >= reduced.size(0) || split.separation <= separation) break;
    const at::Tensor next = flag_with_tail(split, true, tail_k);
    if (2 * (next & flagged).sum().item<int64_t>() < flagged.sum().item<int64_t>()) break;
    if (next.equal(flagged)) break;
    separation = split.separation;
    flagged = next;
    ++kept;
  }
  return kept;
}

}  // namespace rampart::defenses::poisoning
