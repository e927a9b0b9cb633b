#include "datasets/relabel_file.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "core/atomic_file.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/version.h"
#include "datasets/exclusion.h"
#include "datasets/manifest.h"
#include "security/model_intake.h"

namespace rampart::datasets {
namespace {

using nlohmann::json;

constexpr const char* kSchema = "rampart-data-relabel/1";

std::vector<int64_t> longs(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

int64_t integer_in(const json& v, int64_t lo, int64_t hi, const std::string& what,
                   const std::string& file) {
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() >= hi) {
    throw DataError(file + ": " + what + " " + v.dump() + " is outside [" + std::to_string(lo) +
                    ", " + std::to_string(hi) + ")");
  }
  return v.get<int64_t>();
}

Relabelling read_fields(const json& j, const std::string& path, const Dataset& data) {
  if (!j.is_object() || j.value("schema", "") != kSchema || !j.contains("relabelled") ||
      !j["relabelled"].is_array() || !j.contains("left_out") || !j["left_out"].is_array() ||
      !j.contains("data") || !j["data"].is_object()) {
    throw DataError(path + ": not a relabelling (schema " + kSchema +
                    " with 'data', 'relabelled' and 'left_out'; `rampart data relabel` writes one)");
  }
  Relabelling r;
  const int64_t n = data.size();
  r.points = j["data"].value("points", int64_t{-1});
  if (r.points != n) {
    throw DataError(path + ": made for " + std::to_string(r.points) + " points but the data has " +
                    std::to_string(n) + ": its indices would name other points");
  }
  r.data_root = j["data"].value("root", "");
  const std::string root = data_root(data);
  if (r.data_root != root) {
    throw DataError(path + ": made for the data with root " +
                    (r.data_root.empty() ? std::string("(none recorded)") : r.data_root) +
                    ", the data's is " + root + ": it relabels other data (an image or label changed)");
  }
  r.source = j["data"].value("source", "");
  r.audit = j.value("audit", "");
  if (j.contains("model") && j["model"].is_object()) {
    r.model = j["model"].value("checkpoint", "");
    r.model_sha256 = j["model"].value("sha256", "");
  }
  r.min_confidence = j.value("min_confidence", 0.0);

  const at::Tensor labels = data.labels.to(at::kLong).contiguous();
  const int64_t* y = labels.data_ptr<int64_t>();
  std::vector<char> named(static_cast<size_t>(n), 0);
  auto claim = [&](int64_t index) {
    if (named[static_cast<size_t>(index)]++) {
      throw DataError(path + ": point " + std::to_string(index) + " is named twice");
    }
  };
  std::vector<int64_t> idx, from, to;
  std::vector<float> confidence;
  for (const auto& e : j["relabelled"]) {
    if (!e.is_object() || !e.contains("index") || !e.contains("from") || !e.contains("to")) {
      throw DataError(path + ": a 'relabelled' entry needs index, from and to, got " + e.dump());
    }
    const int64_t i = integer_in(e["index"], 0, n, "relabelled index", path);
    const std::string point = "point " + std::to_string(i) + "'s ";
    const int64_t f = integer_in(e["from"], 0, data.num_classes, point + "label (from)", path);
    const int64_t t = integer_in(e["to"], 0, data.num_classes, point + "new label (to)", path);
    claim(i);
    if (y[i] != f) {
      throw DataError(path + ": point " + std::to_string(i) + " has label " + std::to_string(y[i]) +
                      " in the data, the relabelling was made for label " + std::to_string(f) +
                      ": it relabels other data");
    }
    if (t == f) {  // rampart data relabel never writes this: a flagged label is not kept
      throw DataError(path + ": point " + std::to_string(i) + " is relabelled from " +
                      std::to_string(f) + " to the same label: a flagged point keeps no label "
                      "it was flagged under (list it in left_out instead)");
    }
    idx.push_back(i);
    from.push_back(f);
    to.push_back(t);
    confidence.push_back(e.value("confidence", 0.0F));
  }
  std::vector<int64_t> left_out;
  for (const auto& v : j["left_out"]) {
    left_out.push_back(integer_in(v, 0, n, "left_out index", path));
    claim(left_out.back());
  }
  const at::Tensor order = at::tensor(idx, at::kLong).argsort();
  r.indices = at::tensor(idx, at::kLong).index_select(0, order);
  r.from = at::tensor(from, at::kLong).index_select(0, order);
  r.to = at::tensor(to, at::kLong).index_select(0, order);
  r.confidence = at::tensor(confidence, at::kFloat).index_select(0, order);
  r.left_out = std::get<0>(at::sort(at::tensor(left_out, at::kLong)));
  return r;
}

}  // namespace

std::string relabelling_json(const Relabelling& r) {
  json relabelled = json::array();
  const auto idx = longs(r.indices), from = longs(r.from), to = longs(r.to);
  const at::Tensor conf = r.confidence.to(at::kFloat).contiguous();
  for (size_t i = 0; i < idx.size(); ++i) {
    relabelled.push_back({{"index", idx[i]},
                          {"from", from[i]},
                          {"to", to[i]},
                          {"confidence", conf.data_ptr<float>()[i]}});
  }
  const json j{{"schema", kSchema},
               {"tool", std::string("rampart ") + kVersion},
               {"created_at", core::utc_now_iso8601()},
               {"data", {{"points", r.points}, {"root", r.data_root}, {"source", r.source}}},
               {"audit", r.audit},
               {"model", {{"checkpoint", r.model}, {"sha256", r.model_sha256}}},
               {"min_confidence", r.min_confidence},
               {"relabelled", relabelled},
               {"left_out", longs(r.left_out)}};
  return core::json_text(j, 1) + "\n";
}

Relabelling read_relabelling(const std::string& path, const Dataset& data) {
  const std::string bytes = core::read_file(path, 1ull << 30);
  json j;
  try {
    j = json::parse(bytes);
  } catch (const json::exception& e) {
    throw DataError(path + ": not JSON (" + std::string(e.what()) + ")");
  }
  try {
    Relabelling r = read_fields(j, path, data);
    r.file_sha256 = security::sha256_hex(bytes);
    return r;
  } catch (const json::exception& e) {  // a field of the wrong type
    throw DataError(path + ": not a relabelling (" + std::string(e.what()) + ")");
  }
}

Dataset apply_relabelling(const Dataset& data, const Relabelling& r, const std::string& file) {
  Dataset relabelled = data;
  relabelled.labels = data.labels.to(at::kLong).clone();
  if (r.indices.numel()) relabelled.labels.index_copy_(0, r.indices, r.to);
  Dataset out = exclude_points(relabelled, r.left_out, file);
  // The left-out points count in excluded_points, but this is no data.exclude: a model trained
  // on it must not pass for the sanitised model of the audit (rampart data relabel checks it).
  out.exclusion_file = data.exclusion_file;
  out.relabelled_points = r.indices.numel();
  out.relabel_file = file;
  out.relabel_sha256 = r.file_sha256;
  return out;
}

}  // namespace rampart::datasets
