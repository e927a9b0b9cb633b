#include "defenses/defended_model.h"

#include "core/error.h"
#include "defenses/ensemble.h"
#include "defenses/transformed_model.h"
#include "security/model_intake.h"

namespace rampart::defenses {

models::AdmittedModel admit_defended_model(const models::ModelSpec& spec) {
  if (!spec.is_ensemble()) return models::admit_model(spec);
  models::AdmittedModel out;
  std::string hashes;
  for (const auto& member_spec : spec.members) {
    models::AdmittedModel member = models::admit_model(member_spec);
    out.path += (out.path.empty() ? "" : ", ") + member.path;
    hashes += member.sha256 + "\n";
    out.bytes += member.bytes;
    for (auto& f : member.files) out.files.push_back(std::move(f));
    out.records.insert(out.records.end(), member.records.begin(), member.records.end());
  }
  out.sha256 = security::sha256_hex(hashes);
  return out;
}

std::shared_ptr<models::Model> build_defended_model(const models::ModelSpec& spec,
                                                    const std::vector<security::ModelFile>& files,
                                                    const c10::Device& device) {
  const std::size_t expected = spec.is_ensemble() ? spec.members.size() : 1;
  if (files.size() != expected) {
    throw ModelRejected("model: " + std::to_string(files.size()) + " model files for " +
                        std::to_string(expected) + " models");
  }
  std::shared_ptr<models::Model> model;
  if (spec.is_ensemble()) {
    std::vector<std::shared_ptr<models::Model>> members;
    for (std::size_t i = 0; i < files.size(); ++i) {
      members.push_back(models::build_model(spec.members[i], files[i], device));
    }
    model = std::make_shared<EnsembleModel>(std::move(members), spec.combine);
  } else {
    model = models::build_model(spec, files.front(), device);
  }
  if (!spec.transforms.empty()) {
    std::vector<InputTransform> transforms;
    for (const auto& t : spec.transforms) {
      transforms.emplace_back(t, spec.input.range_min, spec.input.range_max);
    }
    model = std::make_shared<TransformedModel>(model, std::move(transforms));
  }
  return model;
}

models::LoadedModel load_defended_model(const models::ModelSpec& spec,
                                        const c10::Device& device) {
  models::AdmittedModel admitted = admit_defended_model(spec);
  models::LoadedModel out;
  out.model = build_defended_model(spec, admitted.files, device);
  out.path = admitted.path;
  out.sha256 = admitted.sha256;
  out.bytes = admitted.bytes;
  out.files = std::move(admitted.records);
  return out;
}

}  // namespace rampart::defenses
