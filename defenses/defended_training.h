#pragma once

#include "defenses/defense_config.h"
#include "training/trainer.h"

namespace rampart::defenses {

/// `rampart train` with a `defense:` section: training::train with the adversarial objective
/// of `defense` on every batch and, after every epoch, PGD robust accuracy on the validation
/// split (PGD-`validation_steps`, step 2.5 * eps / steps, random start, at the training eps);
/// the most robust epoch is kept. Without an adversarial method it is standard training.
///
/// Example:
///   const auto root = core::load_config("configs/fmnist_pgd_at.yaml");
///   const auto config = training::parse_train_config(root);
///   const auto defense = defenses::parse_defense_spec(root, 0.0, 1.0);
///   auto result = defenses::train_with_defense(config, defense, {});
training::TrainResult train_with_defense(const training::TrainConfig& config,
                                         const DefenseSpec& defense,
                                         training::TrainOptions options);

}  // namespace rampart::defenses
