#include "defenses/defended_training.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "defenses/robust_validation.h"
#include "models/model.h"

namespace rampart::defenses {
namespace {

// The trainer's model as an attack target, without taking ownership.
models::ClassifierModel borrowed(models::Classifier& model) {
  return models::ClassifierModel(
      std::shared_ptr<models::Classifier>(&model, [](models::Classifier*) {}));
}

}  // namespace

training::TrainResult train_with_defense(const training::TrainConfig& config,
                                         const DefenseSpec& defense,
                                         training::TrainOptions options) {
  if (!defense.adversarial) return training::train(config, options);
  const AdversarialTrainingOptions adversarial = *defense.adversarial;
  validate(adversarial);
  spdlog::info("adversarial training: {} at eps {} (step {}{})", to_string(adversarial.method()),
               adversarial.eps(), effective_step_size(adversarial),
               adversarial.method() == AdversarialMethod::kFgsmRs
                   ? std::string(", 1 step")
                   : ", " + std::to_string(adversarial.steps()) + " steps");
  options.objective = [adversarial](models::Classifier& model, const at::Tensor& x,
                                    const at::Tensor& y, uint64_t seed) {
    models::ClassifierModel target = borrowed(model);
    return adversarial_objective(target, x, y, adversarial, seed);
  };
  const auto score =
      attacks::PGDOptions(adversarial.eps())
          .steps(defense.validation_steps)
          .step_size(2.5 * adversarial.eps() / static_cast<double>(defense.validation_steps))
          .random_init(true)
          .early_stop(true)
          .seed(config.seed)
          .clip_min(adversarial.clip_min())
          .clip_max(adversarial.clip_max());
  const c10::Device device(config.device);
  const int64_t batch = config.validation ? config.validation->batch_size : 256;
  const int64_t points = defense.validation_points;
  options.robust_validation = [score, device, batch, points](models::Classifier& model,
                                                             const datasets::Dataset& data) {
    return robust_accuracy(model, data, score, points, batch, device);
  };
  return training::train(config, options);
}

}  // namespace rampart::defenses
