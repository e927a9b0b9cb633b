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

/// The first half of load_defended_model: every file of the section (each ensemble member)
/// read and checked by the intake, none deserialized (models::admit_model).
models::AdmittedModel admit_defended_model(const models::ModelSpec& spec);

/// The second half: the model built from `files` (AdmittedModel::files, in member order),
/// members combined and transforms applied. Reads no file; a sandboxed evaluation worker calls
/// it after confinement. Throws ModelRejected when `files` does not match the section.
std::shared_ptr<models::Model> build_defended_model(const models::ModelSpec& spec,
                                                    const std::vector<security::ModelFile>& files,
                                                    const c10::Device& device);

}  // namespace rampart::defenses
