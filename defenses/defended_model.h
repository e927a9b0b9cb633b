#pragma once

#include <c10/core/Device.h>

#include "models/load_model.h"
#include "models/model_spec.h"

namespace rampart::defenses {

/// Loads what a `model:` section describes, defenses included: one model (through the model
/// intake, like models::load_model), or an ensemble of members (each through the intake, each
/// with its own pin), behind the section's input transforms. Used by `rampart eval` and for
/// the static models of ensemble adversarial training.
///
/// Example:
///   auto loaded = defenses::load_defended_model(config.model, c10::Device(c10::kCPU));
///   at::Tensor classes = loaded.model->predict(x);
models::LoadedModel load_defended_model(const models::ModelSpec& spec, const c10::Device& device);

}  // namespace rampart::defenses
