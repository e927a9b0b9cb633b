#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>

/// Pre-aggregation steps over worker vectors x ([n, d]), applied before a robust rule, as ByzFL
/// (byzfl/aggregators/preaggregators.py) defines them. Each returns the transformed vectors.
namespace rampart::defenses::aggregation {

/// Static clipping: x_i <- x_i * min(1, c / |x_i|).
at::Tensor static_clip(const at::Tensor& x, double c);

/// Adaptive robust clipping (ARC, Allouah et al. 2024): the k = floor(2 (f / n) (n - f))
/// largest-norm vectors are clipped to the largest norm among the others.
at::Tensor adaptive_clip(const at::Tensor& x, int64_t f);

/// Nearest-neighbour mixing (NNM, Allouah et al. 2023): x_i <- the mean of the n - f vectors
/// nearest to x_i, itself included (Euclidean).
at::Tensor nearest_neighbour_mixing(const at::Tensor& x, int64_t f);

/// Bucketing (Karimireddy, He & Jaggi 2022): the workers in a random order, then the mean of
/// each consecutive bucket of s (the last bucket may be smaller). Returns ceil(n / s) rows.
at::Tensor bucketing(const at::Tensor& x, int64_t s, at::Generator generator);

}  // namespace rampart::defenses::aggregation
