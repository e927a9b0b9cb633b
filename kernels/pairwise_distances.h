#pragma once

#include <ATen/core/Tensor.h>

namespace rampart::kernels {

/// Squared Euclidean distances between the rows of x ([n, d]): float64 [n, n], zero diagonal.
/// float32 on the CPU takes the fused twin: one pass over blocks of coordinates, each block's
/// differences squared and summed in float32 (vectorized) and accumulated per block in float64,
/// so no cancellation of |a|^2 + |b|^2 - 2 a.b. float32 CUDA tensors with at most 256 rows take
/// the CUDA twin in CUDA builds (float64 accumulation, one block per pair and slab). Other dtypes
/// and devices: float64 row differences.
///
/// Example:
///   const at::Tensor d2 = kernels::pairwise_sq_distances(updates);  // Krum, NNM
at::Tensor pairwise_sq_distances(const at::Tensor& x);

/// The same from ATen ops (row differences, in float64): the reference.
at::Tensor pairwise_sq_distances_reference(const at::Tensor& x);

}  // namespace rampart::kernels
