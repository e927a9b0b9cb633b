#pragma once

#include <torch/script.h>

#include <string>

#include "security/model_intake.h"

namespace rampart::models {

/// A TorchScript file that passed the intake, the static inspection and the sandboxed probe.
/// Nothing of it has run in this process: its bytes wait to be deserialized, here
/// (deserialize_torchscript) or in a sandboxed evaluation worker.
struct AdmittedTorchScript {
  security::ModelFile file;     ///< bytes, path and SHA-256 as read by the intake
  security::ProbeResult probe;  ///< what the sandboxed probe saw
};

/// Reads `path` once through the model intake, inspects the archive (zip, pickles, records)
/// and runs the sandboxed probe (graph allowlist, behavioural checks). Throws ModelRejected
/// (exit 3) naming the file and the first problem, DataError (exit 4) when it cannot be read.
AdmittedTorchScript admit_torchscript(const std::string& path,
                                      const security::IntakeOptions& intake);

/// Deserializes an admitted file's bytes (never the path again): libtorch runs the archive's
/// code (`__setstate__`) here, so call it in this process only for a model you trust, or
/// inside a confined process. Errors are ModelRejected with libtorch's first line.
torch::jit::Module deserialize_torchscript(const security::ModelFile& file,
                                          const c10::Device& device);

/// A TorchScript model and the file it came from.
struct LoadedTorchScript {
  torch::jit::Module module;
  security::ModelFile file;     ///< bytes, path and SHA-256 as read by the intake
  security::ProbeResult probe;  ///< what the sandboxed probe saw (when it ran)
};

/// THE way Rampart loads a TorchScript file: the model intake reads it once (size limit,
/// SHA-256, pin), then libtorch deserializes that same buffer. Every TorchScript load in the
/// codebase goes through here, so the security work hardens one place. Malformed archives are
/// ModelRejected (exit 3) with libtorch's first line, never a stack dump. The module keeps the
/// train/eval mode it was saved in (call `.eval()` before running it outside an attack; attacks
/// and `rampart eval` switch to eval mode themselves and report a model saved in training mode).
///
/// Example:
///   auto loaded = models::load_torchscript("model.pt", intake, at::kCPU);
///   at::Tensor logits = loaded.module.forward({x}).toTensor();
LoadedTorchScript load_torchscript(const std::string& path, const security::IntakeOptions& intake,
                                   const c10::Device& device = c10::Device(c10::kCPU));

}  // namespace rampart::models
