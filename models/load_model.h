#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/model_spec.h"

namespace rampart::models {

/// One model file as the intake read it.
struct ModelFileRecord {
  std::string path;
  std::string sha256;  ///< of the bytes that were deserialized
  int64_t bytes = 0;
  /// What vouched for it (security::ModelFile::verified_by); empty: accepted unpinned.
  std::vector<std::string> verified_by;
  /// What the sandboxed probe saw (TorchScript files; a checkpoint is data and is not run).
  std::optional<security::ProbeResult> probe;
};

/// A model ready for evaluation and the file(s) it was read from (for provenance).
struct LoadedModel {
  std::shared_ptr<Model> model;
  std::string path;    ///< the TorchScript file or the checkpoint ("a, b, c" for an ensemble)
  std::string sha256;  ///< of the bytes (an ensemble: of its members' hashes, one per line)
  int64_t bytes = 0;
  std::vector<ModelFileRecord> files;  ///< every file read, in order
};

/// Loads one model that a `model:` section names (ensembles and transforms are built by
/// defenses::load_defended_model on top of this), through the model intake (one read, size limit,
/// pin): a TorchScript file (`path`) or a built-in architecture with its safetensors `checkpoint`.
/// A built-in architecture without a checkpoint is a ConfigError (random weights say nothing
/// about robustness). The model is moved to `device`; its train/eval mode is left as stored.
///
/// Example:
///   auto loaded = models::load_model(spec, c10::Device(c10::kCPU));
///   at::Tensor logits = loaded.model->forward(x);
LoadedModel load_model(const ModelSpec& spec, const c10::Device& device);

}  // namespace rampart::models
