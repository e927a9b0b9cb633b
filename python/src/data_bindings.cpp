// rampart.scan (model intake); poisoned data: rampart.audit_features, relabel_flagged, poison,
// apply_trigger, manifest and verify_manifest.
#include <torch/csrc/utils/pybind.h>

#include <ATen/ATen.h>
#include <pybind11/stl.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "attacks/backdoor_trigger.h"
#include "attacks/data_poisoning.h"
#include "core/config_node.h"
#include "core/error.h"
#include "core/json_text.h"
#include "datasets/manifest.h"
#include "defenses/poisoning/audit_report.h"
#include "defenses/poisoning/data_audit.h"
#include "defenses/poisoning/relabel_plan.h"
#include "defenses/poisoning/source_diversity.h"
#include "models/model_scan.h"

#include "python/src/bindings.h"
#include "python/src/python_model.h"
#include "python/src/tensor_images.h"

namespace py = pybind11;
using namespace rampart;

namespace {

// Python tensors as a data set: images [N, C, H, W] (float32 copies), labels [N] int64.
datasets::Dataset tensors_as_data(const at::Tensor& images, const at::Tensor& labels,
                                  int64_t num_classes, const std::string& source) {
  if (images.dim() != 4 || labels.dim() != 1 || images.size(0) != labels.size(0)) {
    throw std::invalid_argument(source + ": images [N, C, H, W] and labels [N] must agree");
  }
  datasets::Dataset data;
  data.images = python::images_as_float(images).contiguous();
  data.labels = labels.detach().to(at::kCPU, at::kLong).contiguous();
  data.num_classes = num_classes;
  data.source = source;
  if (data.labels.numel() &&
      (data.labels.min().item<int64_t>() < 0 || data.labels.max().item<int64_t>() >= num_classes)) {
    throw std::invalid_argument(source + ": a label is outside the " + std::to_string(num_classes) +
                                " classes");
  }
  return data;
}

std::string audit(const at::Tensor& features, const at::Tensor& labels, int64_t num_classes,
                  const std::string& spec_yaml, const std::optional<at::Tensor>& images,
                  const std::optional<at::Tensor>& logits) {
  const auto spec =
      defenses::poisoning::parse_audit_spec(core::parse_config(spec_yaml, "rampart.audit_features"));
  if (images.has_value() && (images->dim() != 4 || images->size(0) != features.size(0))) {
    throw std::invalid_argument("rampart.audit_features: images must be [N, C, H, W] with the "
                                "features' N rows");
  }
  defenses::poisoning::AuditResult result;
  defenses::poisoning::AuditContext context;
  context.data_source = "python tensors";
  {
    py::gil_scoped_release release;
    // The images let the spectral detector choose a poisoned class's flagged side by source
    // diversity (source_diversity.h), and bind the audit to the data (data.root, which
    // data.exclude checks, as for an audit of rampart audit-data).
    at::Tensor inputs;
    if (images.has_value()) {
      inputs = defenses::poisoning::neighbour_space(images->to(at::kCPU));
      context.data_root = datasets::data_root(
          tensors_as_data(*images, labels, num_classes, "rampart.audit_features"));
    }
    result = defenses::poisoning::audit_features(
        features.detach().to(at::kCPU, at::kFloat).contiguous(), labels.to(at::kCPU, at::kLong), num_classes,
        spec, logits.has_value() ? logits->detach().to(at::kCPU, at::kFloat).contiguous() : at::Tensor(),
        inputs);
  }
  return core::json_text(defenses::poisoning::audit_json(result, spec, context));
}

// poison_dataset on tensors: (images, labels, poisoned indices, the spec as drawn, as JSON).
py::tuple poison(const at::Tensor& images, const at::Tensor& labels, int64_t num_classes,
                 const std::string& spec_json, double range_min, double range_max) {
  const auto spec = attacks::parse_poison_spec(core::parse_config(spec_json, "rampart.poison"),
                                               num_classes, range_min, range_max);
  attacks::PoisonedData out;
  {
    py::gil_scoped_release release;
    out = attacks::poison_dataset(tensors_as_data(images, labels, num_classes, "rampart.poison"), spec);
  }
  const attacks::PoisonSpec& s = out.spec;
  nlohmann::json drawn{{"attack", s.attack}, {"rate", s.rate}, {"seed", s.seed}};
  if (s.attack == "label_flip") {
    if (s.flip_from >= 0) drawn["flip_from"] = s.flip_from, drawn["flip_to"] = s.flip_to;
  } else {
    drawn["target"] = s.target;
    drawn["trigger"] = s.trigger.to_json();
  }
  return py::make_tuple(out.data.images, out.data.labels, out.indices, core::json_text(drawn));
}

at::Tensor apply_trigger(const at::Tensor& images, const std::string& trigger_json, double range_min,
                         double range_max) {
  const attacks::TriggerSpec trigger = attacks::parse_trigger_spec(
      core::parse_config(trigger_json, "rampart.apply_trigger"), range_min, range_max);
  if (trigger.random_position) {
    throw ConfigError("rampart.apply_trigger: random_position: give the row and col (the poisoner "
                      "draws them from its seed; rampart.poison returns the ones it drew)");
  }
  if (images.dim() != 4) throw std::invalid_argument("rampart.apply_trigger: images must be [N, C, H, W]");
  py::gil_scoped_release release;
  return trigger.apply(python::images_as_float(images));
}

std::string manifest(const at::Tensor& images, const at::Tensor& labels, int64_t num_classes,
                     const std::string& source) {
  datasets::DataManifest m;
  {
    py::gil_scoped_release release;
    m = datasets::make_manifest(tensors_as_data(images, labels, num_classes, source), {});
  }
  return datasets::manifest_json(m);
}

std::string verify(const at::Tensor& images, const at::Tensor& labels, int64_t num_classes,
                   const std::string& path, const std::string& signature,
                   const std::string& public_key, const std::string& source) {
  const datasets::Dataset data = tensors_as_data(images, labels, num_classes, source);
  py::gil_scoped_release release;
  return datasets::verify_manifest(data, path, signature, public_key);
}

// (indices, from, to, confidence, left_out) of defenses::poisoning::plan_relabelling.
std::vector<at::Tensor> relabel_flagged(const at::Tensor& flagged, const at::Tensor& labels,
                                        const at::Tensor& logits, double min_confidence) {
  const auto plan = defenses::poisoning::plan_relabelling(
      flagged.to(at::kCPU), labels.to(at::kCPU), logits.detach().to(at::kCPU), min_confidence);
  return {plan.indices, plan.from, plan.to, plan.confidence, plan.left_out};
}

std::string scan(const std::string& path, const std::string& sha256, const std::string& signature,
                 const std::string& public_key, const std::string& allowlist,
                 const std::vector<int64_t>& input) {
  models::ScanRequest request{path, sha256, signature, public_key, allowlist, input};
  nlohmann::json report;
  {
    py::gil_scoped_release release;
    report = models::scan_model(request);
  }
  // Names in a hostile archive need not be UTF-8: replaced, never an exception.
  return report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

namespace rampart::python {

void bind_data(py::module_& m) {
  m.def("scan", &scan, py::arg("path"), py::arg("sha256"), py::arg("signature"),
        py::arg("public_key"), py::arg("allowlist"), py::arg("input"));
  m.def("audit_features", &audit, py::arg("features"), py::arg("labels"), py::arg("num_classes"),
        py::arg("spec"), py::arg("images") = py::none(), py::arg("logits") = py::none());
  m.def("poison", &poison, py::arg("images"), py::arg("labels"), py::arg("num_classes"),
        py::arg("spec"), py::arg("range_min"), py::arg("range_max"));
  m.def("apply_trigger", &apply_trigger, py::arg("images"), py::arg("trigger"),
        py::arg("range_min"), py::arg("range_max"));
  m.def("manifest", &manifest, py::arg("images"), py::arg("labels"), py::arg("num_classes"),
        py::arg("source"));
  m.def("verify_manifest", &verify, py::arg("images"), py::arg("labels"), py::arg("num_classes"),
        py::arg("path"), py::arg("signature"), py::arg("public_key"), py::arg("source"));
  m.def("relabel_flagged", &relabel_flagged, py::arg("flagged"), py::arg("labels"),
        py::arg("logits"), py::arg("min_confidence"));
}

}  // namespace rampart::python
