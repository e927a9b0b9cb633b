#include "python/src/python_model.h"

#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/jit/python/module_python.h>

#include <stdexcept>

namespace py = pybind11;

namespace rampart::python {

PythonModel::PythonModel(py::object module) : module_(std::move(module)) {
  if (!PyCallable_Check(module_.ptr())) {
    throw py::type_error("model: expected a torch.nn.Module, a torch.jit.ScriptModule or a "
                         "callable from a batch to logits, got " +
                         std::string(py::str(py::type::of(module_).attr("__name__"))));
  }
  is_module_ = py::isinstance(module_, py::module_::import("torch.nn").attr("Module"));
}

PythonModel::~PythonModel() {
  py::gil_scoped_acquire gil;
  module_ = py::object();
}

at::Tensor PythonModel::forward(const at::Tensor& x) {
  py::gil_scoped_acquire gil;
  py::object out = module_(x);
  if (!THPVariable_Check(out.ptr())) {
    throw std::runtime_error(describe() + ": forward must return one Tensor of logits, got " +
                             std::string(py::str(py::type::of(out).attr("__name__"))));
  }
  return out.cast<at::Tensor>();
}

bool PythonModel::is_training() const {
  py::gil_scoped_acquire gil;
  return is_module_ && module_.attr("training").cast<bool>();
}

void PythonModel::set_training(bool training) {
  py::gil_scoped_acquire gil;
  if (is_module_) module_.attr("train")(training);
}

std::vector<at::Tensor> PythonModel::parameters() {
  py::gil_scoped_acquire gil;
  std::vector<at::Tensor> out;
  if (!is_module_) return out;
  for (const py::handle p : module_.attr("parameters")()) out.push_back(p.cast<at::Tensor>());
  return out;
}

std::string PythonModel::describe() const {
  py::gil_scoped_acquire gil;
  return "python:" + std::string(py::str(py::type::of(module_).attr("__name__")));
}

std::vector<bool> PythonModel::module_modes() const {
  py::gil_scoped_acquire gil;
  std::vector<bool> modes;
  if (!is_module_) return {false};
  for (const py::handle m : module_.attr("modules")()) modes.push_back(m.attr("training").cast<bool>());
  return modes;
}

void PythonModel::set_module_modes(const std::vector<bool>& modes) {
  py::gil_scoped_acquire gil;
  if (!is_module_) return;
  std::size_t i = 0;
  for (const py::handle m : module_.attr("modules")()) {
    if (i < modes.size()) m.attr("training") = py::bool_(modes[i++]);
  }
}

std::shared_ptr<models::Model> model_from_python(const py::object& model) {
  if (auto script = torch::jit::as_module(model)) {
    return std::make_shared<models::TorchScriptModel>(*script, "torchscript");
  }
  return std::make_shared<PythonModel>(model);
}

}  // namespace rampart::python
