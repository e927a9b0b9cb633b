#include "models/model_spec.h"

#include <sstream>

#include "core/error.h"
#include "models/mlp.h"
#include "models/preact_resnet18.h"
#include "models/small_cnn.h"

namespace rampart::models {

const std::vector<std::string>& builtin_archs() {
  static const std::vector<std::string> kArchs{"small_cnn", "preact_resnet18", "mlp"};
  return kArchs;
}

namespace {

void parse_input(const core::ConfigNode& model, ModelSpec& spec) {
  if (spec.arch == "preact_resnet18") spec.input.shape = {3, 32, 32};
  auto input = model.optional_child("input");
  if (!input) return;
  input->expect_keys({"shape", "range"});
  if (input->has("shape")) {
    spec.input.shape = input->get_int_list("shape", 1);
    if (spec.input.shape.size() != 3) input->fail_at("shape", "must be [C, H, W]");
    // Bounded before any layer is sized from it: [1, 4e6, 4e6] asked for a 1e12-input layer.
    constexpr int64_t kMaxSide = 16384, kMaxElements = int64_t{1} << 28;
    int64_t elements = 1;
    for (const int64_t d : spec.input.shape) {
      if (d > kMaxSide) {
        input->fail_at("shape", "each of C, H, W must be at most " + std::to_string(kMaxSide) +
                                    ", got " + std::to_string(d));
      }
      elements *= d;
    }
    if (elements > kMaxElements) {
      input->fail_at("shape", "C x H x W must be at most 2^28 values per input, got " +
                                  std::to_string(elements));
    }
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

void check_input_fits_arch(const core::ConfigNode& model, const ModelSpec& spec) {
  const std::string why = spec.arch == "small_cnn" ? SmallCNN::input_problem(spec.input)
                          : spec.arch == "preact_resnet18"
                              ? PreActResNet18::input_problem(spec.input)
                              : std::string();
  if (why.empty()) return;
  const auto input = model.optional_child("input");
  if (input) input->fail_at("shape", why);
  model.fail(why);
}

// One model: a built-in architecture or a TorchScript file. `inherited` is the enclosing
// ensemble, whose input and class count a member takes.
ModelSpec parse_single(const core::ConfigNode& model, bool require_arch,
                       const ModelSpec* inherited) {
  ModelSpec spec;
  if (model.has("arch")) spec.arch = model.get_choice("arch", builtin_archs());
  spec.path = model.get_string("path", "");
  spec.checkpoint = model.get_string("checkpoint", "");
  spec.intake.sha256 = parse_sha256(model, "sha256");
  spec.intake.signature = model.get_string("signature", "");
  spec.intake.public_key = model.get_string("public_key", "");
  if (spec.intake.signature.empty() != spec.intake.public_key.empty()) {
    model.fail_at(spec.intake.signature.empty() ? "public_key" : "signature",
                  "an Ed25519 signature needs both 'signature' and 'public_key'");
  }
  if (require_arch && spec.arch.empty()) {
    model.fail("missing required key 'arch' (one of: small_cnn, preact_resnet18, mlp)");
  }
  if (!spec.arch.empty() && !spec.path.empty()) {
    model.fail(
        "give either 'arch' (built-in, optional 'checkpoint') or 'path' (TorchScript), not both");
  }
  if (!spec.path.empty() && !spec.checkpoint.empty()) {  // the TorchScript file has its weights
    model.fail_at("checkpoint", "is for a built-in 'arch'; a TorchScript 'path' holds its own "
                                "weights");
  }
  if (spec.arch.empty() && spec.path.empty()) {
    model.fail(inherited ? "an ensemble member needs 'arch' (with 'checkpoint') or 'path'"
                         : "needs 'arch' (a built-in model), 'path' (a TorchScript file) or "
                           "'ensemble'");
  }
  if (model.has("hidden")) {
    if (spec.arch != "mlp") model.fail_at("hidden", "is the width of the 'mlp' architecture only");
    spec.hidden = model.get_int("hidden", spec.hidden, 1, 65536);
  }
  if (inherited) {
    spec.num_classes = inherited->num_classes;
    spec.input = inherited->input;
  } else {
    spec.num_classes = model.get_int("num_classes", 10, 2, 100000);
    parse_input(model, spec);
  }
  check_input_fits_arch(model, spec);
  if (!spec.intake.sha256.empty() && spec.path.empty() && spec.checkpoint.empty()) {
    model.fail_at("sha256", "pins the file named by 'path' or 'checkpoint', and neither is set");
  }
  return spec;
}

void parse_ensemble(const core::ConfigNode& model, ModelSpec& spec) {
  for (const char* key :
       {"arch", "hidden", "path", "checkpoint", "sha256", "signature", "public_key"}) {
    if (model.has(key)) {
      model.fail_at(key, std::string("'") + key +
                             "' belongs to each ensemble member, not next to 'ensemble'");
    }
  }
  const core::ConfigNode ensemble = model.child("ensemble");
  ensemble.expect_keys({"combine", "members"});
  const std::string combine =
      ensemble.get_choice("combine", {"logits", "probabilities", "vote"}, "logits");
  spec.combine = combine == "vote"            ? Combine::kVote
                 : combine == "probabilities" ? Combine::kProbabilities
                                              : Combine::kLogits;
  if (!ensemble.has("members")) ensemble.fail("missing required key 'members'");
  for (const auto& member : ensemble.list("members")) {
    if (!member.is_map()) member.fail("an ensemble member is a mapping (arch/checkpoint or path)");
    member.expect_keys(
        {"arch", "hidden", "path", "checkpoint", "sha256", "signature", "public_key"});
    spec.members.push_back(parse_single(member, /*require_arch=*/false, &spec));
    if (!spec.members.back().arch.empty() && spec.members.back().checkpoint.empty()) {
      member.fail("built-in architecture '" + spec.members.back().arch +
                  "' needs 'checkpoint' (its trained weights) to be an ensemble member");
    }
  }
  if (spec.members.size() < 2) ensemble.fail_at("members", "an ensemble needs at least 2 members");
}

}  // namespace

TransformSpec parse_transform_spec(const core::ConfigNode& node) {
  if (!node.is_map()) node.fail("a transform is a mapping such as {name: jpeg, quality: 75}");
  TransformSpec t;
  if (!node.has("name")) {
    node.fail("missing required key 'name' (bit_depth, median, jpeg or gaussian_noise)");
  }
  t.name = node.get_choice("name", {"bit_depth", "median", "jpeg", "gaussian_noise"});
  if (t.name == "bit_depth") {
    node.expect_keys({"name", "bits"});
    t.bits = node.get_int("bits", 4, 1, 8);
  } else if (t.name == "median") {
    node.expect_keys({"name", "size"});
    t.size = node.get_int("size", 2, 2, 15);
  } else if (t.name == "gaussian_noise") {
    node.expect_keys({"name", "sigma"});
    if (!node.has("sigma")) node.fail("missing required key 'sigma' (the noise's standard deviation)");
    t.sigma = node.get_double("sigma", 0.0, 0.0, 10.0);
    if (!(t.sigma > 0)) node.fail_at("sigma", "must be > 0");
  } else {
    node.expect_keys({"name", "quality"});
    t.quality = node.get_int("quality", 75, 1, 100);
  }
  return t;
}

std::string describe(const TransformSpec& t) {
  if (t.name == "bit_depth") return "bit_depth(bits=" + std::to_string(t.bits) + ")";
  if (t.name == "median") return "median(size=" + std::to_string(t.size) + ")";
  if (t.name == "gaussian_noise") {
    std::ostringstream out;
    out << "gaussian_noise(sigma=" << t.sigma << ")";
    return out.str();
  }
  return "jpeg(quality=" + std::to_string(t.quality) + ")";
}

std::string to_string(Combine combine) {
  switch (combine) {
    case Combine::kLogits:
      return "logits";
    case Combine::kProbabilities:
      return "probabilities";
    case Combine::kVote:
      return "vote";
  }
  return "logits";
}

std::string parse_sha256(const core::ConfigNode& node, const std::string& key) {
  std::string pin = node.get_string(key, "");
  if (pin.empty()) return pin;
  bool hex = pin.size() == 64;
  for (char ch : pin) hex = hex && std::isxdigit(static_cast<unsigned char>(ch));
  if (!hex) node.fail_at(key, "must be 64 hexadecimal digits");
  for (auto& ch : pin) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return pin;
}

void set_intake_policy(ModelSpec& spec, const security::IntakePolicy& policy) {
  spec.intake.policy = policy;
  for (auto& member : spec.members) set_intake_policy(member, policy);
}

ModelSpec parse_model_spec(const core::ConfigNode& model, bool require_arch) {
  if (!model.is_map()) model.fail("'model' is a mapping (arch/checkpoint, path or ensemble)");
  model.expect_keys({"arch", "hidden", "path", "checkpoint", "sha256", "signature",
                     "public_key", "num_classes", "input", "ensemble", "transforms"});
  ModelSpec spec;
  if (model.has("ensemble")) {
    if (require_arch) model.fail_at("ensemble", "'rampart train' trains one built-in model");
    spec.num_classes = model.get_int("num_classes", 10, 2, 100000);
    parse_input(model, spec);
    parse_ensemble(model, spec);
  } else {
    spec = parse_single(model, require_arch, nullptr);
  }
  if (model.has("transforms")) {
    if (require_arch) {
      model.fail_at("transforms", "input transforms are for evaluation, not for 'rampart train'");
    }
    for (const auto& item : model.list("transforms")) {
      spec.transforms.push_back(parse_transform_spec(item));
      // Found here, located, rather than at the first forward pass after admission and probing.
      const auto& shape = spec.input.shape;
      if (spec.transforms.back().name == "jpeg" && shape.size() == 3 && shape[0] != 1 && shape[0] != 3) {
        item.fail("the jpeg transform needs 1 or 3 channels, model.input.shape has " +
                  std::to_string(shape[0]));
      }
    }
  }
  return spec;
}

std::shared_ptr<Classifier> make_classifier(const ModelSpec& spec) {
  if (spec.arch == "small_cnn") return std::make_shared<SmallCNN>(spec.input, spec.num_classes);
  if (spec.arch == "preact_resnet18") {
    return std::make_shared<PreActResNet18>(spec.input, spec.num_classes);
  }
  if (spec.arch == "mlp") return std::make_shared<MLP>(spec.input, spec.num_classes, spec.hidden);
  throw ConfigError("model.arch: unknown architecture '" + spec.arch + "'");
}

}  // namespace rampart::models
