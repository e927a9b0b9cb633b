// rampart.scan (model intake), rampart.audit_features and rampart.relabel_flagged (poisoned data).
#include <torch/csrc/utils/pybind.h>

#include <ATen/ATen.h>
#include <pybind11/stl.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "core/config_node.h"
#include "defenses/poisoning/audit_report.h"
#include "defenses/poisoning/data_audit.h"
#include "defenses/poisoning/relabel_plan.h"
#include "defenses/poisoning/source_diversity.h"
#include "models/model_scan.h"

#include "python/src/bindings.h"
#include "python/src/python_model.h"

namespace py = pybind11;
using namespace rampart;

namespace {

std::string audit(const at::Tensor& features, const at::Tensor& labels, int64_t num_classes,
                  const std::string& spec_yaml, const std::optional<at::Tensor>& images) {
  const auto spec =
      defenses::poisoning::parse_audit_spec(core::parse_config(spec_yaml, "rampart.audit_features"));
  defenses::poisoning::AuditResult result;
  {
    py::gil_scoped_release release;
    // The images let the spectral detector choose a poisoned class's flagged side by source
    // diversity (source_diversity.h).
    const at::Tensor inputs = images.has_value()
                                  ? defenses::poisoning::neighbour_space(images->to(at::kCPU))
                                  : at::Tensor();
    result = defenses::poisoning::audit_features(features.to(at::kCPU, at::kFloat).contiguous(),
                                                 labels.to(at::kCPU, at::kLong), num_classes, spec,
                                                 at::Tensor(), inputs);
  }
  defenses::poisoning::AuditContext context;
  context.data_source = "python tensors";
  return defenses::poisoning::audit_json(result, spec, context).dump();
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
        py::arg("spec"), py::arg("images") = py::none());
  m.def("relabel_flagged", &relabel_flagged, py::arg("flagged"), py::arg("labels"),
        py::arg("logits"), py::arg("min_confidence"));
}

}  // namespace rampart::python
