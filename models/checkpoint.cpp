#include "models/checkpoint.h"

#include <torch/nn/utils.h>

#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/shape_text.h"
#include "core/version.h"

namespace rampart::models {
namespace {

using core::shape_text;

}  // namespace

NamedTensors state_tensors(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& p : module.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

std::string save_checkpoint(const std::string& path, const Classifier& model,
                            const NamedTensors& extra_tensors,
                            const std::map<std::string, std::string>& extra_metadata) {
  NamedTensors tensors = state_tensors(model);
  for (const auto& t : extra_tensors) tensors.push_back(t);
  std::map<std::string, std::string> metadata = extra_metadata;
  metadata["format"] = "rampart-checkpoint";
  metadata["rampart_version"] = kVersion;
  metadata["arch"] = model.arch();
  metadata["num_classes"] = std::to_string(model.num_classes());
  metadata["input_shape"] = shape_text(model.input().shape);
  const std::string bytes = serialize_safetensors(tensors, metadata);
  core::write_file_atomic(path, bytes);
  return security::sha256_hex(bytes);
}

SafetensorsFile read_checkpoint(const std::string& path, const security::IntakeOptions& intake) {
  const security::ModelFile file = security::read_model_file(path, intake);
  return parse_safetensors(file.bytes, path);
}

void load_weights(Classifier& model, const SafetensorsFile& file, const std::string& path) {
  auto meta = [&](const std::string& key) {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string() : it->second;
  };
  if (!meta("arch").empty() && meta("arch") != model.arch()) {
    throw ModelRejected(path + ": checkpoint is for architecture '" + meta("arch") +
                        "' but the config builds '" + model.arch() + "'");
  }
  if (!meta("num_classes").empty() && meta("num_classes") != std::to_string(model.num_classes())) {
    throw ModelRejected(path + ": checkpoint has " + meta("num_classes") +
                        " classes but the config says " + std::to_string(model.num_classes()));
  }
  if (!meta("input_shape").empty() && meta("input_shape") != shape_text(model.input().shape)) {
    throw ModelRejected(path + ": checkpoint was trained on inputs " + meta("input_shape") +
                        " but the config declares " + shape_text(model.input().shape));
  }
  std::set<std::string> expected;
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : state_tensors(model)) {
    expected.insert(name);
    const at::Tensor* source = file.find(name);
    if (source == nullptr) throw ModelRejected(path + ": tensor '" + name + "' is missing");
    if (source->sizes() != target.sizes()) {
      throw ModelRejected(path + ": tensor '" + name + "' has shape " +
                          shape_text(source->sizes()) + " but the model needs " +
                          shape_text(target.sizes()));
    }
    if (source->scalar_type() != target.scalar_type()) {
      throw ModelRejected(path + ": tensor '" + name + "' has dtype " +
                          std::string(c10::toString(source->scalar_type())) +
                          " but the model needs " + c10::toString(target.scalar_type()));
    }
    target.copy_(*source);
  }
  for (const auto& [name, tensor] : file.tensors) {
    if (!expected.count(name) && name.rfind("optimizer.", 0) != 0) {
      throw ModelRejected(path + ": unexpected tensor '" + name + "' for architecture '" +
                          model.arch() + "'");
    }
  }
}

}  // namespace rampart::models
