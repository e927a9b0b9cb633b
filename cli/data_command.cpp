#include <cstdio>
#include <filesystem>

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
  // The manifest being written describes the data; it does not check it. It covers the data as
  // read (after offset and limit), which is what data.manifest checks, before data.exclude and
  // data.relabel apply.
  spec.manifest.clear();
  spec.exclude.clear();
  spec.relabel.clear();
  const datasets::Dataset data =
      datasets::load_dataset(spec, model.num_classes, model.input.shape);
  const datasets::DataManifest manifest =
      datasets::make_manifest(data, datasets::dataset_files(spec));
  const std::string text = datasets::manifest_json(manifest);
  // Signed before anything is written: a key that cannot sign leaves the old files as they were.
  const std::string signature =
      command.sign.empty() ? std::string() : security::sign_ed25519(text, command.sign);
  core::write_file_atomic(command.out, text);
  const std::string signature_path = command.out + ".sig";
  if (!command.sign.empty()) {
    core::write_file_atomic(signature_path, signature);
  } else if (std::filesystem::exists(signature_path)) {
    // The signature of the manifest this one replaced: it can only fail to verify now.
    std::error_code ec;
    std::filesystem::remove(signature_path, ec);
    if (ec) throw DataError(signature_path + ": cannot remove the signature of the manifest this one replaced: " + ec.message());
    std::printf("removed:  %s (it signed the manifest this one replaced)\n", signature_path.c_str());
  }
  std::printf("manifest: %s (%zu points of %s)\nroot:     %s\n", command.out.c_str(),
              manifest.digests.size(), data.source.c_str(), manifest.root.c_str());
  if (!command.sign.empty()) std::printf("signed:   %s.sig\n", command.out.c_str());
  return 0;
}

}  // namespace rampart::cli
