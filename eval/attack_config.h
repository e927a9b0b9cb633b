#pragma once

#include <memory>
#include <string>
#include <vector>

#include "attacks/attack.h"
#include "core/config_node.h"

namespace rampart::eval {

/// The input box and seed every configured attack shares.
struct AttackContext {
  double clip_min = 0.0;
  double clip_max = 1.0;
  uint64_t seed = 0;
  /// The model draws new randomness on every pass (a gaussian_noise transform): PGD's early
  /// stop is off by default and refused, since it would keep the first iterate that fooled one
  /// draw.
  bool randomised = false;
};

/// One configured attack and the budget it belongs to.
struct ConfiguredAttack {
  std::shared_ptr<attacks::Attack> attack;
  std::string name;  ///< fgsm | pgd | cw
  attacks::Norm norm = attacks::Norm::kLinf;
  double eps = 0;       ///< 0 for cw (unbounded)
  bool bounded = true;  ///< false for cw: it minimises the perturbation instead
  bool iterative = false;
  /// The report id: the attack's id (pgd-linf-0.1), with "-<tag>" when the entry has a `tag`
  /// (pgd-linf-0.1-50x2), so one attack can be configured twice with other settings.
  std::string id;
  /// The robustness curve this attack belongs to (eps monotonicity): name, or name_tag; an
  /// entry whose settings other than eps differ from an earlier entry of the same family gets
  /// its own curve, name_entry<k> (k its 1-based position in `attacks:`).
  std::string family;
  /// Run against the model's straight-through view (BPDA through its input transforms).
  bool bpda = false;
  /// Every setting but eps ("norm=linf loss=ce steps=20 ..."): attacks on one curve share it.
  std::string settings;
  /// A `backdoor` entry: the trigger's target class. It runs only on the clean-correct points
  /// of other classes, and its success rate is the attack success rate (ASR). -1 otherwise.
  int64_t backdoor_target = -1;
};

/// Reads the `attacks:` list of an eval config into attacks, one per (entry, eps):
///
///   attacks:
///     - {name: fgsm, norm: linf, eps: [0.05, 0.1]}
///     - {name: pgd, norm: l2, eps: 1.0, steps: 20, step_size: 0.1, restarts: 2}
///     - {name: cw, steps: 100, binary_search_steps: 5, initial_const: 0.01, lr: 0.01, kappa: 0}
///
/// Keys: name (fgsm | pgd | cw); fgsm and pgd: norm (linf | l2), eps (a number or a list),
/// loss (ce | margin); pgd: steps (10), step_size (2.5 * eps / steps, Madry et al.),
/// random_init (true), restarts (1), early_stop (true: the evaluation default),
/// early_stop_every (0 = auto), cuda_graphs (true); backdoor: trigger (as `rampart data
/// poison`'s: {type: patch, size, row, col, value, pattern} or {type: blend, alpha,
/// pattern_seed}), target (the class the trigger sends points to); cw: steps,
/// tag (any attack: a suffix of its id, letters, digits, '_' and '.'), 
/// binary_search_steps, initial_const, lr, kappa, abort_early. An empty list, an unknown name,
/// norm or key, eps < 0, steps < 1 and duplicate attack ids are ConfigErrors naming
/// file:line:column and the key path.
std::vector<ConfiguredAttack> parse_attacks(const core::ConfigNode& root,
                                            const AttackContext& context);

/// Each attack followed by its BPDA twin (id and family suffixed "-bpda" / "_bpda"; a backdoor
/// entry uses no gradient and has none), for a
/// model behind input transforms: the report then shows robust accuracy both when the attack
/// differentiates through the transforms as they are and when it passes straight through them.
std::vector<ConfiguredAttack> with_bpda_twins(const std::vector<ConfiguredAttack>& attacks);

}  // namespace rampart::eval
