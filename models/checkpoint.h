#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "models/classifier.h"
#include "models/safetensors.h"
#include "security/model_intake.h"

namespace rampart::models {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

/// A module's parameters and buffers by state_dict name (`conv1.weight`, `bn.running_mean`).
NamedTensors state_tensors(const torch::nn::Module& module);

/// Writes a built-in model as a safetensors checkpoint, atomically. The metadata records the
/// architecture, class count and input shape (so a mismatched load is refused) plus `extra`
/// metadata; `extra_tensors` (e.g. optimizer state, names prefixed `optimizer.`) are stored
/// beside the weights. Returns the SHA-256 (hex) of the bytes written.
///
/// Example:
///   models::save_checkpoint("runs/cnn/checkpoint.safetensors", *net);
std::string save_checkpoint(const std::string& path, const Classifier& model,
                            const NamedTensors& extra_tensors = {},
                            const std::map<std::string, std::string>& extra_metadata = {});

/// Reads a checkpoint through the model intake (one read, size limit, pin) and validates it as
/// safetensors. Throws ModelRejected (exit 3) or DataError (exit 4).
SafetensorsFile read_checkpoint(const std::string& path, const security::IntakeOptions& intake);

/// Copies the checkpoint's weights into `model`. Every parameter and buffer must be present
/// with the same shape and dtype, and the recorded architecture must match; tensors named
/// `optimizer.*` are left for the caller. Throws ModelRejected naming the file and tensor.
void load_weights(Classifier& model, const SafetensorsFile& file, const std::string& path);

}  // namespace rampart::models
