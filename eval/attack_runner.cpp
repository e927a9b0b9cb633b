#include "eval/attack_runner.h"

#include <ATen/ATen.h>

#include <chrono>
#include <optional>
#include <stdexcept>

#include "core/progress.h"

namespace rampart::eval {
namespace {

at::Tensor predicted_wrong(models::Model& model, const at::Tensor& x, const at::Tensor& labels) {
  at::NoGradGuard no_grad;
  return model.predict(x).ne(labels);
}

}  // namespace

AttackRun run_attack(const ConfiguredAttack& attack, models::Model& model, const at::Tensor& images,
                     const at::Tensor& labels, const at::Tensor& mask,
                     const AttackRunSettings& settings) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = images.size(0);
  const at::Tensor indices = mask.nonzero().flatten();
  const int64_t count = indices.numel();
  const int64_t batches = (count + settings.batch_size - 1) / settings.batch_size;

  AttackRun run;
  AttackOutcome& o = run.outcome;
  o.id = attack.id;
  o.norm = attack.norm;
  o.eps = attack.eps;
  o.bounded = attack.bounded;
  o.success = at::zeros({n}, at::kBool);
  o.l2 = at::zeros({n}, at::kFloat);
  o.linf = at::zeros({n}, at::kFloat);
  run.attacked = count;
  if (settings.keep_adversarial) run.adversarial = images.to(at::kFloat).clone();
  if (settings.detector) run.detected = at::zeros({n}, at::kBool);

  // A BPDA twin attacks the straight-through view; every adversarial example is judged by the
  // model itself, as is every one against a model that does not predict by argmax (a vote).
  models::Model* view = attack.bpda ? model.straight_through() : &model;
  if (!view) throw std::logic_error(attack.id + ": the model has no straight-through view");
  models::Model& target = *view;
  const bool judge_by_prediction = attack.bpda || !model.predicts_by_argmax();

  std::optional<core::Progress> progress;
  if (!settings.quiet) progress.emplace(o.id, batches, "img");
  int64_t fooled = 0;
  std::vector<at::Tensor> example_indices, example_images;
  int64_t examples_kept = 0;
  for (int64_t b = 0; b < batches; ++b) {
    const at::Tensor idx =
        indices.slice(0, b * settings.batch_size, std::min(count, (b + 1) * settings.batch_size));
    const at::Tensor x = images.index_select(0, idx).to(settings.device);
    const at::Tensor y = labels.index_select(0, idx).to(settings.device);
    attacks::AttackResult r = attack.attack->run(target, x, y, idx.to(settings.device));
    const at::Tensor success = judge_by_prediction
                                   ? predicted_wrong(model, r.adversarial.detach(), y).cpu()
                                   : r.success.cpu();
    o.success.index_put_({idx}, success);
    o.l2.index_put_({idx}, r.l2.cpu().to(at::kFloat));
    o.linf.index_put_({idx}, r.linf.cpu().to(at::kFloat));
    o.forward_samples += r.forward_samples;
    o.backward_samples += r.backward_samples;
    if (settings.detector) {
      run.detected.index_put_({idx}, settings.detector->flag(model, r.adversarial.detach(),
                                                              settings.batch_size, settings.device));
    }
    const at::Tensor adv = r.adversarial.detach().cpu().to(at::kFloat);
    if (settings.keep_adversarial) run.adversarial.index_copy_(0, idx, adv);
    if (examples_kept < settings.examples) {
      const at::Tensor hits =
          success.nonzero().flatten().slice(0, 0, settings.examples - examples_kept);
      example_indices.push_back(idx.index_select(0, hits));
      example_images.push_back(adv.index_select(0, hits));
      examples_kept += hits.numel();
    }
    fooled += success.sum().item<int64_t>();
    if (progress) {
      progress->update(idx.numel(), [&] { return "fooled " + std::to_string(fooled); });
    }
  }
  if (progress) {
    progress->finish("fooled " + std::to_string(fooled) + " of " + std::to_string(count));
  }
  run.example_indices =
      example_indices.empty() ? at::zeros({0}, at::kLong) : at::cat(example_indices);
  if (!example_images.empty()) run.example_adversarial = at::cat(example_images);
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace rampart::eval
