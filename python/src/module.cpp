// The `rampart._rampart` extension: the library's attacks, evaluation, adversarial training
// losses and poisoning detectors on tensors and models that come from Python. Tensors cross as
// they are (the same at::Tensor, no copy). The Python package (python/rampart/) wraps these
// functions with keyword arguments, docstrings and types.
#include <torch/csrc/utils/pybind.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <pybind11/stl.h>

#include "core/clock.h"
#include "core/config_node.h"
#include "core/error.h"
#include "core/runtime.h"
#include "core/version.h"
#include "datasets/dataset.h"
#include "defenses/adversarial_training.h"
#include "defenses/aggregation/aggregator.h"
#include "defenses/poisoning/audit_report.h"
#include "defenses/poisoning/data_audit.h"
#include "eval/attack_config.h"
#include "eval/eval_config.h"
#include "eval/report_writer.h"
#include "eval/reports.h"
#include "eval/runner.h"
#include "models/model_scan.h"
#include "python/src/python_model.h"

namespace py = pybind11;
using namespace rampart;

namespace {

// One attack as a config entry configures it (eval::parse_attacks: the same defaults, checks,
// random-start stream and messages as `rampart eval`), run on (x, y).
py::dict run_attack(const py::object& model_object, const at::Tensor& x, const at::Tensor& y,
                    const std::string& entry_json, const std::string& caller, double clip_min,
                    double clip_max, uint64_t seed, const std::optional<at::Tensor>& point_ids) {
  const core::ConfigNode root = core::parse_config("attacks: [" + entry_json + "]", caller);
  const auto attacks = eval::parse_attacks(root, eval::AttackContext{clip_min, clip_max, seed});
  if (attacks.size() != 1) throw ConfigError(caller + ": give one eps (a number, not a list)");
  if (x.dim() != 4) throw ConfigError(caller + ": x must be a batch [N, C, H, W]");
  if (y.dim() != 1 || y.size(0) != x.size(0)) {
    throw ConfigError(caller + ": y must hold one label per image of x (" +
                      std::to_string(x.size(0)) + ")");
  }
  const at::Tensor ids = point_ids ? point_ids->to(at::kLong) : at::arange(x.size(0), at::kLong);
  const std::shared_ptr<models::Model> model = python::model_from_python(model_object);
  attacks::AttackResult result;
  {
    py::gil_scoped_release release;  // a ScriptModule never needs it; a callback takes it back
    result = attacks[0].attack->run(*model, x, y.to(x.device(), at::kLong), ids.to(x.device()));
  }
  py::dict out;
  out["adversarial"] = result.adversarial;
  out["success"] = result.success;
  out["l2"] = result.l2;
  out["linf"] = result.linf;
  out["id"] = attacks[0].id;
  out["forward_samples"] = result.forward_samples;
  out["backward_samples"] = result.backward_samples;
  return out;
}

py::tuple adversarial_loss(const py::object& model_object, const at::Tensor& x, const at::Tensor& y,
                           const std::string& method, double eps, int64_t steps, double step_size,
                           bool random_start, double clean_weight, double beta,
                           const std::string& craft_mode, double clip_min, double clip_max,
                           uint64_t seed) {
  defenses::AdversarialMethod m;
  if (method == "pgd_at") m = defenses::AdversarialMethod::kPgdAt;
  else if (method == "fgsm_rs") m = defenses::AdversarialMethod::kFgsmRs;
  else if (method == "trades") m = defenses::AdversarialMethod::kTrades;
  else throw ConfigError("method: '" + method + "' is not one of pgd_at, fgsm_rs, trades");
  defenses::CraftMode mode;
  if (craft_mode == "default") mode = defenses::CraftMode::kDefault;
  else if (craft_mode == "train") mode = defenses::CraftMode::kTrain;
  else if (craft_mode == "eval") mode = defenses::CraftMode::kEval;
  else throw ConfigError("craft_mode: '" + craft_mode + "' is not one of default, train, eval");
  const auto options = defenses::AdversarialTrainingOptions(m, eps)
                           .steps(steps)
                           .step_size(step_size)
                           .random_init(random_start)
                           .clean_weight(clean_weight)
                           .beta(beta)
                           .craft_mode(mode)
                           .clip_min(clip_min)
                           .clip_max(clip_max);
  defenses::validate(options);
  const std::shared_ptr<models::Model> model = python::model_from_python(model_object);
  training::BatchObjective objective;
  {
    py::gil_scoped_release release;
    objective = defenses::adversarial_objective(*model, x, y.to(x.device(), at::kLong), options, seed);
  }
  return py::make_tuple(objective.loss, objective.logits);
}

// `rampart eval` on tensors: the config's model and data sections are not read (the model and
// the points come from Python); everything else is (attacks, cascade, sanity, gates, report).
std::string evaluate(const py::object& model_object, const at::Tensor& x, const at::Tensor& y,
                     const std::string& config_yaml, const std::string& config_name,
                     const std::string& out_dir, bool quiet, int64_t num_classes) {
  const core::ConfigNode root = core::parse_config(config_yaml, config_name);
  const eval::EvalConfig config = eval::parse_eval_config(root);
  if (x.dim() != 4 || y.dim() != 1 || y.size(0) != x.size(0)) {
    throw ConfigError(config_name + ": x must be [N, C, H, W] and y [N] with the same N");
  }
  datasets::Dataset data;
  data.images = x.to(at::kCPU, at::kFloat).contiguous();
  data.labels = y.to(at::kCPU, at::kLong).contiguous();
  data.num_classes = num_classes;
  data.source = "python tensors";
  datasets::validate_labels(data.labels, num_classes, "y");
  const std::shared_ptr<models::Model> model = python::model_from_python(model_object);
  eval::Provenance provenance;
  provenance.rampart_version = kVersion;
  provenance.libtorch_version = TORCH_VERSION;
  provenance.device = x.device().str();
  provenance.threads = at::get_num_threads();
  provenance.seed = config.seed;
  provenance.config_file = config.source;
  provenance.config_sha256 = config.config_hash;
  provenance.model_description = model->describe();
  provenance.model_path = model->describe();
  provenance.data_source = data.source;
  provenance.started_at = core::utc_now_iso8601();
  eval::EvalOptions options;
  options.quiet = quiet;
  eval::EvalOutput output;
  {
    py::gil_scoped_release release;
    core::seed_everything(config.seed);
    output = eval::evaluate(config, *model, data, options, provenance);
  }
  if (!out_dir.empty()) {
    eval::ReportSpec spec = config.report;
    spec.dir = out_dir;
    eval::write_reports(spec, output);
  }
  nlohmann::json report = eval::report_json(output.evaluation);
  report["exit_code"] = output.evaluation.exit_code();
  return report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string audit(const at::Tensor& features, const at::Tensor& labels, int64_t num_classes,
                  const std::string& spec_yaml) {
  const auto spec =
      defenses::poisoning::parse_audit_spec(core::parse_config(spec_yaml, "rampart.audit_features"));
  defenses::poisoning::AuditResult result;
  {
    py::gil_scoped_release release;
    result = defenses::poisoning::audit_features(features.to(at::kCPU, at::kFloat).contiguous(),
                                                 labels.to(at::kCPU, at::kLong), num_classes, spec);
  }
  defenses::poisoning::AuditContext context;
  context.data_source = "python tensors";
  return defenses::poisoning::audit_json(result, spec, context).dump();
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

// The C++ side of bench/python_pgd_bench.py: seconds per call of one configured attack timed in
// C++ (the GIL released), the baseline that the Python call's overhead is measured against.
std::vector<double> time_attack(const py::object& model_object, const at::Tensor& x,
                                const at::Tensor& y, const std::string& entry_json, double clip_min,
                                double clip_max, uint64_t seed, int64_t repeats) {
  const core::ConfigNode root = core::parse_config("attacks: [" + entry_json + "]", "time_attack");
  const auto attacks = eval::parse_attacks(root, eval::AttackContext{clip_min, clip_max, seed});
  const std::shared_ptr<models::Model> model = python::model_from_python(model_object);
  const at::Tensor ids = at::arange(x.size(0), at::kLong);
  std::vector<double> seconds;
  py::gil_scoped_release release;
  for (int64_t r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    attacks.at(0).attack->run(*model, x, y, ids);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return seconds;
}

}  // namespace

PYBIND11_MODULE(_rampart, m) {
  m.doc() = "Rampart's native core: attacks, evaluation, adversarial training, poisoning audits.";
  // rampart.Error and its categories, with the library's one-line messages.
  static py::exception<rampart::Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<rampart::ConfigError> config_error(m, "ConfigError", error.ptr());
  static py::exception<rampart::ModelRejected> model_rejected(m, "ModelRejected", error.ptr());
  static py::exception<rampart::DataError> data_error(m, "DataError", error.ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const rampart::ConfigError& e) {
      config_error(e.what());
    } catch (const rampart::ModelRejected& e) {
      model_rejected(e.what());
    } catch (const rampart::DataError& e) {
      data_error(e.what());
    } catch (const rampart::Error& e) {
      error(e.what());
    } catch (const c10::Error& e) {
      // A libtorch error (a shape mismatch in the model, say): its message, not its backtrace.
      PyErr_SetString(PyExc_RuntimeError, e.what_without_backtrace());
    }
  });
  m.attr("__version__") = kVersion;
  m.attr("libtorch_version") = TORCH_VERSION;
  m.def("run_attack", &run_attack, py::arg("model"), py::arg("x"), py::arg("y"), py::arg("entry"),
        py::arg("caller"), py::arg("clip_min"), py::arg("clip_max"), py::arg("seed"),
        py::arg("point_ids") = py::none());
  m.def("adversarial_loss", &adversarial_loss, py::arg("model"), py::arg("x"), py::arg("y"),
        py::arg("method"), py::arg("eps"), py::arg("steps"), py::arg("step_size"),
        py::arg("random_start"), py::arg("clean_weight"), py::arg("beta"), py::arg("craft_mode"),
        py::arg("clip_min"), py::arg("clip_max"), py::arg("seed"));
  m.def("evaluate", &evaluate, py::arg("model"), py::arg("x"), py::arg("y"), py::arg("config"),
        py::arg("config_name"), py::arg("out"), py::arg("quiet"), py::arg("num_classes"));
  m.def("scan", &scan, py::arg("path"), py::arg("sha256"), py::arg("signature"),
        py::arg("public_key"), py::arg("allowlist"), py::arg("input"));
  m.def("time_attack", &time_attack, py::arg("model"), py::arg("x"), py::arg("y"),
        py::arg("entry"), py::arg("clip_min"), py::arg("clip_max"), py::arg("seed"),
        py::arg("repeats"));
  using defenses::aggregation::RobustAggregator;
  py::class_<RobustAggregator>(m, "Aggregator")
      .def(py::init([](const std::string& spec_json, uint64_t seed) {
             return RobustAggregator(defenses::aggregation::parse_aggregator_spec(
                                         core::parse_config(spec_json, "rampart.Aggregator")),
                                     seed);
           }),
           py::arg("spec"), py::arg("seed"))
      .def("__call__",
           [](RobustAggregator& self, const at::Tensor& updates) {
             if (updates.dim() != 2 || updates.size(0) < self.min_inputs()) {
               throw ConfigError("rampart.Aggregator: updates must be [n, d] with n >= " +
                                 std::to_string(self.min_inputs()) + " for " +
                                 defenses::aggregation::describe(self.spec()));
             }
             py::gil_scoped_release release;
             return self(updates);
           })
      .def("__repr__", [](const RobustAggregator& self) {
        return "rampart.Aggregator(" + defenses::aggregation::describe(self.spec()) + ")";
      });
  m.def("audit_features", &audit, py::arg("features"), py::arg("labels"), py::arg("num_classes"),
        py::arg("spec"));
}
