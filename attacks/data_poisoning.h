#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "attacks/backdoor_trigger.h"
#include "core/config_node.h"
#include "datasets/dataset.h"

namespace rampart::attacks {

/// The `poison:` section: what a simulated attacker does to a training set, to test the
/// poisoning defenses against (`rampart data poison`).
///
/// - `badnets` / `blend`: `rate` x N points drawn from the classes other than `target` get the
///   trigger and the label `target` (the all-to-one backdoor of Gu et al. 2017 and Chen et al.
///   2017).
/// - `label_flip`: `rate` x N points get another label: a uniformly drawn other class
///   (`flip_from` < 0), or, drawn from class `flip_from` only, the label `flip_to`.
///
/// Example (YAML):
///   poison: {attack: badnets, rate: 0.05, target: random, seed: 3,
///            trigger: {type: patch, size: 3, random_position: true}}
struct PoisonSpec {
  std::string attack = "badnets";  ///< badnets | blend | label_flip
  double rate = 0.05;              ///< share of the whole data set
  int64_t target = -1;             ///< -1: drawn from the seed
  TriggerSpec trigger;
  int64_t flip_from = -1, flip_to = -1;
  uint64_t seed = 0;
};

PoisonSpec parse_poison_spec(const core::ConfigNode& node, int64_t num_classes, double range_min,
                             double range_max);

/// A poisoned copy of a data set and the ground truth.
struct PoisonedData {
  datasets::Dataset data;
  at::Tensor indices;  ///< int64 [P], sorted: the points changed
  PoisonSpec spec;     ///< with the drawn target and trigger position filled in
};

/// Poisons `clean` as `spec` says, reproducibly from spec.seed. Throws ConfigError when the
/// rate asks for more points than the eligible classes hold.
PoisonedData poison_dataset(const datasets::Dataset& clean, const PoisonSpec& spec);

}  // namespace rampart::attacks
