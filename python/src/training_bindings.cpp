// rampart.adversarial_loss and rampart.Aggregator: hardening pieces for a Python training loop.
#include <torch/csrc/utils/pybind.h>

#include <ATen/ATen.h>

#include "core/config_node.h"
#include "core/error.h"
#include "defenses/adversarial_training.h"
#include "defenses/aggregation/aggregator.h"

#include "python/src/bindings.h"
#include "python/src/python_model.h"

namespace py = pybind11;
using namespace rampart;

namespace {

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

}  // namespace

namespace rampart::python {

void bind_training(py::module_& m) {
  m.def("adversarial_loss", &adversarial_loss, py::arg("model"), py::arg("x"), py::arg("y"),
        py::arg("method"), py::arg("eps"), py::arg("steps"), py::arg("step_size"),
        py::arg("random_start"), py::arg("clean_weight"), py::arg("beta"), py::arg("craft_mode"),
        py::arg("clip_min"), py::arg("clip_max"), py::arg("seed"));
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
             // A non-finite update turns every rule's aggregate (or a coordinate of it) into
             // NaN: rank 0 of `rampart train` refuses such a frame before aggregating.
             const at::Tensor bad = updates.isfinite().all(1).logical_not().nonzero().flatten();
             if (bad.numel() > 0) {
               throw DataError("rampart.Aggregator: update " + std::to_string(bad[0].item<int64_t>()) +
                               (bad.numel() > 1 ? " (and " + std::to_string(bad.numel() - 1) + " more)" : "") +
                               " holds a non-finite value (NaN or Inf); leave it out, as rampart "
                               "train's rank 0 does");
             }
             py::gil_scoped_release release;
             return self(updates);
           })
      .def("__repr__", [](const RobustAggregator& self) {
        return "rampart.Aggregator(" + defenses::aggregation::describe(self.spec()) + ")";
      });
}

}  // namespace rampart::python
