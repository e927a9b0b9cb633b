#include "defenses/defended_training.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>

#include "defenses/defended_model.h"
#include "defenses/distillation.h"
#include "defenses/robust_validation.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "models/model_spec.h"

namespace rampart::defenses {
namespace {

// The trainer's model as an attack target, without taking ownership.
models::ClassifierModel borrowed(models::Classifier& model) {
  return models::ClassifierModel(
      std::shared_ptr<models::Classifier>(&model, [](models::Classifier*) {}));
}

// The teacher of defensive distillation: loaded from its checkpoint, or trained at the
// temperature under <output>/teacher (resumable like any run).
std::shared_ptr<models::Classifier> distillation_teacher(const training::TrainConfig& config,
                                                         const DistillationSpec& spec,
                                                         const training::TrainOptions& options,
                                                         double& seconds) {
  if (!spec.teacher.empty()) {
    auto teacher = models::make_classifier(config.model);
    models::load_weights(*teacher, models::read_checkpoint(spec.teacher, spec.teacher_intake),
                         spec.teacher);
    teacher->to(c10::Device(config.device));
    return teacher;
  }
  training::TrainConfig teacher_config = config;
  teacher_config.output = (std::filesystem::path(config.output) / "teacher").string();
  teacher_config.export_torchscript = false;
  training::TrainOptions teacher_options;
  teacher_options.resume = options.resume;
  const double temperature = spec.temperature;
  teacher_options.objective = [temperature](models::Classifier& model, const at::Tensor& x,
                                            const at::Tensor& y, uint64_t) {
    return temperature_cross_entropy(model, x, y, temperature);
  };
  spdlog::info("distillation: training the teacher at temperature {}", temperature);
  const training::TrainResult teacher = training::train(teacher_config, teacher_options);
  seconds = teacher.seconds;
  return teacher.model;
}

training::TrainResult distill(const training::TrainConfig& config, const DistillationSpec& spec,
                              training::TrainOptions options) {
  double teacher_seconds = 0;
  std::shared_ptr<models::Classifier> teacher =
      distillation_teacher(config, spec, options, teacher_seconds);
  const double temperature = spec.temperature;
  options.objective = [teacher, temperature](models::Classifier& model, const at::Tensor& x,
                                             const at::Tensor&, uint64_t) {
    return distillation_loss(model, *teacher, x, temperature);
  };
  spdlog::info(
      "distillation: training the student at temperature {} on the teacher's soft "
      "labels; it is deployed at temperature 1",
      temperature);
  training::TrainResult result = training::train(config, options);
  result.seconds += teacher_seconds;  // the run's wall time includes the teacher's training
  return result;
}

// The static sources of ensemble adversarial training, each through the model intake, in
// eval mode (they are never trained).
std::vector<std::shared_ptr<models::Model>> load_static_models(const training::TrainConfig& config,
                                                               const DefenseSpec& defense) {
  std::vector<std::shared_ptr<models::Model>> out;
  for (models::ModelSpec spec : defense.static_models) {
    spec.input = config.model.input;
    spec.num_classes = config.model.num_classes;
    models::LoadedModel loaded = load_defended_model(spec, c10::Device(config.device));
    loaded.model->set_training(false);
    spdlog::info("ensemble_at: static model {} ({}, sha256 {})", loaded.path,
                 loaded.model->describe(), loaded.sha256.substr(0, 12));
    out.push_back(loaded.model);
  }
  return out;
}

}  // namespace

training::TrainResult train_with_defense(const training::TrainConfig& config,
                                         const DefenseSpec& defense,
                                         training::TrainOptions options) {
  if (defense.distillation) return distill(config, *defense.distillation, options);
  if (!defense.adversarial) return training::train(config, options);
  const AdversarialTrainingOptions adversarial = *defense.adversarial;
  validate(adversarial);
  spdlog::info("adversarial training: {} at eps {} (step {}{}, crafted in {} mode)",
               to_string(adversarial.method()), adversarial.eps(), effective_step_size(adversarial),
               adversarial.method() == AdversarialMethod::kFgsmRs
                   ? std::string(", 1 step")
                   : ", " + std::to_string(adversarial.steps()) + " steps",
               to_string(effective_craft_mode(adversarial)));
  if (adversarial.method() == AdversarialMethod::kEnsembleAt) {
    const auto static_models = load_static_models(config, defense);
    options.objective = [adversarial, static_models](models::Classifier& model, const at::Tensor& x,
                                                     const at::Tensor& y, uint64_t seed) {
      models::ClassifierModel target = borrowed(model);
      return ensemble_adversarial_objective(target, static_models, x, y, adversarial, seed)
          .objective;
    };
  } else {
    options.objective = [adversarial](models::Classifier& model, const at::Tensor& x,
                                      const at::Tensor& y, uint64_t seed) {
      models::ClassifierModel target = borrowed(model);
      return adversarial_objective(target, x, y, adversarial, seed);
    };
  }
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
