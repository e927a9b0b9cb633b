#include "training/trainer.h"

#include <spdlog/spdlog.h>
#include <torch/nn/functional/loss.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/progress.h"
#include "core/runtime.h"
#include "datasets/batcher.h"
#include "datasets/manifest.h"
#include "models/checkpoint.h"
#include "models/torchscript_export.h"
#include "security/model_intake.h"
#include "training/lr_schedule.h"

namespace rampart::training {
namespace {

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", fraction * 100.0);
  return buf;
}

// Where a resumed run stands: completed epochs and the best robust epoch so far.
struct Restored {
  int64_t epochs = 0;
  std::optional<double> best_robust_accuracy;
  int64_t best_epoch = 0;
  std::string sha256;  ///< of the checkpoint bytes the run resumed from
};

// A count of at most 9 digits, or nullopt.
std::optional<int64_t> parse_count(const std::string& text) {
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(text);
}

// How a checkpoint this run wrote under train.output is read back.
security::IntakeOptions own_output(const TrainConfig& config) {
  security::IntakeOptions intake;
  intake.policy = config.model.intake.policy;
  intake.own_output = true;
  return intake;
}

// A new best epoch's weights are staged beside best.safetensors and take its place only after
// the epoch's checkpoint (which names the best epoch) is written: a run stopped between the two
// writes would otherwise leave best.safetensors holding an epoch the checkpoint does not name.
std::string staged_best(const std::string& best) { return best + ".next"; }

void promote_staged_best(const std::string& best) {
  std::error_code ec;
  std::filesystem::rename(staged_best(best), best, ec);
  if (ec) throw DataError(staged_best(best) + ": cannot move it to " + best + ": " + ec.message());
}

// On resume: staged weights of the epoch the checkpoint names as best (stopped after the
// checkpoint, before the move) take their place; those of an epoch the checkpoint does not
// have (stopped before it) are dropped, the epoch runs again.
void settle_staged_best(const std::string& best, int64_t best_epoch, const TrainConfig& config) {
  std::error_code ec;
  if (!std::filesystem::exists(staged_best(best), ec)) return;
  const models::SafetensorsFile staged = models::read_checkpoint(staged_best(best), own_output(config));
  const auto epoch = staged.metadata.find("epochs_completed");
  if (epoch != staged.metadata.end() && epoch->second == std::to_string(best_epoch)) {
    promote_staged_best(best);
  } else {
    std::filesystem::remove(staged_best(best), ec);
  }
}

// Restores weights and optimizer state and reads where the run stands. The run's own
// checkpoint goes through the intake as this run's output: the `model.sha256` pin is for the
// starting weights the config names.
Restored restore(const std::string& path, models::Classifier& model,
                 torch::optim::Optimizer& optimizer, const TrainConfig& config,
                 const std::string& data_root) {
  const security::ModelFile raw = security::read_model_file(path, own_output(config));
  const models::SafetensorsFile file = models::parse_safetensors(raw.bytes, path);
  auto meta = [&](const std::string& key) {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end()) {
      throw ModelRejected(path + ": not a training checkpoint (no '" + key + "' metadata)");
    }
    return it->second;
  };
  const std::string epochs = meta("epochs_completed");
  Restored restored;
  restored.sha256 = raw.sha256;
  if (auto count = parse_count(epochs)) {
    restored.epochs = *count;
  } else {
    throw ModelRejected(path + ": epochs_completed metadata '" + epochs + "' is not a count");
  }
  const auto best = file.metadata.find("best_robust_accuracy");
  const auto best_epoch = file.metadata.find("best_epoch");
  if (best != file.metadata.end() && best_epoch != file.metadata.end()) {
    const auto epoch = parse_count(best_epoch->second);
    char* end = nullptr;
    const double value = std::strtod(best->second.c_str(), &end);
    if (!epoch || end == best->second.c_str() || *end != '\0' || !(value >= 0 && value <= 1)) {
      throw ModelRejected(path + ": best_robust_accuracy/best_epoch metadata is malformed");
    }
    restored.best_robust_accuracy = value;
    restored.best_epoch = *epoch;
  }
  if (meta("optimizer") != config.optimizer.name) {
    throw ModelRejected(path + ": checkpoint holds " + meta("optimizer") +
                        " state but the config trains with " + config.optimizer.name +
                        "; resume with the same optimizer or start a new train.output");
  }
  // The epochs so far saw the points the checkpoint records; continuing on others (an audit or
  // relabelling rewritten, data.exclude added or dropped) would make a model of neither set,
  // recorded as the second. Checkpoints from before 2026-12-05 record no root.
  if (const auto trained = file.metadata.find("data_root");
      trained != file.metadata.end() && trained->second != data_root) {
    throw DataError(path + ": its epochs trained on other points (data root " + trained->second +
                    ") than this run's data (root " + data_root +
                    ", after data.exclude or data.relabel): resume with the same data, or start "
                    "a new train.output");
  }
  models::load_weights(model, file, path);
  load_optimizer_state(optimizer, model, file, path);
  if (meta("config_sha256") != config.config_hash) {
    spdlog::warn(
        "{}: the config changed since this checkpoint was written; the resumed run "
        "will not match an uninterrupted one",
        path);
  }
  return restored;
}

std::string format_score(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

}  // namespace

uint64_t batch_seed(uint64_t seed, int64_t epoch, int64_t step) {
  uint64_t z = seed;
  for (uint64_t part : {static_cast<uint64_t>(epoch), static_cast<uint64_t>(step)}) {
    z += 0x9E3779B97F4A7C15ull * (part + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
  }
  return z;
}

double accuracy(models::Classifier& model, const datasets::Dataset& data, int64_t batch_size,
                const c10::Device& device) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  at::Tensor correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device));
  for (int64_t begin = 0; begin < data.size(); begin += batch_size) {
    const int64_t end = std::min(begin + batch_size, data.size());
    at::Tensor x = data.images.slice(0, begin, end).to(device);
    at::Tensor y = data.labels.slice(0, begin, end).to(device);
    correct += model.forward(x).argmax(1).eq(y).sum();
  }
  model.train(was_training);
  return data.size() == 0
             ? 0.0
             : static_cast<double>(correct.item<int64_t>()) / static_cast<double>(data.size());
}

TrainResult train(const TrainConfig& config, const TrainOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int threads = core::set_threads(config.threads);
  const c10::Device device(config.device);
  core::seed_everything(config.seed);
  // The intake comes first: a rejected starting checkpoint stops the run before any work.
  std::optional<models::SafetensorsFile> start_weights;
  if (!config.model.checkpoint.empty()) {
    start_weights = models::read_checkpoint(config.model.checkpoint, config.model.intake);
  }

  const auto& input_shape = config.model.input.shape;
  datasets::Dataset train_data =
      datasets::load_dataset(config.data, config.model.num_classes, input_shape);
  std::optional<datasets::Dataset> validation;
  if (config.validation) {
    validation = datasets::load_dataset(*config.validation, config.model.num_classes, input_shape);
  }
  if (options.robust_validation && !validation) {
    throw ConfigError(
        "validation: missing; this training keeps its most robust epoch, which needs a "
        "'validation' split");
  }
  // One SHA-256 pass over the points (0.2 to 0.4 s for 60,000 28x28 images on 2 cores).
  const std::string data_root = datasets::manifest_root(datasets::point_digests(train_data));
  if (options.shard) train_data = options.shard(train_data);
  datasets::Batcher batcher(train_data, config.data.batch_size, config.data.shuffle, config.seed);

  TrainResult result;
  result.validation_size = validation ? validation->size() : 0;
  result.data_manifest_root = train_data.manifest_root;
  result.excluded_points = train_data.excluded_points;
  result.exclusion_file = train_data.exclusion_file;
  result.relabelled_points = train_data.relabelled_points;
  result.relabel_file = train_data.relabel_file;
  result.relabel_sha256 = train_data.relabel_sha256;
  result.data_root = data_root;
  result.model = models::make_classifier(config.model);
  models::Classifier& model = *result.model;
  if (start_weights) models::load_weights(model, *start_weights, config.model.checkpoint);
  model.to(device);
  auto optimizer = make_optimizer(config.optimizer, model);
  result.checkpoint = (std::filesystem::path(config.output) / "checkpoint.safetensors").string();

  result.best_checkpoint = (std::filesystem::path(config.output) / "best.safetensors").string();
  int64_t first_epoch = 0;
  std::error_code ec;
  if (options.resume && std::filesystem::exists(result.checkpoint, ec)) {
    const Restored restored = restore(result.checkpoint, model, *optimizer, config, data_root);
    first_epoch = restored.epochs;
    if (first_epoch > config.epochs) {
      throw ConfigError("train.epochs: " + std::to_string(config.epochs) + ", but " +
                        result.checkpoint + " has trained " + std::to_string(first_epoch) +
                        ": --resume continues a run (set train.epochs to " +
                        std::to_string(first_epoch) + " or more, or train into another output)");
    }
    // The best epoch so far counts only for a run that keeps one: a plain run resuming an
    // adversarial one would otherwise deliver that run's best.safetensors, not its own epochs.
    if (options.robust_validation) {
      result.best_robust_accuracy = restored.best_robust_accuracy;
      result.best_epoch = restored.best_epoch;
      // Rank 0 alone: every rank of a distributed run shares train.output.
      if (options.write_outputs) settle_staged_best(result.best_checkpoint, result.best_epoch, config);
    }
    result.checkpoint_sha256 = restored.sha256;  // replaced when an epoch is saved
    spdlog::info("resuming from {} after epoch {}", result.checkpoint, first_epoch);
  } else if (options.resume) {
    spdlog::info("no checkpoint at {}; starting from epoch 1", result.checkpoint);
  }
  spdlog::info("training {} on {} points ({} batches of {}), {} thread(s), device {}", model.arch(),
               train_data.size(), batcher.num_batches(), config.data.batch_size, threads,
               config.device);

  const int64_t steps = batcher.num_batches();
  for (int64_t epoch = first_epoch; epoch < config.epochs; ++epoch) {
    model.train();
    core::Progress progress(
        "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(config.epochs), steps, "img");
    at::Tensor loss_sum = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
    at::Tensor correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device));
    int64_t seen = 0;
    auto stats = [&] {
      return "loss " +
             std::to_string(loss_sum.item<double>() / std::max<int64_t>(seen, 1)).substr(0, 6) +
             " acc " +
             percent(static_cast<double>(correct.item<int64_t>()) / std::max<int64_t>(seen, 1));
    };
    for (int64_t step = 0; step < steps; ++step) {
      set_learning_rate(*optimizer, learning_rate(config.schedule, config.optimizer.lr, epoch, step,
                                                  steps, config.epochs));
      const datasets::Batch batch = batcher.batch(epoch, step);
      at::Tensor x = batch.images.to(device);
      at::Tensor y = batch.labels.to(device);
      optimizer->zero_grad();
      at::Tensor logits, loss;
      if (options.objective) {
        BatchObjective objective =
            options.objective(model, x, y, batch_seed(config.seed, epoch, step));
        logits = objective.logits;
        loss = objective.loss;
      } else {
        logits = model.forward(x);
        loss = torch::nn::functional::cross_entropy(logits, y);
      }
      loss.backward();
      if (options.after_backward) options.after_backward(model, x, y, epoch, step, steps);
      optimizer->step();
      {
        torch::NoGradGuard no_grad;
        loss_sum += loss.detach().to(at::kDouble) * x.size(0);
        correct += logits.argmax(1).eq(y).sum();
      }
      seen += x.size(0);
      progress.update(x.size(0), stats);
      if (options.on_step) options.on_step(epoch, step);
    }
    result.train_loss = loss_sum.item<double>() / static_cast<double>(std::max<int64_t>(seen, 1));
    result.train_accuracy =
        static_cast<double>(correct.item<int64_t>()) / std::max<int64_t>(seen, 1);
    std::string summary = stats();
    if (validation) {
      result.validation_accuracy =
          accuracy(model, *validation, config.validation->batch_size, device);
      summary += " val_acc " + percent(*result.validation_accuracy);
    }
    bool staged = false;  // this epoch is the best so far, its weights in best.safetensors.next
    std::map<std::string, std::string> metadata{{"epochs_completed", std::to_string(epoch + 1)},
                                                {"optimizer", config.optimizer.name},
                                                {"seed", std::to_string(config.seed)},
                                                {"config_sha256", config.config_hash}};
    if (!result.data_manifest_root.empty()) metadata["data_manifest_root"] = result.data_manifest_root;
    metadata["data_root"] = result.data_root;
    if (!result.exclusion_file.empty()) {
      metadata["data_excluded_points"] = std::to_string(result.excluded_points);
      metadata["data_exclusion_file"] = result.exclusion_file;
    }
    if (!result.relabel_file.empty()) {
      metadata["data_relabelled_points"] = std::to_string(result.relabelled_points);
      metadata["data_relabel_file"] = result.relabel_file;
      metadata["data_relabel_sha256"] = result.relabel_sha256;
      metadata["data_relabel_left_out"] = std::to_string(result.excluded_points);
    }
    if (options.robust_validation) {
      result.robust_accuracy = options.robust_validation(model, *validation);
      summary += " robust_acc " + percent(*result.robust_accuracy);
      if (!result.best_robust_accuracy || *result.robust_accuracy > *result.best_robust_accuracy) {
        result.best_robust_accuracy = result.robust_accuracy;
        result.best_epoch = epoch + 1;
        summary += " (best)";
        if (options.write_outputs) {  // weights only; best.safetensors once the checkpoint says so
          models::save_checkpoint(staged_best(result.best_checkpoint), model, {}, metadata);
          staged = true;
        }
      }
      metadata["best_robust_accuracy"] = format_score(*result.best_robust_accuracy);
      metadata["best_epoch"] = std::to_string(result.best_epoch);
    }
    progress.finish(summary);
    if (options.on_epoch_end) options.on_epoch_end(epoch);
    if (options.write_outputs) {
      result.checkpoint_sha256 = models::save_checkpoint(
          result.checkpoint, model, optimizer_state(*optimizer, model), metadata);
      if (staged) promote_staged_best(result.best_checkpoint);
    }
    ++result.epochs_run;
  }
  if (result.epochs_run == 0 && validation) {
    result.validation_accuracy =
        accuracy(model, *validation, config.validation->batch_size, device);
  }
  if (result.best_epoch > 0 && options.robust_validation && validation && options.write_outputs) {
    // The most robust epoch is the model this run delivers.
    models::load_weights(model, models::read_checkpoint(result.best_checkpoint, own_output(config)),
                         result.best_checkpoint);
    spdlog::info("keeping epoch {} (robust accuracy {}) from {}", result.best_epoch,
                 percent(*result.best_robust_accuracy), result.best_checkpoint);
    result.kept_validation_accuracy =
        accuracy(model, *validation, config.validation->batch_size, device);
  }
  if (config.export_torchscript && options.write_outputs) {
    result.torchscript = (std::filesystem::path(config.output) / "model.pt").string();
    model.to(at::kCPU);
    result.torchscript_sha256 = models::export_torchscript(model, result.torchscript);
    model.to(device);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace rampart::training
