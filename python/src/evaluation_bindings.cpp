// rampart.evaluate: `rampart eval` on a Python model and tensors.
#include <torch/csrc/utils/pybind.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config_node.h"
#include "core/error.h"
#include "core/runtime.h"
#include "core/version.h"
#include "datasets/dataset.h"
#include "eval/eval_config.h"
#include "eval/report_writer.h"
#include "eval/reports.h"
#include "eval/runner.h"

#include "python/src/bindings.h"
#include "python/src/python_model.h"
#include "python/src/tensor_images.h"

namespace py = pybind11;
using namespace rampart;

namespace {

void seed_generator(at::Generator generator, uint64_t seed) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(seed);
}

// `rampart eval` on tensors: the config's model and data sections are not read (the model and
// the points come from Python); everything else is (attacks, cascade, sanity, gates, report).
std::string evaluate(const py::object& model_object, const at::Tensor& x, const at::Tensor& y,
                     const std::string& config_yaml, const std::string& config_name,
                     const std::string& out_dir, bool quiet, int64_t num_classes) {
  const core::ConfigNode root = core::parse_config(config_yaml, config_name);
  for (const char* key : {"threads", "device"}) {
    if (root.has(key)) {
      root.fail_at(key, "is the caller's here: the model runs where its tensors are, with "
                        "torch's own thread count");
    }
  }
  eval::EvalConfig config = eval::parse_eval_config(root);
  config.device = x.device().str();  // not `auto`: a CPU model with CPU tensors stays there
  if (x.dim() != 4 || y.dim() != 1 || y.size(0) != x.size(0)) {
    throw ConfigError(config_name + ": x must be [N, C, H, W] and y [N] with the same N");
  }
  datasets::Dataset data;
  data.images = python::images_as_float(x).contiguous();
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
    // The CPU generator and x's device's, as the CLI seeds them; not every GPU's (at::manual_seed),
    // whose streams the caller's training on another device would find reset (the Python side
    // restores these two afterwards).
    seed_generator(at::detail::getDefaultCPUGenerator(), config.seed);
    if (x.is_cuda()) seed_generator(at::globalContext().defaultGenerator(x.device()), config.seed);
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

}  // namespace

namespace rampart::python {

void bind_evaluation(py::module_& m) {
  m.def("evaluate", &evaluate, py::arg("model"), py::arg("x"), py::arg("y"), py::arg("config"),
        py::arg("config_name"), py::arg("out"), py::arg("quiet"), py::arg("num_classes"));
}

}  // namespace rampart::python
