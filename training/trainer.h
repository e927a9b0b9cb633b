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
  /// Root hash of the provenance manifest the training data matched (data.manifest; "" when
  /// none), before any shard or exclusion.
  std::string data_manifest_root;
  /// Points of the training data left out by `data.exclude` (or by `data.relabel`), and the
  /// file named there.
  int64_t excluded_points = 0;
  std::string exclusion_file;
  /// Points that took a new label by `data.relabel`, its file and the file's SHA-256.
  int64_t relabelled_points = 0;
  std::string relabel_file, relabel_sha256;
  /// The root (datasets/manifest.h) of exactly the points trained on, labels as trained:
  /// after data.exclude or data.relabel, before any shard. Recorded as `data_root`; a resume
  /// on other points (a changed audit, relabelling or data) is refused.
  std::string data_root;
  double seconds = 0.0;                       ///< wall time of this call
  std::string checkpoint;                     ///< path of the checkpoint written
  std::string torchscript;                    ///< path of the TorchScript export, if any
  /// SHA-256 of the checkpoint and the export: of the bytes serialized (a resumed run that
  /// trained no epoch: of the checkpoint bytes it read), the pins for a later evaluation.
  std::string checkpoint_sha256, torchscript_sha256;
  /// With a robust validation hook: the last epoch's score and the best epoch (1-based), whose
  /// weights are in `best_checkpoint` and in the TorchScript export.
  std::optional<double> robust_accuracy;
  std::optional<double> best_robust_accuracy;
  int64_t best_epoch = 0;
  std::string best_checkpoint;
  /// The kept epoch's clean validation accuracy (`validation_accuracy` is the last epoch's).
  std::optional<double> kept_validation_accuracy;
};

/// What a custom training objective returns for one batch: the loss to minimize and the logits
/// on which the running training accuracy is counted (clean or adversarial: the objective's
/// choice).
struct BatchObjective {
  at::Tensor loss;
  at::Tensor logits;
};

/// Hooks for callers and tests.
struct TrainOptions {
  bool resume = false;  ///< continue from `<output>/checkpoint.safetensors` when it exists
  /// Called after each optimizer step with (epoch, step), both 0-based.
  std::function<void(int64_t, int64_t)> on_step;
  /// Replaces cross-entropy on the clean batch (adversarial training, distillation). Called
  /// with the model in train mode, the batch on the device, and a seed that is a pure function
  /// of (config seed, epoch, step), so a resumed run draws the same random starts.
  std::function<BatchObjective(models::Classifier& model, const at::Tensor& x, const at::Tensor& y,
                               uint64_t batch_seed)>
      objective;
  /// After each epoch, a robustness score of the model on the validation data (higher is
  /// better; e.g. PGD robust accuracy). The epoch with the best score is kept in
  /// `<output>/best.safetensors` and becomes the TorchScript export: robust overfitting makes
  /// the last epoch a poor choice. Needs validation data.
  std::function<double(models::Classifier& model, const datasets::Dataset& validation)>
      robust_validation;
  /// Data-parallel training: the part of the training data this process trains on (a worker's
  /// shard), applied once after loading.
  std::function<datasets::Dataset(const datasets::Dataset& train)> shard;
  /// Data-parallel training: called after backward and before the optimizer step with
  /// (model, the clean batch x and y, epoch, step, steps per epoch), to replace the gradients by
  /// the aggregate of every worker's.
  std::function<void(models::Classifier& model, const at::Tensor& x, const at::Tensor& y,
                     int64_t epoch, int64_t step, int64_t steps)>
      after_backward;
  /// Called at the end of each epoch (0-based), before the checkpoint is written: data-parallel
  /// workers save their own state (worker momentum) for a resumed run, so that a checkpoint on
  /// disk implies the state that goes with it is on disk too.
  std::function<void(int64_t epoch)> on_epoch_end;
  /// False on data-parallel workers other than rank 0: no checkpoint, no export (rank 0 writes
  /// them; every honest worker holds the same weights).
  bool write_outputs = true;
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

/// The seed of batch `step` of `epoch` under the config seed (splitmix64 of the three).
uint64_t batch_seed(uint64_t seed, int64_t epoch, int64_t step);

/// Top-1 accuracy of `model` on `data` in eval mode, no gradients, in batches.
double accuracy(models::Classifier& model, const datasets::Dataset& data, int64_t batch_size,
                const c10::Device& device);

}  // namespace rampart::training
