#pragma once

#include <torch/arg.h>

#include <cstdint>

#include "datasets/dataset.h"

namespace rampart::datasets {

/// Options for make_synthetic.
///
/// Example:
///   auto options = SyntheticOptions().num_samples(2000).channels(3).height(32).width(32);
struct SyntheticOptions {
  TORCH_ARG(int64_t, num_samples) = 1000;
  TORCH_ARG(int64_t, channels) = 1;
  TORCH_ARG(int64_t, height) = 28;
  TORCH_ARG(int64_t, width) = 28;
  TORCH_ARG(int64_t, num_classes) = 10;
  /// Seeds the class prototypes (what is to be learned).
  TORCH_ARG(uint64_t, seed) = 0;
  /// Seeds the labels and the noise (which points are drawn). Use the same `seed` and
  /// different `sample_seed`s for a training and a test set of the same task.
  TORCH_ARG(uint64_t, sample_seed) = 0;
  /// Standard deviation of the Gaussian pixel noise added to each class prototype.
  TORCH_ARG(double, noise) = 0.2;
};

/// Throws ConfigError when `options` cannot be used (non-positive sizes or class count,
/// negative or non-finite noise, more than 2^32 values in all).
void validate(const SyntheticOptions& options);

/// A learnable synthetic classification set for tests, demos and benchmarks.
///
/// Each class has a fixed random prototype image: a coarse grid of cells (about 7 x 7 per
/// image) with uniform values in [0.15, 0.85]. A point is its class prototype plus Gaussian
/// noise of standard deviation `noise`, clamped to [0, 1]. Classes are balanced (point i has
/// class i mod num_classes before a seeded shuffle). Everything is drawn from SplitMix64
/// streams derived from `seed`, so the result depends only on the options: not on the
/// thread count, the platform's standard library or the libtorch version. A small CNN (or
/// even a linear classifier) learns it to well above 90% accuracy in a few epochs.
///
/// Example:
///   Dataset train = make_synthetic(SyntheticOptions().num_samples(5000).seed(1));
///   Dataset test = make_synthetic(SyntheticOptions().num_samples(1000).seed(1).sample_seed(1));
Dataset make_synthetic(const SyntheticOptions& options = SyntheticOptions());

}  // namespace rampart::datasets
