#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "datasets/dataset.h"
#include "models/classifier.h"
#include "training/train_config.h"

namespace rampart::training {

/// What a finished run reports.
struct TrainResult {
  std::shared_ptr<models::Classifier> model;
  int64_t epochs_run = 0;       ///< epochs trained by this call (0 when already complete)
  double train_loss = 0.0;      ///< mean loss of the last epoch run
  double train_accuracy = 0.0;  ///< running accuracy of the last epoch run
  std::optional<double> validation_accuracy;  ///< after the last epoch, with validation data
  int64_t validation_size = 0;                ///< points in the validation data
  double seconds = 0.0;                       ///< wall time of this call
  std::string checkpoint;                     ///< path of the checkpoint written
  std::string torchscript;                    ///< path of the TorchScript export, if any
};

/// Hooks for callers and tests.
struct TrainOptions {
  bool resume = false;  ///< continue from `<output>/checkpoint.safetensors` when it exists
  /// Called after each optimizer step with (epoch, step), both 0-based.
  std::function<void(int64_t, int64_t)> on_step;
};

/// Standard (non-adversarial) training of a built-in model: seeded initialisation, seeded
/// per-epoch shuffling (a pure function of seed and epoch), SGD or Adam with a step or cosine
/// schedule, per-epoch validation accuracy, and an atomically written safetensors checkpoint
/// (weights + optimizer state) after every epoch. With `resume`, a run killed at any point
/// continues from the last completed epoch and ends with the same weights as an uninterrupted
/// run (CPU, same seed and threads).
///
/// Example:
///   auto config = training::parse_train_config(core::load_config("train.yaml"));
///   auto result = training::train(config, {});
TrainResult train(const TrainConfig& config, const TrainOptions& options);

/// Top-1 accuracy of `model` on `data` in eval mode, no gradients, in batches.
double accuracy(models::Classifier& model, const datasets::Dataset& data, int64_t batch_size,
                const c10::Device& device);

}  // namespace rampart::training
