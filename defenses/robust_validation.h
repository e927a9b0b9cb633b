#pragma once

#include "attacks/pgd.h"
#include "datasets/dataset.h"
#include "models/classifier.h"

namespace rampart::defenses {

/// Robust accuracy of `model` on `points` of `data` spread evenly over it (0 = all) under `attack`, in
/// batches of `batch_size` on `device`: the fraction of points classified correctly both clean
/// and under attack. The per-epoch score of adversarial training.
double robust_accuracy(models::Classifier& model, const datasets::Dataset& data,
                       const attacks::PGDOptions& attack, int64_t points, int64_t batch_size,
                       const c10::Device& device);

}  // namespace rampart::defenses
