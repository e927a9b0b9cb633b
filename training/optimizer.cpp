#include "training/optimizer.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <sstream>
#include <type_traits>

#include "core/error.h"

namespace rampart::training {
namespace {

// libtorch 1.x keys optimizer state by the parameter's TensorImpl address printed as a
// string; 2.x keys it by the address itself. This gives the key either way.
// (A template so that only the branch for this libtorch is instantiated.)
template <typename Optimizer>
auto state_key(const Optimizer& optimizer, const at::Tensor& param) {
  using Key = typename std::decay_t<decltype(optimizer.state())>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream out;
    out << param.unsafeGetTensorImpl();
    return out.str();
  } else {
    return static_cast<Key>(param.unsafeGetTensorImpl());
  }
}

bool is_adam(const torch::optim::Optimizer& optimizer) {
  return dynamic_cast<const torch::optim::Adam*>(&optimizer) != nullptr;
}

at::Tensor need(const models::SafetensorsFile& file, const std::string& name,
                const at::Tensor& like, const std::string& path) {
  const at::Tensor* t = file.find(name);
  if (t == nullptr) throw ModelRejected(path + ": optimizer state '" + name + "' is missing");
  if (t->sizes() != like.sizes() || t->scalar_type() != like.scalar_type()) {
    throw ModelRejected(path + ": optimizer state '" + name + "' has the wrong shape or dtype");
  }
  return t->to(like.device()).clone();
}

}  // namespace

OptimizerSpec parse_optimizer_spec(const core::ConfigNode& node) {
  node.expect_keys({"name", "lr", "momentum", "nesterov", "weight_decay", "betas", "eps"});
  OptimizerSpec spec;
  spec.name = node.get_choice("name", {"sgd", "adam"}, "sgd");
  spec.lr = node.get_double("lr", spec.name == "adam" ? 1e-3 : 0.05, 0.0, 10.0);
  spec.weight_decay = node.get_double("weight_decay", spec.name == "adam" ? 0.0 : 5e-4, 0.0, 1.0);
  if (spec.name == "sgd") {
    spec.momentum = node.get_double("momentum", 0.9, 0.0, 1.0);
    spec.nesterov = node.get_bool("nesterov", false);
    if (spec.nesterov && spec.momentum == 0.0) node.fail("nesterov needs momentum > 0");
    if (node.has("betas") || node.has("eps")) node.fail("'betas' and 'eps' apply to adam only");
  } else {
    if (node.has("betas")) {
      const auto betas = node.get_double_list("betas");
      if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1) {
        node.fail("betas must be [beta1, beta2], each in [0, 1)");
      }
      spec.beta1 = betas[0];
      spec.beta2 = betas[1];
    }
    spec.eps = node.get_double("eps", 1e-8, 0.0, 1.0);
    if (node.has("momentum") || node.has("nesterov")) {
      node.fail("'momentum' and 'nesterov' apply to sgd only");
    }
  }
  return spec;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerSpec& spec,
                                                        torch::nn::Module& module) {
  if (spec.name == "adam") {
    return std::make_unique<torch::optim::Adam>(module.parameters(),
                                                torch::optim::AdamOptions(spec.lr)
                                                    .betas({spec.beta1, spec.beta2})
                                                    .eps(spec.eps)
                                                    .weight_decay(spec.weight_decay));
  }
  return std::make_unique<torch::optim::SGD>(module.parameters(),
                                             torch::optim::SGDOptions(spec.lr)
                                                 .momentum(spec.momentum)
                                                 .nesterov(spec.nesterov)
                                                 .weight_decay(spec.weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

models::NamedTensors optimizer_state(const torch::optim::Optimizer& optimizer,
                                     const torch::nn::Module& module) {
  models::NamedTensors out;
  const auto& state = optimizer.state();
  for (const auto& p : module.named_parameters()) {
    auto it = state.find(state_key(optimizer, p.value()));
    if (it == state.end()) continue;
    const std::string prefix = "optimizer." + p.key() + ".";
    if (is_adam(optimizer)) {
      const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
      out.emplace_back(prefix + "step", at::tensor(static_cast<int64_t>(s.step()), at::kLong));
      out.emplace_back(prefix + "exp_avg", s.exp_avg());
      out.emplace_back(prefix + "exp_avg_sq", s.exp_avg_sq());
    } else {
      const auto& s = static_cast<const torch::optim::SGDParamState&>(*it->second);
      if (s.momentum_buffer().defined())
        out.emplace_back(prefix + "momentum_buffer", s.momentum_buffer());
    }
  }
  return out;
}

void load_optimizer_state(torch::optim::Optimizer& optimizer, const torch::nn::Module& module,
                          const models::SafetensorsFile& file, const std::string& path) {
  auto& state = optimizer.state();
  state.clear();
  for (const auto& p : module.named_parameters()) {
    const std::string prefix = "optimizer." + p.key() + ".";
    if (is_adam(optimizer)) {
      if (file.find(prefix + "step") == nullptr) continue;  // parameter never stepped
      auto s = std::make_unique<torch::optim::AdamParamState>();
      const at::Tensor step = need(file, prefix + "step", at::tensor(int64_t{0}, at::kLong), path);
      s->step(step.item<int64_t>());
      s->exp_avg(need(file, prefix + "exp_avg", p.value(), path));
      s->exp_avg_sq(need(file, prefix + "exp_avg_sq", p.value(), path));
      state[state_key(optimizer, p.value())] = std::move(s);
    } else {
      if (file.find(prefix + "momentum_buffer") == nullptr) continue;
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(need(file, prefix + "momentum_buffer", p.value(), path));
      state[state_key(optimizer, p.value())] = std::move(s);
    }
  }
}

}  // namespace rampart::training
