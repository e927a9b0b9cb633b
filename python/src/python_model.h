#pragma once

#include <torch/csrc/utils/pybind.h>

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"

namespace rampart::python {

/// Any Python callable from a batch to logits (a torch.nn.Module, or a plain function) as a
/// models::Model: forward calls back into Python with the GIL taken, so autograd records the
/// module's operations on the same graph the C++ attack loop differentiates. The GIL is held
/// only inside the callback: the attack loop itself runs without it. A callable that is no
/// nn.Module has no parameters and no train/eval mode.
class PythonModel : public models::Model {
 public:
  explicit PythonModel(pybind11::object module);
  ~PythonModel() override;
  at::Tensor forward(const at::Tensor& x) override;
  bool is_training() const override;
  void set_training(bool training) override;
  std::vector<at::Tensor> parameters() override;
  std::string describe() const override;
  std::vector<bool> module_modes() const override;
  void set_module_modes(const std::vector<bool>& modes) override;

 private:
  bool is_module_ = false;
  pybind11::object module_;
};

/// The models::Model for a Python object: a torch.jit.ScriptModule runs natively
/// (models::TorchScriptModel, no Python in the loop); anything else callable through
/// PythonModel. Call with the GIL held; the result may be used and destroyed without it.
std::shared_ptr<models::Model> model_from_python(const pybind11::object& model);

}  // namespace rampart::python
