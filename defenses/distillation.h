#pragma once

#include <memory>

#include "models/classifier.h"
#include "training/trainer.h"

namespace rampart::defenses {

/// Defensive distillation (Papernot et al. 2016, "Distillation as a Defense to Adversarial
/// Perturbations against Deep Neural Networks").
///
/// The teacher is trained at temperature T: cross-entropy of softmax(z / T). The student is
/// trained at T on the teacher's soft labels softmax(z_teacher(x) / T), by the cross-entropy
/// between those and softmax(z_student / T). It is deployed at T = 1: its raw logits, which
/// training at T has scaled up by about T, so the softmax saturates.
///
/// That is why it "works": against cross-entropy gradients (FGSM, PGD) the saturated softmax
/// leaves almost no gradient. Carlini & Wagner (2017) showed the robustness is not real: their
/// attack, on the logits, still succeeds. Rampart's gradient-masking sanity checks flag such
/// a model.

/// The teacher's objective: cross-entropy at temperature T (logits for accuracy unscaled).
training::BatchObjective temperature_cross_entropy(models::Classifier& model, const at::Tensor& x,
                                                   const at::Tensor& y, double temperature);

/// The student's objective: cross-entropy between softmax(z_teacher / T) and softmax(z / T),
/// averaged over the batch. The teacher runs in eval mode without gradients.
training::BatchObjective distillation_loss(models::Classifier& student,
                                           models::Classifier& teacher, const at::Tensor& x,
                                           double temperature);

}  // namespace rampart::defenses
