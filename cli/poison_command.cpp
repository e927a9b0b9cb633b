#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "attacks/data_poisoning.h"
#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/config_node.h"
#include "core/error.h"
#include "core/json_text.h"
#include "datasets/dataset_spec.h"
#include "datasets/manifest.h"
#include "datasets/npy.h"
#include "models/model_spec.h"

namespace rampart::cli {
namespace {

constexpr const char* kOutputs[] = {"images.npy", "labels.npy", "poisoned.npy", "poison.json"};
// Written before the arrays: a folder a poisoning stopped half-way in (no poison.json yet) is
// still known as the poisoner's, and a rerun replaces it.
constexpr const char* kMarker = ".rampart-poison";

// The poisoned copy must not replace the data it was made from (`data.images: d/images.npy`
// with `--out d`), nor arrays of the user's that no earlier poisoning wrote (a folder of
// images.npy and labels.npy without poison.json).
void refuse_overwriting(const std::string& out, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const char* name : kOutputs) {
    const fs::path target = fs::path(out) / name;
    if (!fs::exists(target, ec)) continue;
    for (const auto& input : inputs) {
      if (fs::equivalent(target, input, ec)) {
        throw ConfigError("--out " + out + ": " + target.string() + " is " + input +
                          ", the data being poisoned: write the poisoned copy to another folder");
      }
    }
  }
  if (fs::exists(fs::path(out) / "poison.json", ec) || fs::exists(fs::path(out) / kMarker, ec)) {
    return;  // an earlier poisoning's set, whole or stopped half-way
  }
  for (const char* name : {"images.npy", "labels.npy", "poisoned.npy"}) {
    if (fs::exists(fs::path(out) / name, ec)) {
      throw ConfigError("--out " + out + ": holds " + name + " but no poison.json, so no earlier "
                        "rampart data poison wrote it: choose another folder, or remove the arrays");
    }
  }
}

}  // namespace

int run_data_poison(const PoisonCommand& command) {
  const core::ConfigNode root = core::load_config(command.config_path, command.overrides);
  for (const char* key : {"model", "data", "poison"}) {
    if (!root.has(key)) root.fail(std::string("missing required key '") + key + "'");
  }
  const models::ModelSpec model = models::parse_model_spec(root.child("model"), false);
  const datasets::DatasetSpec spec = datasets::parse_dataset_spec(root.child("data"));
  // poisoned.npy's indices and poison.json describe the data as read.
  datasets::refuse_sanitising(root.child("data"), spec, "data to poison");
  const attacks::PoisonSpec poison =
      attacks::parse_poison_spec(root.child("poison"), model.num_classes,
                                 model.input.range_min, model.input.range_max);
  refuse_overwriting(command.out, datasets::dataset_files(spec));
  const datasets::Dataset clean =
      datasets::load_dataset(spec, model.num_classes, model.input.shape);
  attacks::PoisonedData out;
  try {
    out = attacks::poison_dataset(clean, poison);
  } catch (const ConfigError& e) {  // the trigger does not fit the images, or too few points
    const std::string what = e.what();
    const core::ConfigNode node = root.child("poison");
    if (what.rfind("trigger: ", 0) == 0) {  // a patch larger than the images names its size
      const core::ConfigNode trigger = node.child("trigger");
      if (poison.trigger.random_position) trigger.fail_at("size", what.substr(9));
      trigger.fail(what.substr(9));
    }
    if (what.rfind("poison.rate: ", 0) == 0) node.fail_at("rate", what.substr(13));
    node.fail(what);
  }
  core::make_directories(command.out);
  const std::string dir = command.out + "/";
  // poison.json, written last, says the folder holds one complete set: a run that stops half-way
  // (a full disk) leaves none, rather than the old one beside new arrays.
  core::write_file_atomic(dir + kMarker, "This folder holds a poisoned copy made by rampart data poison.\n");
  std::error_code ec;
  std::filesystem::remove(dir + "poison.json", ec);
  if (ec) throw DataError(dir + "poison.json: cannot replace it: " + ec.message());
  datasets::write_npy(dir + "images.npy", out.data.images.contiguous());
  datasets::write_npy(dir + "labels.npy", out.data.labels.contiguous());
  datasets::write_npy(dir + "poisoned.npy", out.indices.contiguous());
  const attacks::PoisonSpec& s = out.spec;
  const nlohmann::json trigger = s.attack == "label_flip" ? nlohmann::json(nullptr) : s.trigger.to_json();
  const nlohmann::json summary{
      {"attack", s.attack},
      {"rate", s.rate},
      {"seed", s.seed},
      {"points", clean.size()},
      {"poisoned", out.indices.numel()},
      {"target", s.attack == "label_flip" ? nlohmann::json(nullptr) : nlohmann::json(s.target)},
      {"flip_from", s.flip_from >= 0 ? nlohmann::json(s.flip_from) : nlohmann::json(nullptr)},
      {"flip_to", s.flip_to >= 0 ? nlohmann::json(s.flip_to) : nlohmann::json(nullptr)},
      {"trigger", trigger},
      {"source", clean.source},
      {"clean_manifest_root", datasets::manifest_root(datasets::point_digests(clean))},
      {"files", {{"images", "images.npy"}, {"labels", "labels.npy"}, {"poisoned_indices", "poisoned.npy"}}}};
  core::write_file_atomic(dir + "poison.json", core::json_text(summary, 2) + "\n");
  std::printf("poisoned:  %lld of %lld points (%s%s)\n",
              static_cast<long long>(out.indices.numel()), static_cast<long long>(clean.size()),
              s.attack.c_str(),
              s.attack == "label_flip" ? "" : (", target " + std::to_string(s.target) + ", " + s.trigger.describe()).c_str());
  std::printf("written:   %simages.npy, labels.npy, poisoned.npy (ground truth), poison.json\n",
              dir.c_str());
  return 0;
}

}  // namespace rampart::cli
