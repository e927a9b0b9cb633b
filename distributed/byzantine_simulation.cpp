#include "distributed/byzantine_simulation.h"

#include <torch/csrc/autograd/autograd.h>

#include <vector>

#include "attacks/byzantine_updates.h"

namespace rampart::distributed {

bool needs_honest_view(const std::string& attack) {
  return attack == "sign_flip" || attack == "ipm" || attack == "alie" || attack == "mimic" ||
         attack == "alie_opt" || attack == "ipm_opt" || attack == "label_flip";
}

at::Tensor byzantine_update(const ByzantineSpec& byz, const at::Tensor& honest, const at::Tensor& own,
                            const defenses::aggregation::AggregatorSpec& rule, at::Generator& generator) {
  namespace b = attacks::byzantine;
  const std::string& a = byz.attack;
  if (a == "sign_flip") return b::sign_flip(honest);
  if (a == "ipm") return b::inner_product_manipulation(honest, byz.tau);
  if (a == "alie") return b::a_little_is_enough(honest, byz.tau);
  if (a == "gaussian") return b::gaussian(honest, 0.0, byz.tau, generator);
  if (a == "inf") return b::infinity(honest);
  if (a == "mimic") return b::mimic(honest, 0);
  if (a == "alie_opt" || a == "ipm_opt") {
    const auto aggregate = [&rule](const at::Tensor& v) {
      defenses::aggregation::RobustAggregator copy(rule);
      return copy(v);
    };
    return a == "alie_opt" ? b::optimal_alie(honest, byz.count, aggregate)
                           : b::optimal_ipm(honest, byz.count, aggregate);
  }
  // ByzFL's LabelFlipping (byzfl/attacks/attacks.py): the mean of the honest clients'
  // flipped-label gradients, so every attacker sends the same vector.
  if (a == "label_flip") return honest.mean(0);
  return own;  // label_flip_own: its own update, trained on flipped labels of its shard
}

at::Tensor flipped_label_gradient(models::Classifier& model, const at::Tensor& x, const at::Tensor& y) {
  std::vector<at::Tensor> params;
  for (const auto& p : model.parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  const bool was_training = model.is_training();
  model.eval();
  const at::Tensor logits = model.forward(x);
  const at::Tensor loss = at::cross_entropy_loss(logits, (logits.size(1) - 1) - y);
  const std::vector<at::Tensor> grads =
      torch::autograd::grad({loss}, params, {}, /*retain_graph=*/false, /*create_graph=*/false,
                            /*allow_unused=*/true);
  model.train(was_training);
  std::vector<at::Tensor> flat;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    flat.push_back(grads[i].defined() ? grads[i].flatten().to(at::kCPU, at::kFloat)
                                      : at::zeros({params[i].numel()}, at::kFloat));
  }
  return at::cat(flat);
}

}  // namespace rampart::distributed
