#pragma once

#include <torch/nn/module.h>
#include <torch/script.h>

#include <string>

namespace rampart::models {

/// A TorchScript module with the same tree of submodules, parameters and buffers as `module`
/// (values copied, detached), so `state_dict()` keys match. The caller defines `forward`
/// methods on it (`define`) in eval-mode TorchScript.
torch::jit::Module mirror_as_torchscript(const torch::nn::Module& module,
                                         const std::string& class_name);

/// Writes a built-in model as a TorchScript archive (atomically) that `torch.jit.load` reads;
/// returns the SHA-256 (hex) of the bytes written.
class Classifier;
std::string export_torchscript(const Classifier& model, const std::string& path);

}  // namespace rampart::models
