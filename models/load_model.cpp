#include "models/load_model.h"

#include <algorithm>

#include "core/error.h"
#include "core/shape_text.h"
#include "models/checkpoint.h"
#include "models/safetensors.h"
#include "models/torchscript_loader.h"

namespace rampart::models {

bool AdmittedModel::runs_code() const {
  return std::any_of(files.begin(), files.end(), [](const security::ModelFile& f) {
    return f.format != security::ModelFormat::kSafetensors;
  });
}

AdmittedModel admit_model(const ModelSpec& spec) {
  AdmittedModel out;
  if (!spec.path.empty()) {
    security::IntakeOptions intake = spec.intake;
    std::vector<int64_t>& shape = intake.policy.probe_options.input_shape;
    shape = {1};
    shape.insert(shape.end(), spec.input.shape.begin(), spec.input.shape.end());
    intake.policy.probe_options.range_low = spec.input.range_min;  // the behavioural checks'
    intake.policy.probe_options.range_high = spec.input.range_max;  // noise, in input units
    AdmittedTorchScript admitted = admit_torchscript(spec.path, intake);
    const std::vector<int64_t> expected{1, spec.num_classes};
    if (admitted.probe.output_shape != expected) {
      throw ModelRejected(spec.path + ": on one input of shape " + core::shape_text(shape) +
                          " the model returns " + core::shape_text(admitted.probe.output_shape) +
                          ", not " + core::shape_text(expected) + " (model.num_classes)");
    }
    out.records.push_back({admitted.file.path, admitted.file.sha256,
                           static_cast<int64_t>(admitted.file.bytes.size()),
                           admitted.file.verified_by, std::optional(admitted.probe)});
    out.files.push_back(std::move(admitted.file));
  } else {
    if (spec.checkpoint.empty()) {
      throw ConfigError("model.checkpoint: built-in architecture '" + spec.arch +
                        "' needs a safetensors checkpoint to be evaluated");
    }
    security::ModelFile file = security::read_model_file(spec.checkpoint, spec.intake);
    out.records.push_back({file.path, file.sha256, static_cast<int64_t>(file.bytes.size()),
                           file.verified_by, std::nullopt});
    out.files.push_back(std::move(file));
  }
  out.path = out.records.front().path;
  out.sha256 = out.records.front().sha256;
  out.bytes = out.records.front().bytes;
  return out;
}

std::shared_ptr<Model> build_model(const ModelSpec& spec, const security::ModelFile& file,
                                   const c10::Device& device) {
  if (!spec.path.empty()) {
    return std::make_shared<TorchScriptModel>(deserialize_torchscript(file, device), spec.path);
  }
  const SafetensorsFile weights = parse_safetensors(file.bytes, file.path);
  std::shared_ptr<Classifier> classifier = make_classifier(spec);
  load_weights(*classifier, weights, file.path);
  classifier->to(device);
  classifier->eval();
  return std::make_shared<ClassifierModel>(classifier);
}

LoadedModel load_model(const ModelSpec& spec, const c10::Device& device) {
  AdmittedModel admitted = admit_model(spec);
  LoadedModel out;
  out.model = build_model(spec, admitted.files.front(), device);
  out.path = admitted.path;
  out.sha256 = admitted.sha256;
  out.bytes = admitted.bytes;
  out.files = std::move(admitted.records);
  return out;
}

}  // namespace rampart::models
