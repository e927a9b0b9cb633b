#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <string>

#include "models/model.h"
#include "models/model_spec.h"

namespace rampart::models {

/// A model ready for evaluation and the file it was read from (for provenance).
struct LoadedModel {
  std::shared_ptr<Model> model;
  std::string path;    ///< the TorchScript file or the checkpoint
  std::string sha256;  ///< of the bytes that were deserialized
  int64_t bytes = 0;
};

/// Loads what a `model:` section names, through the model intake (one read, size limit, pin):
/// a TorchScript file (`path`) or a built-in architecture with its safetensors `checkpoint`.
/// A built-in architecture without a checkpoint is a ConfigError (random weights say nothing
/// about robustness). The model is moved to `device`; its train/eval mode is left as stored.
///
/// Example:
///   auto loaded = models::load_model(spec, c10::Device(c10::kCPU));
///   at::Tensor logits = loaded.model->forward(x);
LoadedModel load_model(const ModelSpec& spec, const c10::Device& device);

}  // namespace rampart::models
