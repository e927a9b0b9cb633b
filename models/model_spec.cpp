#include "models/model_spec.h"

#include "core/error.h"
#include "models/preact_resnet18.h"
#include "models/small_cnn.h"

namespace rampart::models {

const std::vector<std::string>& builtin_archs() {
  static const std::vector<std::string> kArchs{"small_cnn", "preact_resnet18"};
  return kArchs;
}

ModelSpec parse_model_spec(const core::ConfigNode& model, bool require_arch) {
  model.expect_keys({"arch", "path", "checkpoint", "sha256", "num_classes", "input"});
  ModelSpec spec;
  if (model.has("arch")) spec.arch = model.get_choice("arch", builtin_archs());
  spec.path = model.get_string("path", "");
  spec.checkpoint = model.get_string("checkpoint", "");
  spec.num_classes = model.get_int("num_classes", 10, 2, 100000);
  spec.intake.sha256 = model.get_string("sha256", "");
  if (!spec.intake.sha256.empty()) {
    bool hex = spec.intake.sha256.size() == 64;
    for (char ch : spec.intake.sha256) hex = hex && std::isxdigit(static_cast<unsigned char>(ch));
    if (!hex) model.fail("sha256 must be 64 hexadecimal digits");
    for (auto& ch : spec.intake.sha256)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (require_arch && spec.arch.empty()) {
    model.fail("missing required key 'arch' (one of: small_cnn, preact_resnet18)");
  }
  if (!spec.arch.empty() && !spec.path.empty()) {
    model.fail(
        "give either 'arch' (built-in, optional 'checkpoint') or 'path' (TorchScript), not both");
  }
  if (spec.arch.empty() && spec.path.empty()) {
    model.fail("needs 'arch' (a built-in model) or 'path' (a TorchScript file)");
  }
  if (spec.arch == "preact_resnet18") spec.input.shape = {3, 32, 32};
  if (auto input = model.optional_child("input")) {
    input->expect_keys({"shape", "range"});
    if (input->has("shape")) {
      spec.input.shape = input->get_int_list("shape", 1);
      if (spec.input.shape.size() != 3) input->fail_at("shape", "must be [C, H, W]");
    }
    if (input->has("range")) {
      const auto range = input->get_double_list("range");
      if (range.size() != 2 || !(range[0] < range[1])) {
        input->fail("range must be [min, max] with min < max");
      }
      spec.input.range_min = range[0];
      spec.input.range_max = range[1];
    }
  }
  const std::string why = spec.arch == "small_cnn" ? SmallCNN::input_problem(spec.input)
                          : spec.arch == "preact_resnet18"
                              ? PreActResNet18::input_problem(spec.input)
                              : std::string();
  if (!why.empty()) {
    const auto input = model.optional_child("input");
    if (input) input->fail_at("shape", why);
    model.fail(why);
  }
  if (!spec.intake.sha256.empty() && spec.path.empty() && spec.checkpoint.empty()) {
    model.fail_at("sha256", "pins the file named by 'path' or 'checkpoint', and neither is set");
  }
  return spec;
}

std::shared_ptr<Classifier> make_classifier(const ModelSpec& spec) {
  if (spec.arch == "small_cnn") return std::make_shared<SmallCNN>(spec.input, spec.num_classes);
  if (spec.arch == "preact_resnet18") {
    return std::make_shared<PreActResNet18>(spec.input, spec.num_classes);
  }
  throw ConfigError("model.arch: unknown architecture '" + spec.arch + "'");
}

}  // namespace rampart::models
