#pragma once

#include <torch/optim/optimizer.h>

#include <memory>
#include <string>

#include "core/config_node.h"
#include "models/checkpoint.h"

namespace rampart::training {

/// `train.optimizer`: SGD with momentum, Nesterov and weight decay, or Adam.
struct OptimizerSpec {
  std::string name = "sgd";  ///< sgd | adam
  double lr = 0.05;
  double momentum = 0.9;  ///< sgd
  bool nesterov = false;  ///< sgd
  double weight_decay = 5e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  ///< adam
};

OptimizerSpec parse_optimizer_spec(const core::ConfigNode& node);

/// A libtorch optimizer over the parameters of `module`.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerSpec& spec,
                                                        torch::nn::Module& module);

/// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

/// The optimizer's per-parameter state (momentum buffers; Adam moments and step counts) as
/// named tensors `optimizer.<param name>.<field>`, for checkpoints.
models::NamedTensors optimizer_state(const torch::optim::Optimizer& optimizer,
                                     const torch::nn::Module& module);

/// Restores what `optimizer_state` saved. Throws ModelRejected naming `path` and the tensor
/// when a needed entry is missing or has the wrong shape.
void load_optimizer_state(torch::optim::Optimizer& optimizer, const torch::nn::Module& module,
                          const models::SafetensorsFile& file, const std::string& path);

}  // namespace rampart::training
