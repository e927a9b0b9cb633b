#pragma once

#include <memory>
#include <string>

#include "core/config_node.h"
#include "models/classifier.h"
#include "security/model_intake.h"

namespace rampart::models {

/// The `model:` section of a config: a built-in architecture (optionally with a safetensors
/// checkpoint) or a TorchScript file.
struct ModelSpec {
  std::string arch;        ///< small_cnn | preact_resnet18; empty when `path` is TorchScript
  std::string path;        ///< TorchScript file
  std::string checkpoint;  ///< safetensors weights for `arch`
  int64_t num_classes = 10;
  InputSpec input;
  security::IntakeOptions intake;  ///< sha256 pin and size limit for the model file
};

/// The built-in architecture names.
const std::vector<std::string>& builtin_archs();

/// Parses `model:` (keys: arch, path, checkpoint, sha256, num_classes, input{shape, range}).
/// `require_arch` is set by `rampart train`, which can only train built-in models.
ModelSpec parse_model_spec(const core::ConfigNode& model, bool require_arch);

/// A freshly initialised built-in classifier (weights from libtorch's seeded generator).
std::shared_ptr<Classifier> make_classifier(const ModelSpec& spec);

}  // namespace rampart::models
