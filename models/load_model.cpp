#include "models/load_model.h"

#include "core/error.h"
#include "models/checkpoint.h"
#include "models/safetensors.h"
#include "models/torchscript_loader.h"

namespace rampart::models {

LoadedModel load_model(const ModelSpec& spec, const c10::Device& device) {
  LoadedModel out;
  if (!spec.path.empty()) {
    security::IntakeOptions intake = spec.intake;
    intake.policy.probe_options.input_shape = {1};
    intake.policy.probe_options.input_shape.insert(intake.policy.probe_options.input_shape.end(),
                                                   spec.input.shape.begin(),
                                                   spec.input.shape.end());
    intake.policy.probe_options.range_low = spec.input.range_min;  // the behavioural checks'
    intake.policy.probe_options.range_high = spec.input.range_max;  // noise, in input units
    LoadedTorchScript loaded = load_torchscript(spec.path, intake, device);
    const std::vector<int64_t> expected{1, spec.num_classes};
    if (loaded.probe.accepted && loaded.probe.output_shape != expected) {
      std::string shape;
      for (int64_t d : loaded.probe.output_shape)
        shape += (shape.empty() ? "" : ", ") + std::to_string(d);
      throw ModelRejected(
          spec.path + ": on one input of shape [1, " + std::to_string(spec.input.shape[0]) + ", " +
          std::to_string(spec.input.shape[1]) + ", " + std::to_string(spec.input.shape[2]) +
          "] the model returns [" + shape + "], not [1, " + std::to_string(spec.num_classes) +
          "] (model.num_classes)");
    }
    out.model = std::make_shared<TorchScriptModel>(loaded.module, spec.path);
    out.path = loaded.file.path;
    out.sha256 = loaded.file.sha256;
    out.bytes = static_cast<int64_t>(loaded.file.bytes.size());
    out.files.push_back({out.path, out.sha256, out.bytes, loaded.file.verified_by,
                         std::optional(loaded.probe)});
    return out;
  }
  if (spec.checkpoint.empty()) {
    throw ConfigError("model.checkpoint: built-in architecture '" + spec.arch +
                      "' needs a safetensors checkpoint to be evaluated");
  }
  const security::ModelFile file = security::read_model_file(spec.checkpoint, spec.intake);
  const SafetensorsFile weights = parse_safetensors(file.bytes, spec.checkpoint);
  std::shared_ptr<Classifier> classifier = make_classifier(spec);
  load_weights(*classifier, weights, spec.checkpoint);
  classifier->to(device);
  classifier->eval();
  out.model = std::make_shared<ClassifierModel>(classifier);
  out.path = file.path;
  out.sha256 = file.sha256;
  out.bytes = static_cast<int64_t>(file.bytes.size());
  out.files.push_back({out.path, out.sha256, out.bytes, file.verified_by, std::nullopt});
  return out;
}

}  // namespace rampart::models
