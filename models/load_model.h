#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/model_spec.h"
#include "security/model_intake.h"

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

/// A model's files read and checked by the intake, none of them deserialized in this process
/// yet: what a sandboxed evaluation worker receives (the bytes) and what provenance records.
struct AdmittedModel {
  std::vector<security::ModelFile> files;  ///< one per model (ensemble members in order)
  std::vector<ModelFileRecord> records;    ///< the same files, for provenance
  std::string path;                        ///< as LoadedModel::path
  std::string sha256;                      ///< as LoadedModel::sha256
  int64_t bytes = 0;
  /// Whether any file is a TorchScript archive: a program, which Rampart runs only in a
  /// confined worker (eval::measure_in_sandbox); safetensors checkpoints are data.
  bool runs_code() const;
};

/// Reads and checks the one file of a non-ensemble `model:` section: a TorchScript archive
/// through models::admit_torchscript (intake, inspection, sandboxed probe, output shape
/// [1, num_classes]), or a safetensors checkpoint through the intake. Nothing is run here.
/// A built-in architecture without a checkpoint is a ConfigError.
AdmittedModel admit_model(const ModelSpec& spec);

/// Builds the model of a non-ensemble `model:` section from its admitted file's bytes, on
/// `device`: TorchScript is deserialized (its code runs), a checkpoint's weights are copied into
/// the built-in architecture.
std::shared_ptr<Model> build_model(const ModelSpec& spec, const security::ModelFile& file,
                                   const c10::Device& device);

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
