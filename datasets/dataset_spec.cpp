#include "datasets/dataset_spec.h"
#include "datasets/exclusion.h"
#include "datasets/manifest.h"
#include "datasets/relabel_file.h"

#include <utility>

#include "core/error.h"
#include "core/shape_text.h"
#include "datasets/cifar10_reader.h"
#include "datasets/idx_reader.h"
#include "datasets/image_folder_reader.h"
#include "datasets/npy.h"
#include "datasets/synthetic.h"

namespace rampart::datasets {
namespace {}  // namespace

DatasetSpec parse_dataset_spec(const core::ConfigNode& node) {
  node.expect_keys({"format", "images", "labels", "files", "root", "layout", "num_samples", "seed",
                    "sample_seed", "noise", "offset", "limit", "batch_size", "shuffle",
                    "class_names", "manifest", "manifest_signature", "manifest_public_key",
                    "exclude", "relabel"});
  DatasetSpec spec;
  spec.key = node.path();
  spec.offset_where = node.where("offset");
  spec.class_names_where = node.where("class_names");
  spec.format_where = node.where("format");
  spec.format = node.get_choice("format", {"idx", "cifar10", "npy", "image_folder", "synthetic"});
  if (spec.format == "idx" || spec.format == "npy") {
    spec.images = node.get_string("images");
    spec.labels = node.get_string("labels");
  }
  if (spec.format == "npy")
    spec.layout = node.get_choice("layout", {"auto", "nchw", "nhwc"}, "auto");
  if (spec.format == "cifar10") {
    spec.files = node.get_string_list("files");
    if (spec.files.empty()) node.fail("files: list at least one CIFAR-10 batch file");
  }
  if (spec.format == "image_folder") spec.root = node.get_string("root");
  if (spec.format == "synthetic") {
    spec.num_samples = node.get_int("num_samples", 1024, 1, int64_t{1} << 24);
    spec.synthetic_seed = static_cast<uint64_t>(node.get_int("seed", 0, 0));
    spec.sample_seed = static_cast<uint64_t>(node.get_int("sample_seed", 0, 0));
    spec.noise = node.get_double("noise", spec.noise, 0.0, 1.0);
  }
  // Keys that belong to another format are mistakes worth naming.
  const std::vector<std::pair<std::string, std::vector<std::string>>> owners{
      {"images", {"idx", "npy"}}, {"labels", {"idx", "npy"}}, {"files", {"cifar10"}},
      {"root", {"image_folder"}}, {"layout", {"npy"}},        {"num_samples", {"synthetic"}},
      {"seed", {"synthetic"}},    {"noise", {"synthetic"}},   {"sample_seed", {"synthetic"}}};
  for (const auto& [key, formats] : owners) {
    bool allowed = false;
    for (const auto& f : formats) allowed = allowed || f == spec.format;
    if (node.has(key) && !allowed) {
      node.fail("key '" + key + "' does not apply to format '" + spec.format + "'");
    }
  }
  spec.offset = node.get_int("offset", 0, 0);
  spec.limit = node.get_int("limit", 0, 0);
  spec.batch_size = node.get_int("batch_size", 128, 1, 1 << 20);
  spec.shuffle = node.get_bool("shuffle", true);
  if (node.has("class_names")) spec.class_names = node.get_string_list("class_names");
  // A path key given empty would turn its check off without a word (`exclude:` alone, `~`, or
  // "" all mean a file was meant).
  node.expect_no_empty_values("is empty: name a file, or leave the key out",
                              {"manifest", "manifest_signature", "manifest_public_key", "exclude",
                               "relabel"});
  const auto path_key = [&](const char* key) {
    const std::string path = node.get_string(key);
    if (path.empty()) node.fail_at(key, "is empty: name a file, or leave the key out");
    return path;
  };
  if (node.has("manifest")) spec.manifest = path_key("manifest");
  if (node.has("manifest_signature") != node.has("manifest_public_key")) {
    node.fail("'manifest_signature' and 'manifest_public_key' go together (the Ed25519 "
              "signature of the manifest file and the signer's PEM public key)");
  }
  if (node.has("manifest_signature")) {
    if (spec.manifest.empty()) node.fail("'manifest_signature' needs 'manifest'");
    spec.manifest_signature = path_key("manifest_signature");
    spec.manifest_public_key = path_key("manifest_public_key");
  }
  if (node.has("exclude")) spec.exclude = path_key("exclude");
  if (node.has("relabel")) {
    if (node.has("exclude")) {
      node.fail_at("relabel", "'relabel' and 'exclude' together: the relabelling already decides "
                              "every flagged point of its audit (a new label, or left out); keep "
                              "one of them");
    }
    spec.relabel = path_key("relabel");
  }
  return spec;
}

void refuse_sanitising(const core::ConfigNode& node, const DatasetSpec& spec, const std::string& role) {
  for (const auto& [key, value] : {std::pair{"exclude", &spec.exclude}, std::pair{"relabel", &spec.relabel}}) {
    if (!value->empty()) {
      node.fail_at(key, std::string("is for training data, not ") + role + ": points left out or "
                        "relabelled there would change what is measured");
    }
  }
}

Dataset load_dataset(const DatasetSpec& spec, int64_t num_classes,
                     const std::vector<int64_t>& input_shape) {
  Dataset data;
  if (spec.format == "idx") {
    data = read_idx(spec.images, spec.labels, num_classes, input_shape);
  } else if (spec.format == "cifar10") {
    data = read_cifar10(spec.files, num_classes);
  } else if (spec.format == "npy") {
    const Layout layout = spec.layout == "nchw"   ? Layout::kNCHW
                          : spec.layout == "nhwc" ? Layout::kNHWC
                                                  : Layout::kAuto;
    data = read_npy_dataset(spec.images, spec.labels, num_classes, layout);
  } else if (spec.format == "image_folder") {
    if (input_shape.at(0) != 1 && input_shape.at(0) != 3) {
      throw ConfigError(spec.format_where + ": image_folder reads 1- or 3-channel images, but "
                        "model.input.shape has " + std::to_string(input_shape.at(0)) + " channels");
    }
    const auto options = ImageFolderOptions()
                             .channels(input_shape.at(0))
                             .height(input_shape.at(1))
                             .width(input_shape.at(2))
                             .num_classes(num_classes);
    data = read_image_folder(spec.root, options);
  } else if (spec.format == "synthetic") {
    const auto options = SyntheticOptions()
                             .num_samples(spec.num_samples)
                             .channels(input_shape.at(0))
                             .height(input_shape.at(1))
                             .width(input_shape.at(2))
                             .num_classes(num_classes)
                             .seed(spec.synthetic_seed)
                             .sample_seed(spec.sample_seed)
                             .noise(spec.noise);
    data = make_synthetic(options);
  } else {
    throw ConfigError(spec.key + ".format: unknown data format '" + spec.format + "'");
  }
  const auto sample = data.images.sizes().slice(1);
  if (sample.vec() != input_shape) {
    throw DataError(data.source + ": points have shape " + core::shape_text(sample) +
                    " but model.input.shape is " + core::shape_text(input_shape));
  }
  if (!spec.class_names.empty()) {
    if (static_cast<int64_t>(spec.class_names.size()) != num_classes) {
      throw ConfigError(spec.class_names_where + ": " + std::to_string(spec.class_names.size()) +
                        " names for " + std::to_string(num_classes) + " classes");
    }
    data.class_names = spec.class_names;
  }
  if (spec.offset >= data.size() && spec.offset > 0) {
    throw ConfigError(spec.offset_where + ": " + std::to_string(spec.offset) + " skips all " +
                      std::to_string(data.size()) + " points of " + data.source);
  }
  Dataset configured = data.skip(spec.offset).take(spec.limit);
  if (!spec.manifest.empty()) {
    configured.manifest_root = verify_manifest(configured, spec.manifest, spec.manifest_signature,
                                               spec.manifest_public_key);
  }
  if (!spec.exclude.empty()) {
    const at::Tensor flagged = read_exclusion(spec.exclude, configured);
    configured = exclude_points(configured, flagged, spec.exclude);
  }
  if (!spec.relabel.empty()) {
    configured = apply_relabelling(configured, read_relabelling(spec.relabel, configured), spec.relabel);
  }
  return configured;
}

std::vector<std::string> dataset_files(const DatasetSpec& spec) {
  if (spec.format == "idx" || spec.format == "npy") return {spec.images, spec.labels};
  if (spec.format == "cifar10") return spec.files;
  return {};
}

}  // namespace rampart::datasets
