#pragma once

#include <ATen/ATen.h>

#include <string>

#include "defenses/aggregation/aggregator.h"
#include "distributed/distributed_config.h"
#include "models/classifier.h"

namespace rampart::distributed {

/// What a simulated Byzantine rank (`simulate_byzantine`) sends, for evaluating a rule.

/// True for the attacks computed from every honest worker's vector (the omniscient view): the
/// simulation then adds one allgather per round.
bool needs_honest_view(const std::string& attack);

/// The vector a Byzantine rank sends, from the rows of `honest` (the honest workers' updates,
/// or their flipped-label gradients for `label_flip`) and its own update. `rule` is the
/// configured aggregation pipeline, which alie_opt and ipm_opt search against.
at::Tensor byzantine_update(const ByzantineSpec& byz, const at::Tensor& honest, const at::Tensor& own,
                            const defenses::aggregation::AggregatorSpec& rule, at::Generator& generator);

/// The gradient of the cross-entropy on flipped labels y -> K - 1 - y at the batch (x, y),
/// flattened to float on the CPU, computed in eval mode: what every honest client computes for
/// ByzFL's LabelFlipping attack (byzfl/fed_framework/client.py, compute_gradients). The
/// parameters' .grad and the model's training mode are left as they were.
at::Tensor flipped_label_gradient(models::Classifier& model, const at::Tensor& x, const at::Tensor& y);

}  // namespace rampart::distributed
