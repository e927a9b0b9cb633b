#include "defenses/defended_model.h"

#include "defenses/ensemble.h"
#include "defenses/transformed_model.h"
#include "security/model_intake.h"

namespace rampart::defenses {

models::LoadedModel load_defended_model(const models::ModelSpec& spec,
                                        const c10::Device& device) {
  models::LoadedModel out;
  if (spec.is_ensemble()) {
    std::vector<std::shared_ptr<models::Model>> members;
    std::string hashes;
    for (const auto& member_spec : spec.members) {
      models::LoadedModel member = models::load_model(member_spec, device);
      members.push_back(member.model);
      out.path += (out.path.empty() ? "" : ", ") + member.path;
      hashes += member.sha256 + "\n";
      out.bytes += member.bytes;
      out.files.insert(out.files.end(), member.files.begin(), member.files.end());
    }
    out.sha256 = security::sha256_hex(hashes);
    out.model = std::make_shared<EnsembleModel>(std::move(members), spec.combine);
  } else {
    out = models::load_model(spec, device);
  }
  if (!spec.transforms.empty()) {
    std::vector<InputTransform> transforms;
    for (const auto& t : spec.transforms) {
      transforms.emplace_back(t, spec.input.range_min, spec.input.range_max);
    }
    out.model = std::make_shared<TransformedModel>(out.model, std::move(transforms));
  }
  return out;
}

}  // namespace rampart::defenses
