#include "models/torchscript_export.h"

#include <sstream>

#include "core/atomic_file.h"
#include "models/classifier.h"
#include "security/model_intake.h"

namespace rampart::models {
namespace {

// Each submodule gets a class name of its own (its path), so no two TorchScript types share a
// qualified name in the saved archive.
void mirror_into(const torch::nn::Module& source, torch::jit::Module& target,
                 const std::string& qualified) {
  // Modules scripted in Python carry a `training` flag; without it libtorch reports every
  // module as training and train()/eval() do nothing. Exports are saved in eval mode.
  target.register_attribute("training", c10::BoolType::get(), false);
  for (const auto& p : source.named_parameters(/*recurse=*/false)) {
    target.register_parameter(p.key(), p.value().detach().clone(), /*is_buffer=*/false);
  }
  for (const auto& b : source.named_buffers(/*recurse=*/false)) {
    target.register_buffer(b.key(), b.value().detach().clone());
  }
  for (const auto& child : source.named_children()) {
    const std::string name = qualified + "_" + child.key();
    torch::jit::Module sub(name);
    mirror_into(*child.value(), sub, name);
    target.register_module(child.key(), sub);
  }
}

}  // namespace

torch::jit::Module mirror_as_torchscript(const torch::nn::Module& module,
                                         const std::string& class_name) {
  const std::string qualified = "__torch__.rampart." + class_name;
  torch::jit::Module out(qualified);
  mirror_into(module, out, qualified);
  return out;
}

std::string export_torchscript(const Classifier& model, const std::string& path) {
  torch::jit::Module m = model.to_torchscript();
  m.eval();
  std::ostringstream bytes;
  m.save(bytes);
  core::write_file_atomic(path, bytes.str());
  return security::sha256_hex(bytes.str());
}

}  // namespace rampart::models
