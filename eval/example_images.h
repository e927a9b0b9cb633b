#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "eval/evaluation.h"

namespace rampart::eval {

/// Why this build cannot draw example images ("" when it can: built with OpenCV).
std::string example_images_unavailable();

/// Draws a PNG grid of K examples, one column each: the clean input (captioned with its true
/// label), the adversarial input (captioned with the model's prediction) and the perturbation
/// amplified to the full range (mid-grey = no change), with the attack id as a title.
/// `clean` and `adversarial` are float [K, C, H, W] in [clip_min, clip_max], C = 1 or 3.
ExampleGrid render_example_grid(const std::string& attack_id, const at::Tensor& clean,
                                const at::Tensor& adversarial,
                                const std::vector<std::string>& true_labels,
                                const std::vector<std::string>& predicted_labels, double clip_min,
                                double clip_max);

}  // namespace rampart::eval
