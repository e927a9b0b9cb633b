#include "datasets/exclusion.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/manifest.h"

namespace rampart::datasets {

namespace {

// The sorted, distinct `flagged` indices of the audit `audit` (read from `file`), checked
// against the data's point count, manifest root and root (`known_root`, or computed).
at::Tensor flagged_points(const nlohmann::json& audit, const std::string& file,
                          const Dataset& dataset, const std::string& known_root) {
  const int64_t points = dataset.size();
  const std::string& manifest_root = dataset.manifest_root;
  if (!audit.is_object() || audit.value("schema", "") != "rampart-data-audit/1" ||
      !audit.contains("flagged") || !audit["flagged"].is_array()) {
    throw DataError(file + ": not a data audit (schema rampart-data-audit/1 with 'flagged')");
  }
  // `data` (what was audited) may be absent (an audit written by hand) but not malformed: a
  // field of the wrong type would skip the check it is there for.
  const nlohmann::json data = audit.value("data", nlohmann::json::object());
  if (!data.is_object()) throw DataError(file + ": 'data' is not an object");
  const auto optional_string = [&](const char* key) {
    if (!data.contains(key) || data[key].is_null()) return std::string();
    if (!data[key].is_string()) throw DataError(file + ": data." + key + " is not a string");
    return data[key].get<std::string>();
  };
  if (data.contains("points")) {
    if (!data["points"].is_number_integer() || data["points"].get<int64_t>() < 0) {
      throw DataError(file + ": data.points is not a point count: " + data["points"].dump());
    }
    if (data["points"].get<int64_t>() != points) {
      throw DataError(file + ": the audit covered " + std::to_string(data["points"].get<int64_t>()) +
                      " points but the data has " + std::to_string(points) +
                      ": its indices would name other points");
    }
  }
  const std::string audited_manifest_root = optional_string("manifest_root");
  if (!manifest_root.empty() && !audited_manifest_root.empty() &&
      audited_manifest_root != manifest_root) {
    throw DataError(file + ": the audit's data manifest root " + audited_manifest_root +
                    " differs from the data's " + manifest_root + ": it audited other data");
  }
  if (const std::string audited_root = optional_string("root"); !audited_root.empty()) {
    const std::string root = known_root.empty() ? data_root(dataset) : known_root;
    if (audited_root != root) {
      throw DataError(file + ": the audit's data root " + audited_root +
                      " differs from the data's " + root +
                      ": it audited other data (an image or label changed)");
    }
  }
  std::vector<int64_t> flagged;
  flagged.reserve(audit["flagged"].size());
  for (const auto& v : audit["flagged"]) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= points) {
      throw DataError(file + ": flagged index " + v.dump() + " is not a point of the " +
                      std::to_string(points) + " in the data");
    }
    flagged.push_back(v.get<int64_t>());
  }
  at::Tensor out = at::tensor(flagged, at::kLong);
  return out.numel() ? std::get<0>(at::_unique(out, /*sorted=*/true)) : out;
}

}  // namespace

at::Tensor read_exclusion(const std::string& path, const Dataset& data, const std::string& root) {
  std::error_code ec;  // a symlink loop or an overlong name: read_file names the problem
  const std::string file = std::filesystem::is_directory(path, ec)
                               ? (std::filesystem::path(path) / "audit.json").string()
                               : path;
  nlohmann::json audit;
  try {
    audit = nlohmann::json::parse(core::read_file(file, 1ull << 30));
  } catch (const nlohmann::json::exception& e) {
    throw DataError(file + ": not JSON (" + std::string(e.what()) + ")");
  }
  try {
    return flagged_points(audit, file, data, root);
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong type
    throw DataError(file + ": not a data audit (" + std::string(e.what()) + ")");
  }
}

Dataset exclude_points(const Dataset& data, const at::Tensor& indices, const std::string& file) {
  if (data.size() > 0 && indices.numel() >= data.size()) {
    throw DataError(file + ": leaves out all " + std::to_string(data.size()) +
                    " points of the data: nothing would be left to train on");
  }
  Dataset out = data;
  at::Tensor keep = at::ones({data.size()}, at::kBool);
  if (indices.numel()) keep.index_fill_(0, indices, false);
  const at::Tensor rows = keep.nonzero().flatten();
  out.images = data.images.index_select(0, rows).contiguous();
  out.labels = data.labels.index_select(0, rows).contiguous();
  out.excluded_points = indices.numel();
  out.exclusion_file = file;
  return out;
}

}  // namespace rampart::datasets
