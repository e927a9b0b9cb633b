#include "eval/attack_runner.h"

#include <ATen/ATen.h>

#include <chrono>
#include <optional>
#include <stdexcept>

#include "core/progress.h"

namespace rampart::eval {
namespace {

// The success of an adversarial example as the model itself judges it: a wrong prediction, or
// for a backdoor entry (`backdoor_target` >= 0) the trigger's target class.
at::Tensor judged_success(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                          int64_t backdoor_target) {
  at::NoGradGuard no_grad;
  const at::Tensor predicted = model.predict(x);
  return backdoor_target >= 0 ? predicted.eq(backdoor_target) : predicted.ne(labels);
}

// Runs one attack (or one part of an ensemble) on the points `indices`, batch by batch, and
// records its results into `run`. A part (`part` >= 0) records only the points it fooled, and
// marks them as fooled by it.
class BatchRunner {
 public:
  BatchRunner(const ConfiguredAttack& attack, models::Model& model, const at::Tensor& images,
              const at::Tensor& labels, const AttackRunSettings& settings, AttackRun& run)
      : model_(model), images_(images), labels_(labels), settings_(settings), run_(run) {
    // A BPDA twin attacks the straight-through view; every adversarial example is judged by the
    // model itself, as is every one against a model that does not predict by argmax (a vote)
    // or that is randomised.
    models::Model* view = attack.bpda ? model.straight_through() : &model;
    if (!view) throw std::logic_error(attack.id + ": the model has no straight-through view");
    target_ = view;
    judge_by_prediction_ = attack.bpda || !model.predicts_by_argmax() || settings.randomised;
    backdoor_target_ = attack.backdoor_target;
  }

  void run(const attacks::Attack& attack, const at::Tensor& indices, int64_t part,
           const std::string& label) {
    AttackOutcome& o = run_.outcome;
    const int64_t count = indices.numel();
    const int64_t batches = (count + settings_.batch_size - 1) / settings_.batch_size;
    std::optional<core::Progress> progress;
    if (!settings_.quiet) progress.emplace(label, batches, "img");
    kept_ = 0;  // each part keeps its first successes; finish_examples keeps the first overall
    int64_t fooled = 0;
    for (int64_t b = 0; b < batches; ++b) {
      const at::Tensor idx = indices.slice(0, b * settings_.batch_size,
                                           std::min(count, (b + 1) * settings_.batch_size));
      const at::Tensor x = images_.index_select(0, idx).to(settings_.device);
      const at::Tensor y = labels_.index_select(0, idx).to(settings_.device);
      attacks::AttackResult r = attack.run(*target_, x, y, idx.to(settings_.device));
      const at::Tensor success = judge_by_prediction_
                                     ? judged_success(model_, r.adversarial.detach(), y, backdoor_target_).cpu()
                                     : r.success.cpu();
      o.forward_samples += r.forward_samples;
      o.backward_samples += r.backward_samples;
      // A part records only what it fooled: the others stay for the next part.
      const at::Tensor rows = part >= 0 ? success.nonzero().flatten()
                                        : at::arange(idx.numel(), idx.options());
      const at::Tensor at_rows = idx.index_select(0, rows);
      const at::Tensor adv = r.adversarial.detach().cpu().to(at::kFloat).index_select(0, rows);
      o.success.index_put_({at_rows}, success.index_select(0, rows));
      o.l2.index_put_({at_rows}, r.l2.cpu().to(at::kFloat).index_select(0, rows));
      o.linf.index_put_({at_rows}, r.linf.cpu().to(at::kFloat).index_select(0, rows));
      if (part >= 0) o.fooled_by.index_fill_(0, at_rows, part);
      if (settings_.detector) {
        run_.detected.index_put_(
            {at_rows}, settings_.detector->flag(model_, adv.to(settings_.device),
                                                settings_.batch_size, settings_.device));
      }
      if (settings_.keep_adversarial) run_.adversarial.index_copy_(0, at_rows, adv);
      keep_examples(at_rows, adv, success.index_select(0, rows));
      fooled += success.sum().item<int64_t>();
      if (progress) {
        progress->update(idx.numel(), [&] { return "fooled " + std::to_string(fooled); });
      }
    }
    if (progress) {
      progress->finish("fooled " + std::to_string(fooled) + " of " + std::to_string(count));
    }
  }

  // The examples for the report's image grid: the first `examples` successful points in data
  // order, whatever part fooled them (so a distributed evaluation's merged examples, the first
  // of each rank's, are the same).
  void finish_examples() {
    if (example_indices_.empty()) {
      run_.example_indices = at::zeros({0}, at::kLong);
      return;
    }
    const at::Tensor indices = at::cat(example_indices_);
    const at::Tensor order = std::get<1>(indices.sort()).slice(0, 0, settings_.examples);
    run_.example_indices = indices.index_select(0, order);
    run_.example_adversarial = at::cat(example_images_).index_select(0, order);
  }

 private:
  void keep_examples(const at::Tensor& at_rows, const at::Tensor& adv, const at::Tensor& success) {
    if (kept_ >= settings_.examples) return;
    const at::Tensor hits = success.nonzero().flatten().slice(0, 0, settings_.examples - kept_);
    example_indices_.push_back(at_rows.index_select(0, hits));
    example_images_.push_back(adv.index_select(0, hits));
    kept_ += hits.numel();
  }

  models::Model& model_;
  models::Model* target_ = nullptr;
  bool judge_by_prediction_ = false;
  int64_t backdoor_target_ = -1;
  const at::Tensor& images_;
  const at::Tensor& labels_;
  const AttackRunSettings& settings_;
  AttackRun& run_;
  std::vector<at::Tensor> example_indices_, example_images_;
  int64_t kept_ = 0;
};

}  // namespace

AttackRun run_attack(const ConfiguredAttack& attack, models::Model& model, const at::Tensor& images,
                     const at::Tensor& labels, const at::Tensor& mask,
                     const AttackRunSettings& settings) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = images.size(0);
  const at::Tensor indices = mask.nonzero().flatten();

  AttackRun run;
  AttackOutcome& o = run.outcome;
  o.id = attack.id;
  o.norm = attack.norm;
  o.eps = attack.eps;
  o.bounded = attack.bounded;
  o.backdoor_target = attack.backdoor_target;
  o.success = at::zeros({n}, at::kBool);
  o.l2 = at::zeros({n}, at::kFloat);
  o.linf = at::zeros({n}, at::kFloat);
  run.attacked = indices.numel();
  if (settings.keep_adversarial) run.adversarial = images.to(at::kFloat).clone();
  if (settings.detector) run.detected = at::zeros({n}, at::kBool);
  o.components = attack.attack->components();
  if (!o.components.empty()) o.fooled_by = at::full({n}, -1, at::kLong);

  BatchRunner runner(attack, model, images, labels, settings, run);
  const auto parts = attack.attack->parts();
  if (parts.empty()) {
    runner.run(*attack.attack, indices, -1, o.id);
  } else {
    // An ensemble part by part over the whole data set, each on the points still robust.
    at::Tensor pending = indices;
    for (std::size_t k = 0; k < parts.size() && pending.numel() > 0; ++k) {
      runner.run(*parts[k], pending, static_cast<int64_t>(k), o.id + " " + o.components[k]);
      pending = pending.masked_select(o.success.index_select(0, pending).logical_not());
    }
  }
  runner.finish_examples();
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace rampart::eval
