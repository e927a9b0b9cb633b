#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <string>

#include "models/classifier.h"

namespace rampart::defenses::poisoning {

/// The penultimate features (models::Classifier::features; `layer` "logits": the logits) of
/// `images` ([N, C, H, W] on the CPU), computed in batches of `batch_size` on `device` in eval mode without gradients, as
/// float32 [N, D] on the CPU: 60,000 Fashion-MNIST points with the small CNN need 31 MB of
/// features and one batch of activations at a time. The model's train/eval mode is restored.
at::Tensor extract_features(models::Classifier& model, const at::Tensor& images,
                            int64_t batch_size, const c10::Device& device,
                            const std::string& layer = "penultimate");

}  // namespace rampart::defenses::poisoning
