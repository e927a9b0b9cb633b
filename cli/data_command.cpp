#include <cstdio>

#include "cli/commands.h"
#include "core/atomic_file.h"
#include "core/config_node.h"
#include "core/error.h"
#include "datasets/dataset_spec.h"
#include "datasets/manifest.h"
#include "models/model_spec.h"
#include "security/signature.h"

namespace rampart::cli {

int run_data_manifest(const ManifestCommand& command) {
  const core::ConfigNode root = core::load_config(command.config_path, command.overrides);
  if (command.section != "data" && command.section != "validation") {
    throw ConfigError("--section " + command.section + ": expected data or validation");
  }
  if (!root.has(command.section)) root.fail("missing required key '" + command.section + "'");
  if (!root.has("model")) root.fail("missing required key 'model' (its num_classes and input)");
  const models::ModelSpec model = models::parse_model_spec(root.child("model"), false);
  datasets::DatasetSpec spec = datasets::parse_dataset_spec(root.child(command.section));
  spec.manifest.clear();  // the manifest being written describes the data, it does not check it
  const datasets::Dataset data =
      datasets::load_dataset(spec, model.num_classes, model.input.shape);
  const datasets::DataManifest manifest =
      datasets::make_manifest(data, datasets::dataset_files(spec));
  const std::string text = datasets::manifest_json(manifest);
  core::write_file_atomic(command.out, text);
  if (!command.sign.empty()) {
    core::write_file_atomic(command.out + ".sig", security::sign_ed25519(text, command.sign));
  }
  std::printf("manifest: %s (%zu points of %s)\nroot:     %s\n", command.out.c_str(),
              manifest.digests.size(), data.source.c_str(), manifest.root.c_str());
  if (!command.sign.empty()) std::printf("signed:   %s.sig\n", command.out.c_str());
  return 0;
}

}  // namespace rampart::cli
