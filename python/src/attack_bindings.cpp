// rampart.fgsm, pgd, cw and the AutoAttack components: eval entries run on Python tensors.
#include <torch/csrc/utils/pybind.h>

#include <ATen/ATen.h>
#include <pybind11/stl.h>

#include <chrono>
#include <optional>

#include "core/config_node.h"
#include "core/error.h"
#include "eval/attack_config.h"

#include "python/src/bindings.h"
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

namespace rampart::python {

void bind_attacks(py::module_& m) {
  m.def("run_attack", &run_attack, py::arg("model"), py::arg("x"), py::arg("y"), py::arg("entry"),
        py::arg("caller"), py::arg("clip_min"), py::arg("clip_max"), py::arg("seed"),
        py::arg("point_ids") = py::none());
  m.def("time_attack", &time_attack, py::arg("model"), py::arg("x"), py::arg("y"),
        py::arg("entry"), py::arg("clip_min"), py::arg("clip_max"), py::arg("seed"),
        py::arg("repeats"));
}

}  // namespace rampart::python
