#pragma once

#include <optional>
#include <string>

#include "core/config_node.h"
#include "datasets/dataset_spec.h"
#include "models/model_spec.h"
#include "training/lr_schedule.h"
#include "training/optimizer.h"

namespace rampart::training {

/// Everything `rampart train CONFIG` reads.
///
/// Example (YAML):
///   seed: 0
///   threads: 0
///   model: {arch: small_cnn, num_classes: 10}
///   data: {format: idx, images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz,
///          batch_size: 128}
///   validation: {format: idx, images: t10k-images-idx3-ubyte.gz, labels:
///   t10k-labels-idx1-ubyte.gz} train: {epochs: 3, optimizer: {name: sgd, lr: 0.05}, schedule:
///   {name: cosine},
///           output: runs/fmnist_cnn}
struct TrainConfig {
  uint64_t seed = 0;
  std::string device = "cpu";
  int64_t threads = 0;
  models::ModelSpec model;
  datasets::DatasetSpec data;
  std::optional<datasets::DatasetSpec> validation;
  int64_t epochs = 1;
  OptimizerSpec optimizer;
  ScheduleSpec schedule;
  std::string output = "runs/train";
  bool export_torchscript = true;
  std::string config_hash;  ///< SHA-256 of the effective config (after --set)
};

/// Validates and reads a train config (unknown keys, types and ranges are ConfigErrors with
/// file:line:column and the key path).
TrainConfig parse_train_config(const core::ConfigNode& root);

}  // namespace rampart::training
