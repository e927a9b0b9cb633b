#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace rampart::defenses::poisoning {

/// The exact two-means split of 1-D values: the cut that minimises the within-group sum of
/// squares over all N - 1 cuts of the sorted values (O(N log N)). Returns a bool [N] mask of the
/// points above the cut (all false when N < 2 or all values are equal).
at::Tensor two_means_1d(const at::Tensor& values);

/// Robust z-scores: (v - median) / (1.4826 MAD), the MAD scaled to the standard deviation of
/// normal data. Zero where the MAD is 0.
at::Tensor robust_z(const at::Tensor& values);

/// The per-class test across classes: each class's statistic (the separation of its best
/// two-cluster split) against the others', as the one-sided normal tail probability of its
/// robust z-score over all classes' statistics (median and MAD, which up to half of the
/// classes being poisoned do not move). A poisoned class stands out from the clean classes of
/// the same data set and model, whatever their own sub-structure; a data set in which most
/// classes are poisoned (all-to-all) is beyond this test.
std::vector<double> outlier_p_values(const std::vector<double>& statistics);

}  // namespace rampart::defenses::poisoning
