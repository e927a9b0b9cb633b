#pragma once

#include <torch/torch.h>

#include <memory>

#include "datasets/dataset.h"
#include "models/model.h"
#include "models/small_cnn.h"

namespace rampart::test {

/// An untrained small CNN for 1x28x28 inputs (seeded), as a Model.
std::shared_ptr<models::SmallCNN> random_cnn(uint64_t seed);

/// The model's own predictions for `x`, used as labels so that every point starts correctly
/// classified and an attack's success is never trivial.
at::Tensor predicted_labels(models::Classifier& net, const at::Tensor& x);

/// The small CNN trained briefly on Fashion-MNIST (the quickstart recipe for one epoch, about
/// 88% test accuracy), trained once and cached in the build folder. nullptr (after the fixture
/// rules of support/fixtures.h) when Fashion-MNIST is not installed.
std::shared_ptr<models::SmallCNN> trained_fmnist_cnn();

/// The safetensors checkpoint behind trained_fmnist_cnn() ("" when skipped, as above).
std::string trained_fmnist_checkpoint();

/// The first `n` Fashion-MNIST test points.
datasets::Dataset fmnist_test(int64_t n);

/// The points of `data` the model classifies correctly (what the harness attacks).
datasets::Dataset clean_correct(models::Model& model, const datasets::Dataset& data);

}  // namespace rampart::test
