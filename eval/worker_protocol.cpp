#include "eval/worker_protocol.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "core/bounded_cbor.h"
#include "core/error.h"
#include "core/shape_text.h"
#include "security/sandbox_probe.h"

namespace rampart::eval {
namespace {

using nlohmann::json;

constexpr int kJobVersion = 1;
constexpr std::size_t kMaxText = 2000;

const char* dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "f32";
    case at::kLong:
      return "i64";
    case at::kBool:
      return "bool";
    default:
      throw std::logic_error("worker protocol: no wire form for this dtype");
  }
}

json tensor_wire(const at::Tensor& t) {
  if (!t.defined()) return nullptr;
  const at::Tensor c = t.cpu().contiguous();
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(c.nbytes()));
  if (!bytes.empty()) std::memcpy(bytes.data(), c.data_ptr(), bytes.size());
  return {{"dtype", dtype_name(c.scalar_type())},
          {"shape", c.sizes().vec()},
          {"data", json::binary(std::move(bytes))}};
}

// An answer field that is not what it must be: the worker (the model) is not to be trusted.
[[noreturn]] void malformed(const std::string& field, const std::string& what) {
  throw ModelRejected("the evaluation worker's answer is malformed: " + field + " " + what);
}

const json& field(const json& object, const std::string& key, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) malformed(where + "." + key, "is missing");
  return object.at(key);
}

// The tensor at `key`, which must be `dtype` and exactly `shape`.
at::Tensor tensor_field(const json& object, const std::string& key, const std::string& where,
                        at::ScalarType dtype, const std::vector<int64_t>& shape) {
  const std::string name = where + "." + key;
  const json& t = field(object, key, where);
  if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data") ||
      !t.at("data").is_binary() || !t.at("shape").is_array() || t.at("dtype") != dtype_name(dtype)) {
    malformed(name, std::string("is not a ") + dtype_name(dtype) + " tensor");
  }
  std::vector<int64_t> got;
  for (const auto& d : t.at("shape")) {
    if (!d.is_number_integer()) malformed(name, "has a non-integer dimension");
    got.push_back(d.get<int64_t>());
  }
  if (got != shape) {
    malformed(name, "has shape " + core::shape_text(got) + ", not " + core::shape_text(shape));
  }
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
  const auto& bytes = t.at("data").get_binary();
  if (bytes.size() != static_cast<std::size_t>(out.nbytes())) malformed(name, "has the wrong size");
  if (!bytes.empty()) std::memcpy(out.data_ptr(), bytes.data(), bytes.size());
  if (dtype == at::kBool) {  // a bool byte other than 0 or 1 is undefined behaviour in C++
    const auto* p = static_cast<const std::uint8_t*>(out.data_ptr());
    for (int64_t i = 0; i < out.numel(); ++i) {
      if (p[i] > 1) malformed(name, "holds a bool that is neither 0 nor 1");
    }
  }
  if (dtype == at::kFloat && out.numel() > 0 && !at::isfinite(out).all().item<bool>()) {
    malformed(name, "holds a value that is not finite");
  }
  return out;
}

at::Tensor class_field(const json& object, const std::string& key, const std::string& where,
                       int64_t count, int64_t classes) {
  at::Tensor t = tensor_field(object, key, where, at::kLong, {count});
  if (count > 0 && (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= classes)) {
    malformed(where + "." + key, "holds a class outside [0, " + std::to_string(classes) + ")");
  }
  return t;
}

double number_field(const json& object, const std::string& key, const std::string& where,
                    double low, double high) {
  const json& v = field(object, key, where);
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < low ||
      v.get<double>() > high) {
    malformed(where + "." + key, "is not a number in range");
  }
  return v.get<double>();
}

int64_t count_field(const json& object, const std::string& key, const std::string& where,
                    int64_t high) {
  const json& v = field(object, key, where);
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > high) {
    malformed(where + "." + key, "is not a count in [0, " + std::to_string(high) + "]");
  }
  return v.get<int64_t>();
}

// A string the worker wrote: printable ASCII only, capped.
std::string text_field(const json& object, const std::string& key, const std::string& where) {
  const json& v = field(object, key, where);
  if (!v.is_string()) malformed(where + "." + key, "is not a string");
  return security::escape_untrusted(v.get<std::string>().substr(0, kMaxText));
}

std::vector<int64_t> with_batch(int64_t n, const at::Tensor& images) {
  std::vector<int64_t> shape{n};
  for (int64_t d = 1; d < images.dim(); ++d) shape.push_back(images.size(d));
  return shape;
}

json dataset_wire(const datasets::Dataset& d) {
  return {{"images", tensor_wire(d.images.to(at::kFloat))},
          {"labels", tensor_wire(d.labels)},
          {"num_classes", d.num_classes},
          {"source", d.source}};
}

datasets::Dataset dataset_from_wire(const json& j, const std::string& where) {
  datasets::Dataset d;
  const json& images = field(j, "images", where);
  std::vector<int64_t> shape;
  for (const auto& v : field(images, "shape", where + ".images")) shape.push_back(v.get<int64_t>());
  if (shape.empty()) throw std::runtime_error(where + ": images without a batch dimension");
  d.images = tensor_field(j, "images", where, at::kFloat, shape);
  d.labels = tensor_field(j, "labels", where, at::kLong, {shape[0]});
  d.num_classes = j.at("num_classes").get<int64_t>();
  d.source = j.at("source").get<std::string>();
  return d;
}

const std::set<std::string> kProbeChecks{"eval_mode",  "deterministic", "zero_gradients",
                                         "large_eps",  "pgd_vs_fgsm",   "probability_output"};

}  // namespace

std::string encode_job(const WorkerJob& job) {
  json files = json::array();
  for (const auto& f : job.files) {
    files.push_back({{"path", f.path},
                     {"sha256", f.sha256},
                     {"format", static_cast<int>(f.format)},
                     {"verified_by", f.verified_by},
                     {"bytes", json::binary(std::vector<std::uint8_t>(f.bytes.begin(), f.bytes.end()))}});
  }
  const json j{{"version", kJobVersion},
               {"config_yaml", job.config_yaml},
               {"config_name", job.config_name},
               {"files", files},
               {"data", dataset_wire(job.data)},
               {"calibration", job.calibration ? dataset_wire(*job.calibration) : json(nullptr)},
               {"memory_bytes", job.memory_bytes},
               {"threads", job.threads},
               {"scope",
                {{"begin", job.scope.begin},
                 {"end", job.scope.end},
                 {"sanity_probes", job.scope.sanity_probes}}}};
  const std::vector<std::uint8_t> bytes = json::to_cbor(j);
  return {bytes.begin(), bytes.end()};
}

WorkerJob decode_job(std::string_view bytes) {
  const json j = json::from_cbor(bytes.begin(), bytes.end());
  if (j.value("version", 0) != kJobVersion) throw std::runtime_error("not a job of this version");
  WorkerJob job;
  job.config_yaml = j.at("config_yaml").get<std::string>();
  job.config_name = j.at("config_name").get<std::string>();
  for (const auto& f : j.at("files")) {
    security::ModelFile file;
    file.path = f.at("path").get<std::string>();
    file.sha256 = f.at("sha256").get<std::string>();
    file.format = static_cast<security::ModelFormat>(f.at("format").get<int>());
    file.verified_by = f.at("verified_by").get<std::vector<std::string>>();
    const auto& b = f.at("bytes").get_binary();
    file.bytes.assign(b.begin(), b.end());
    job.files.push_back(std::move(file));
  }
  job.data = dataset_from_wire(j.at("data"), "data");
  if (!j.at("calibration").is_null()) job.calibration = dataset_from_wire(j.at("calibration"), "calibration");
  job.memory_bytes = j.at("memory_bytes").get<int64_t>();
  job.threads = j.at("threads").get<int64_t>();
  job.scope.begin = j.at("scope").at("begin").get<int64_t>();
  job.scope.end = j.at("scope").at("end").get<int64_t>();
  job.scope.sanity_probes = j.at("scope").at("sanity_probes").get<bool>();
  return job;
}

std::string encode_measurements(const Measurements& m) {
  json probe = json::array();
  for (const auto& c : m.probe) {
    probe.push_back({{"id", c.id},
                     {"flagged", c.flagged},
                     {"value", c.value},
                     {"threshold", c.threshold},
                     {"message", c.message}});
  }
  json detector = nullptr;
  if (m.detector) {
    detector = {{"description", m.detector->description},
                {"threshold", m.detector->threshold},
                {"calibration_points", m.detector->calibration_points},
                {"calibration_fpr", m.detector->calibration_fpr},
                {"clean_flagged", tensor_wire(m.detector->clean_flagged)}};
  }
  json attacks = json::array();
  for (std::size_t i = 0; i < m.attacks.size(); ++i) {
    const AttackRun& r = m.attacks[i];
    attacks.push_back({{"success", tensor_wire(r.outcome.success)},
                       {"l2", tensor_wire(r.outcome.l2)},
                       {"linf", tensor_wire(r.outcome.linf)},
                       {"seconds", r.outcome.seconds},
                       {"forward_samples", r.outcome.forward_samples},
                       {"backward_samples", r.outcome.backward_samples},
                       {"fooled_by", tensor_wire(r.outcome.fooled_by.defined()
                                                     ? r.outcome.fooled_by + 1
                                                     : r.outcome.fooled_by)},
                       {"attacked", r.attacked},
                       {"adversarial", tensor_wire(r.adversarial)},
                       {"detected", tensor_wire(r.detected)},
                       {"example_indices", tensor_wire(r.example_indices)},
                       {"example_adversarial", tensor_wire(r.example_adversarial)},
                       {"example_predictions", tensor_wire(m.example_predictions.at(i))}});
  }
  const json j{{"model_description", m.model_description},
               {"clean_predictions", tensor_wire(m.clean_predictions)},
               {"probe", probe},
               {"detector", detector},
               {"attacks", attacks}};
  const std::vector<std::uint8_t> bytes = json::to_cbor(j);
  return {bytes.begin(), bytes.end()};
}

Measurements decode_measurements(std::string_view bytes, const EvalConfig& config,
                                 const datasets::Dataset& data,
                                 const datasets::Dataset* calibration) {
  json j;
  try {
    j = core::parse_bounded_cbor(bytes);
  } catch (const json::exception& e) {
    malformed("answer", std::string("is not CBOR (") + e.what() + ")");
  } catch (const std::invalid_argument& e) {
    malformed("answer", e.what());
  }
  const int64_t n = data.size();
  const int64_t classes = config.model.num_classes;
  const std::vector<int64_t> points{n};
  Measurements m;
  m.model_description = text_field(j, "model_description", "answer");
  m.clean_predictions = class_field(j, "clean_predictions", "answer", n, classes);

  const json& probe = field(j, "probe", "answer");
  if (!probe.is_array() || probe.size() > kProbeChecks.size()) malformed("answer.probe", "is not a list of checks");
  std::set<std::string> seen_checks;
  for (const auto& c : probe) {
    SanityCheck check;
    check.id = text_field(c, "id", "answer.probe");
    if (kProbeChecks.count(check.id) == 0) malformed("answer.probe", "names an unknown check");
    if (!seen_checks.insert(check.id).second) malformed("answer.probe", "names a check twice");
    const json& flagged = field(c, "flagged", "answer.probe." + check.id);
    if (!flagged.is_boolean()) malformed("answer.probe." + check.id + ".flagged", "is not a bool");
    check.flagged = flagged.get<bool>();
    check.value = number_field(c, "value", "answer.probe." + check.id, -1e300, 1e300);
    check.threshold = number_field(c, "threshold", "answer.probe." + check.id, -1e300, 1e300);
    check.message = text_field(c, "message", "answer.probe." + check.id);
    m.probe.push_back(std::move(check));
  }

  const json& detector = field(j, "detector", "answer");
  if (detector.is_null() != !config.detector) malformed("answer.detector", "does not match the config");
  if (config.detector) {
    const std::string w = "answer.detector";
    DetectorMeasurement d;
    d.description = text_field(detector, "description", w);
    d.threshold = number_field(detector, "threshold", w, -1e300, 1e300);
    d.calibration_points = count_field(detector, "calibration_points", w, calibration->size());
    d.calibration_fpr = number_field(detector, "calibration_fpr", w, 0, 1);
    d.clean_flagged = tensor_field(detector, "clean_flagged", w, at::kBool, points);
    m.detector = std::move(d);
  }

  const json& attacks = field(j, "attacks", "answer");
  if (!attacks.is_array() || attacks.size() != config.attacks.size()) {
    malformed("answer.attacks", "does not have one entry per configured attack");
  }
  for (std::size_t i = 0; i < config.attacks.size(); ++i) {
    const ConfiguredAttack& attack = config.attacks[i];
    const json& a = attacks[i];
    const std::string w = "answer.attacks[" + attack.id + "]";
    AttackRun r;
    r.outcome.id = attack.id;
    r.outcome.norm = attack.norm;
    r.outcome.eps = attack.eps;
    r.outcome.bounded = attack.bounded;
    r.outcome.backdoor_target = attack.backdoor_target;
    r.outcome.success = tensor_field(a, "success", w, at::kBool, points);
    r.outcome.l2 = tensor_field(a, "l2", w, at::kFloat, points);
    r.outcome.linf = tensor_field(a, "linf", w, at::kFloat, points);
    r.outcome.seconds = number_field(a, "seconds", w, 0, 1e9);
    r.outcome.forward_samples = count_field(a, "forward_samples", w, INT64_MAX);
    r.outcome.backward_samples = count_field(a, "backward_samples", w, INT64_MAX);
    r.attacked = count_field(a, "attacked", w, n);
    r.outcome.components = attack.attack->components();
    if (!r.outcome.components.empty()) {
      const auto parts = static_cast<int64_t>(r.outcome.components.size());
      r.outcome.fooled_by = class_field(a, "fooled_by", w, n, parts + 1) - 1;
      if (!r.outcome.fooled_by.ge(0).equal(r.outcome.success)) {
        malformed(w + ".fooled_by", "does not match the points the attack fooled");
      }
    }
    if (config.report.save_adversarial) {
      r.adversarial = tensor_field(a, "adversarial", w, at::kFloat, with_batch(n, data.images));
    }
    if (config.detector) r.detected = tensor_field(a, "detected", w, at::kBool, points);
    const json& indices = field(a, "example_indices", w);
    const int64_t k = indices.is_object() && indices.contains("shape") &&
                              indices.at("shape").is_array() && indices.at("shape").size() == 1 &&
                              indices.at("shape")[0].is_number_integer()
                          ? indices.at("shape")[0].get<int64_t>()
                          : -1;
    if (k < 0 || k > config.report.examples) malformed(w + ".example_indices", "has a bad size");
    r.example_indices = class_field(a, "example_indices", w, k, std::max<int64_t>(n, 1));
    if (k > 0) {
      r.example_adversarial =
          tensor_field(a, "example_adversarial", w, at::kFloat, with_batch(k, data.images));
    }
    m.example_predictions.push_back(class_field(a, "example_predictions", w, k, classes));
    m.attacks.push_back(std::move(r));
  }
  return m;
}

}  // namespace rampart::eval
