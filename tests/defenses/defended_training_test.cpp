// `defense:` configs (validation with file:line:column) and the defended training loop: the
// most robust epoch is the one kept, exported and remembered across --resume.
#include "core/remove_tree.h"
#include "defenses/defended_training.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/config_node.h"
#include "core/error.h"
#include "datasets/dataset_spec.h"
#include "models/checkpoint.h"
#include "models/small_cnn.h"
#include "security/model_intake.h"
#include "support/intake_options.h"
#include "support/test_support.h"
#include "training/train_config.h"

using namespace rampart;

namespace {

std::string job(const std::string& output, const std::string& defense, int64_t epochs = 2) {
  return "seed: 7\n"
         "device: cpu\n"
         "threads: 2\n"
         "model: {arch: small_cnn, num_classes: 4, input: {shape: [1, 16, 16]}}\n"
         "data: {format: synthetic, num_samples: 512, seed: 1, sample_seed: 1, batch_size: 32}\n"
         "validation: {format: synthetic, num_samples: 128, seed: 1, sample_seed: 2, "
         "batch_size: 128}\n"
         "train: {epochs: " +
         std::to_string(epochs) +
         ", optimizer: {name: sgd, lr: 0.05, momentum: 0.9}, output: " + output + "}\n" + defense;
}

std::string error_of(const std::string& yaml) {
  try {
    const auto root = core::parse_config(yaml, "train.yaml");
    defenses::parse_defense_spec(root, 0.0, 1.0);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("defense configs: each method's keys, ranges and the validation split", "[defenses]") {
  const auto spec = defenses::parse_defense_spec(
      core::parse_config(job("o", "defense: {method: trades, eps: 0.1, steps: 4, beta: 3}\n"),
                         "train.yaml"),
      0.0, 1.0);
  REQUIRE(spec.adversarial);
  CHECK(spec.adversarial->method() == defenses::AdversarialMethod::kTrades);
  CHECK(spec.adversarial->beta() == 3.0);
  CHECK(spec.adversarial->steps() == 4);
  CHECK_FALSE(defenses::parse_defense_spec(
                  core::parse_config(job("o", "defense: {method: none}\n"), "train.yaml"), 0.0, 1.0)
                  .adversarial);
  // One error each, located at the offending key (the defense block is line 8).
  CHECK_THAT(error_of(job("o", "defense: {method: pgd_at, eps: 0.1, beta: 6}\n")),
             Catch::StartsWith("train.yaml:8:37: defense.beta: unknown key 'beta'"));
  CHECK_THAT(error_of(job("o", "defense: {method: fgsm_rs, eps: 0.1, steps: 3}\n")),
             Catch::StartsWith("train.yaml:8:38: defense.steps: unknown key 'steps'"));
  CHECK_THAT(error_of(job("o", "defense: {method: pgd_at}\n")),
             Catch::StartsWith("train.yaml:8:10: defense: missing required key 'eps'"));
  CHECK_THAT(error_of(job("o", "defense: {method: pgd_at, eps: -0.1}\n")),
             Catch::StartsWith("train.yaml:8:32: defense.eps: must be >= 0"));
  // eps 0 trained without any perturbation and reported its accuracy as robust.
  CHECK_THAT(error_of(job("o", "defense: {method: trades, eps: 0}\n")),
             Catch::StartsWith("train.yaml:8:32: defense.eps: must be > 0"));
  CHECK_THAT(error_of(job("o", "defense: {method: pgd_at, eps: 0.1, clean_weight: 1.5}\n")),
             Catch::Contains("clean_weight"));
  CHECK_THAT(error_of(job("o", "defense: {method: madry, eps: 0.1}\n")),
             Catch::StartsWith("train.yaml:8:19: defense.method: unknown value 'madry'"));
  CHECK_THAT(error_of(job("o", "defense: {method: trades, eps: 0.1, validation: {stepz: 3}}\n")),
             Catch::Contains("stepz"));
  std::string no_validation = job("o", "defense: {method: pgd_at, eps: 0.1}\n");
  no_validation.erase(no_validation.find("validation:"),
                      no_validation.find("train:") - no_validation.find("validation:"));
  CHECK_THAT(error_of(no_validation), Catch::Contains("needs a 'validation' split"));
}

TEST_CASE("defense configs: ensemble_at's attack, static models and their errors",
          "[defenses][ensemble_at]") {
  const auto spec = defenses::parse_defense_spec(
      core::parse_config(job("o",
                             "defense: {method: ensemble_at, eps: 0.1, attack: pgd, steps: 3, "
                             "static_models: [{arch: small_cnn, checkpoint: a.safetensors}, "
                             "{arch: small_cnn, checkpoint: b.safetensors}]}\n"),
                         "train.yaml"),
      0.0, 1.0);
  REQUIRE(spec.adversarial);
  CHECK(spec.adversarial->method() == defenses::AdversarialMethod::kEnsembleAt);
  CHECK(spec.adversarial->steps() == 3);
  CHECK(spec.adversarial->clean_weight() == 0.5);  // Tramer et al.: half clean, half adversarial
  REQUIRE(spec.static_models.size() == 2);
  CHECK(spec.static_models[0].checkpoint == "a.safetensors");
  CHECK(spec.static_models[1].checkpoint == "b.safetensors");
  const auto fgsm = defenses::parse_defense_spec(
      core::parse_config(job("o",
                             "defense: {method: ensemble_at, eps: 0.1, static_models: [{arch: "
                             "small_cnn, checkpoint: b.safetensors}]}\n"),
                         "train.yaml"),
      0.0, 1.0);
  CHECK(fgsm.adversarial->steps() == 1);
  CHECK_FALSE(fgsm.adversarial->random_init());
  CHECK(defenses::effective_step_size(*fgsm.adversarial) == Approx(0.1));

  // A TorchScript static model would run in the training process: refused, naming the key.
  CHECK_THAT(error_of(job("o",
                          "defense: {method: ensemble_at, eps: 0.1, static_models: [{path: b.pt}]}\n")),
             Catch::Contains("static_models[0].path: a TorchScript file is code"));
  CHECK_THAT(error_of(job("o", "defense: {method: ensemble_at, eps: 0.1}\n")),
             Catch::StartsWith("train.yaml:8:10: defense: ensemble_at needs 'static_models'"));
  CHECK_THAT(error_of(job("o",
                          "defense: {method: ensemble_at, eps: 0.1, steps: 3, "
                          "static_models: [{path: b.pt}]}\n")),
             Catch::StartsWith("train.yaml:8:49: defense.steps: 'steps' applies to attack: pgd"));
  CHECK_THAT(error_of(job("o",
                          "defense: {method: ensemble_at, eps: 0.1, "
                          "static_models: [{arch: small_cnn}]}\n")),
             Catch::Contains("needs 'checkpoint'"));
  CHECK_THAT(error_of(job("o",
                          "defense: {method: ensemble_at, eps: 0.1, "
                          "static_models: [{path: b.pt, input: {shape: [1, 2, 2]}}]}\n")),
             Catch::Contains("unknown key 'input'"));
}

TEST_CASE("the most robust epoch is kept, exported and remembered across resume", "[defenses]") {
  const std::string out = test::make_temp_dir("defended_best");
  const auto root = core::parse_config(job(out, "", 3), "train.yaml");
  const auto config = training::parse_train_config(root);
  // A scripted score: epoch 2 is the most robust. Its weights are recorded to compare.
  const std::vector<double> scores{0.30, 0.55, 0.40};
  std::vector<at::Tensor> weights;
  training::TrainOptions options;
  options.robust_validation = [&](models::Classifier& model, const datasets::Dataset&) {
    weights.push_back(model.parameters()[0].detach().clone());
    return scores[weights.size() - 1];
  };
  const training::TrainResult result = training::train(config, options);
  CHECK(result.best_epoch == 2);
  CHECK(*result.best_robust_accuracy == Approx(0.55));
  CHECK(*result.robust_accuracy == Approx(0.40));
  // The returned (and exported) model holds epoch 2's weights, as does best.safetensors.
  CHECK(at::equal(result.model->parameters()[0], weights[1]));
  auto fresh = std::make_shared<models::SmallCNN>(config.model.input, 4);
  models::load_weights(*fresh, models::read_checkpoint(result.best_checkpoint, test::unpinned()),
                       result.best_checkpoint);
  CHECK(at::equal(fresh->parameters()[0], weights[1]));
  // The kept epoch's clean accuracy is measured on the kept weights, not the last epoch's.
  REQUIRE(result.kept_validation_accuracy);
  REQUIRE(config.validation);
  const auto validation = datasets::load_dataset(*config.validation, 4, config.model.input.shape);
  CHECK(*result.kept_validation_accuracy ==
        training::accuracy(*fresh, validation, 128, c10::Device(c10::kCPU)));
  // Resume after the run: nothing to train, the best epoch is remembered.
  options.resume = true;
  const training::TrainResult again = training::train(config, options);
  CHECK(again.epochs_run == 0);
  CHECK(again.best_epoch == 2);
  // The hashes it prints are those of the bytes on disk (the pins for a later evaluation).
  CHECK(result.checkpoint_sha256 == security::sha256_file(result.checkpoint));
  CHECK(again.checkpoint_sha256 == result.checkpoint_sha256);
  CHECK(again.torchscript_sha256 == security::sha256_file(again.torchscript));
  CHECK(*again.best_robust_accuracy == Approx(0.55));
  // Resumed for a fourth epoch as plain training without validation: it took the first run's
  // best epoch as its own and read the missing validation set (a segfault); with validation it
  // silently delivered epoch 2's weights instead of its own fourth epoch.
  auto plain = training::parse_train_config(core::parse_config(job(out, "", 4), "train.yaml"));
  plain.validation.reset();
  training::TrainOptions resume_plain;
  resume_plain.resume = true;
  const training::TrainResult fourth = training::train(plain, resume_plain);
  CHECK(fourth.epochs_run == 1);
  CHECK(fourth.best_epoch == 0);
  CHECK_FALSE(fourth.best_robust_accuracy);
  CHECK_FALSE(at::equal(fourth.model->parameters()[0], weights[1]));
}

// best.safetensors was written before the epoch's checkpoint: a run stopped between the two left
// it holding epoch 2 while the checkpoint named epoch 1 the best, and a resume whose epoch 2 then
// scored lower delivered the stopped run's epoch 2 as "epoch 1".
TEST_CASE("a run stopped between its best weights and its checkpoint resumes with the named best",
          "[defenses]") {
  const std::string out = test::make_temp_dir("defended_best_stopped");
  const auto config = training::parse_train_config(core::parse_config(job(out, "", 3), "train.yaml"));
  std::vector<at::Tensor> weights;
  training::TrainOptions stopped;
  stopped.robust_validation = [&](models::Classifier& model, const datasets::Dataset&) {
    weights.push_back(model.parameters()[0].detach().clone());
    return 0.1 * static_cast<double>(weights.size());  // every epoch the best so far
  };
  stopped.on_epoch_end = [](int64_t epoch) {
    if (epoch == 1) throw std::runtime_error("stopped after epoch 2's best, before its checkpoint");
  };
  CHECK_THROWS_WITH(training::train(config, stopped), Catch::Contains("before its checkpoint"));
  const auto best_epoch = [&] {
    return models::read_checkpoint(out + "/best.safetensors", test::unpinned()).metadata.at("epochs_completed");
  };
  CHECK(best_epoch() == "1");  // the checkpoint's best; epoch 2's weights only staged
  training::TrainOptions resumed;
  resumed.resume = true;
  resumed.robust_validation = [](models::Classifier&, const datasets::Dataset&) { return 0.0; };
  const training::TrainResult result = training::train(config, resumed);
  CHECK(result.epochs_run == 2);
  CHECK(result.best_epoch == 1);
  CHECK(best_epoch() == "1");
  CHECK(at::equal(result.model->parameters()[0], weights[0]));  // the delivered model: epoch 1
  CHECK_FALSE(std::filesystem::exists(out + "/best.safetensors.next"));
}

TEST_CASE("rampart train's defended loop trains fgsm_rs and scores each epoch", "[defenses]") {
  const std::string out = test::make_temp_dir("defended_fgsm_rs");
  const auto root = core::parse_config(
      job(out, "defense: {method: fgsm_rs, eps: 0.1, validation: {steps: 5, points: 0}}\n"),
      "train.yaml");
  const auto config = training::parse_train_config(root);
  const auto defense = defenses::parse_defense_spec(root, 0.0, 1.0);
  const training::TrainResult result = defenses::train_with_defense(config, defense, {});
  REQUIRE(result.robust_accuracy);
  CHECK(*result.robust_accuracy >= 0.0);
  CHECK(*result.robust_accuracy <= *result.validation_accuracy + 1e-9);  // robust <= clean
  CHECK(result.best_epoch >= 1);
  CHECK(std::filesystem::exists(result.best_checkpoint));
  CHECK(std::filesystem::exists(result.torchscript));
}

TEST_CASE("a distillation teacher and ensemble_at's static models must be pinned",
          "[defenses][security]") {
  const std::string dir = test::make_temp_dir("defended_pins");
  const auto first = core::parse_config(job(dir + "/out", ""), "train.yaml");
  auto source = models::make_classifier(training::parse_train_config(first).model);
  models::save_checkpoint(dir + "/t.safetensors", *source);
  const std::string teacher = dir + "/t.safetensors";
  const std::string hash = security::sha256_file(teacher);
  auto run = [&](const std::string& defense) {
    const auto root = core::parse_config(job(dir + "/out", defense, 1), "train.yaml");
    rampart::core::remove_tree(dir + "/out");
    return defenses::train_with_defense(training::parse_train_config(root),
                                        defenses::parse_defense_spec(root, 0.0, 1.0), {});
  };
  const std::string unpinned = teacher + ": model file is not pinned";
  CHECK_THROWS_WITH(run("defense: {method: distillation, teacher: " + teacher + "}\n"),
                    Catch::Contains(unpinned));
  CHECK_NOTHROW(run("defense: {method: distillation, teacher: " + teacher +
                    ", teacher_sha256: " + hash + "}\n"));
  CHECK_THROWS_WITH(run("defense: {method: distillation, teacher: " + teacher +
                        ", teacher_sha256: " + std::string(64, 'f') + "}\n"),
                    Catch::Contains("but the pin is"));
  CHECK_THAT(error_of(job("o", "defense: {method: distillation, teacher_sha256: " + hash + "}\n")),
             Catch::Contains("pins the file named by 'teacher'"));

  const std::string ensemble_at =
      "defense: {method: ensemble_at, eps: 0.1, validation: {steps: 2, points: 32}, "
      "static_models: [{arch: small_cnn, checkpoint: " +
      teacher + "}]}\n";
  CHECK_THROWS_WITH(run(ensemble_at), Catch::Contains(unpinned));
  test::write_bytes(dir + "/pins", hash + "  t.safetensors\n");
  CHECK_NOTHROW(run(ensemble_at + "security: {allowlist: " + dir + "/pins}\n"));
  rampart::core::remove_tree(dir);
}
