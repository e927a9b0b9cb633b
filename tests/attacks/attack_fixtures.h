#pragma once

#include <torch/torch.h>

#include <memory>

#include "attacks/attack.h"
#include "datasets/dataset.h"
#include "models/model.h"
#include "models/small_cnn.h"

namespace rampart::test {

/// A linear classifier z = W x + b in float32 (W seeded, b = 0). The minimal perturbation that
/// makes another class j beat the label y is (z_y - z_j) / ||w_y - w_j||_* (the dual norm: L1
/// for Linf, L2 for L2), when the box does not bind.
class LinearModel : public models::Model {
 public:
  explicit LinearModel(int64_t classes = 2, int64_t features = 64, uint64_t seed = 21);
  at::Tensor forward(const at::Tensor& x) override;
  bool is_training() const override { return false; }
  void set_training(bool) override {}
  std::vector<at::Tensor> parameters() override { return {w_, b_}; }
  std::string describe() const override { return "linear"; }
  /// Per point, the smallest perturbation (in `norm`) that changes the prediction from `y`.
  at::Tensor minimal_distance(const at::Tensor& x, const at::Tensor& y, attacks::Norm norm);

 private:
  at::Tensor w_, b_;
};

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
