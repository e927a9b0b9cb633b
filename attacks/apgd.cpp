#include "attacks/apgd.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <initializer_list>
#include <limits>

#include "attacks/attack_ops.h"
#include "attacks/dlr_loss.h"
#include "attacks/target_runs.h"
#include "core/error.h"
#include "kernels/apgd_step.h"
#include "kernels/random_start.h"

// Where this differs from the reference (fra31/auto-attack, autopgd_base.py):
// - Random starts are drawn per point from keyed Philox streams (uniform in the Linf cube or in
//   the L2 ball; the reference scales a uniform draw to max |t| = eps, or puts an L2 start on the
//   sphere), so a point starts from the same place in any batch.
// - Kept from the reference although the paper reads otherwise: at the first checkpoint the
//   first step's loss is compared with 0 (the reference's loss_steps[-1], an unwritten entry, by
//   Python's wrap-around), not with the start's loss f(x^(0)). For the DLR losses, negative until
//   the point is nearly fooled, that step never counts as an increase, which makes halving the
//   step at the first checkpoint more likely; matching it keeps the numbers comparable.
// - Fooled points leave the batch (their result cannot change) and every returned example is
//   confirmed by one more forward.

namespace rampart::attacks {
namespace {

at::Tensor objective(const at::Tensor& logits, const at::Tensor& y, const at::Tensor& targets,
                     APGDLoss loss) {
  if (targets.defined()) return targeted_dlr_loss(logits, y, targets);
  if (loss == APGDLoss::kDLR) return dlr_loss(logits, y);
  return at::cross_entropy_loss(logits, y, /*weight=*/{}, at::Reduction::None);
}

struct Gradient {
  at::Tensor logits, loss, grad;
};

// The gradient at x_adv averaged over `samples` forward/backward passes (EOT; one for a
// deterministic model). The logits and loss are the last pass's, as in the reference.
Gradient eot_gradient(models::Model& model, const at::Tensor& x_adv, const at::Tensor& y,
                      const at::Tensor& targets, APGDLoss loss, int64_t samples) {
  c10::InferenceMode not_inference(false);  // gradients are needed even under a caller's guard
  c10::AutoGradMode enable_grad(true);
  Gradient out;
  for (int64_t k = 0; k < samples; ++k) {
    const at::Tensor leaf = x_adv.detach().requires_grad_(true);
    const at::Tensor logits = model.forward(leaf);
    const at::Tensor value = objective(logits, y, targets, loss);
    const at::Tensor g = torch::autograd::grad({value.sum()}, {leaf})[0];
    out.grad = k == 0 ? g.contiguous() : out.grad.add_(g);
    out.logits = logits.detach();
    out.loss = value.detach().contiguous();
  }
  if (samples > 1) out.grad.div_(static_cast<double>(samples));
  return out;
}

// One run's state per point still attacked; rows leave together once fooled.
struct State {
  at::Tensor rows;  // positions in the run's sub-batch
  at::Tensor x, y, targets;
  at::Tensor x_adv, x_prev, grad, x_best, grad_best, x_best_adv;
  at::Tensor loss_best, loss_prev, loss_best_last, step, increases, fooled, reduced_last;

  void keep(const at::Tensor& idx) {
    for (at::Tensor* t : {&rows, &x, &y, &x_adv, &x_prev, &grad, &x_best, &grad_best, &x_best_adv,
                          &loss_best, &loss_prev, &loss_best_last, &step, &increases, &fooled,
                          &reduced_last}) {
      *t = t->index_select(0, idx);
    }
    if (targets.defined()) targets = targets.index_select(0, idx);
  }
};

struct Run {
  at::Tensor adversarial, success, objective;
};

// The step-size rule at a checkpoint (Algorithm 1, conditions 1 and 2): halve the step and go
// back to the best point where at most rho * k of the last k steps raised the loss, or where
// the step was not halved at the last checkpoint and the best loss has not risen since.
void checkpoint(State& s, double threshold) {
  const at::Tensor stalled = s.reduced_last.logical_not().logical_and(s.loss_best_last.ge(s.loss_best));
  const at::Tensor halve = s.increases.le(threshold).logical_or(stalled);
  s.reduced_last = halve;
  s.loss_best_last = s.loss_best.clone();
  s.step = at::where(halve, s.step * 0.5, s.step);
  const at::Tensor rows = detail::per_sample(halve, s.x_adv);
  s.x_adv = at::where(rows, s.x_best, s.x_adv);
  s.grad = at::where(rows, s.grad_best, s.grad);
  s.increases.zero_();
}

at::Tensor start_point(const at::Tensor& x, const at::Tensor& ids, const APGDOptions& o,
                       int64_t run) {
  if (!o.random_init()) return x.clone();
  at::Tensor start = at::empty_like(x, at::MemoryFormat::Contiguous);
  const uint64_t key = detail::start_key(o.seed(), o.stream(), o.eps(), run);
  if (o.norm() == Norm::kLinf) {
    kernels::linf_random_start(start, x, o.eps(), o.clip_min(), o.clip_max(), key, ids);
  } else {
    kernels::l2_random_start(start, x, o.eps(), o.clip_min(), o.clip_max(), key, ids);
  }
  return start;
}

Run run_once(models::Model& model, const at::Tensor& x, const at::Tensor& y,
             const at::Tensor& targets, const at::Tensor& ids, const APGDOptions& o, int64_t run,
             int64_t& forwards, int64_t& backwards) {
  const int64_t n = x.size(0);
  const int64_t eot = o.eot_samples();
  Run out{at::empty_like(x), at::zeros({n}, x.options().dtype(at::kBool)),
          at::empty({n}, x.options())};
  State s;
  s.rows = at::arange(n, x.options().dtype(at::kLong));
  s.x = x;
  s.y = y;
  s.targets = targets;
  s.x_adv = start_point(x, ids, o, run);
  Gradient g = eot_gradient(model, s.x_adv, y, targets, o.loss(), eot);
  forwards += n * eot;
  backwards += n * eot;
  c10::NoGradGuard no_grad;
  const auto fooled_at = [&](const at::Tensor& point, const at::Tensor& logits) {
    if (!model.predicts_by_argmax()) forwards += point.size(0);
    return detail::is_fooled(model, point, logits, s.y, /*targeted=*/false);
  };
  s.grad = g.grad;
  s.x_prev = s.x_adv.clone();
  s.x_best = s.x_adv.clone();
  s.grad_best = g.grad.clone();
  s.x_best_adv = s.x_adv.clone();
  s.loss_best = g.loss.clone();
  s.loss_prev = at::zeros_like(g.loss);  // the reference's loss_steps[-1] (see the top)
  s.loss_best_last = g.loss.clone();
  s.step = at::full({n}, o.step_size() > 0 ? o.step_size() : 2.0 * o.eps(), x.options());
  s.increases = at::zeros({n}, x.options().dtype(at::kInt));
  s.fooled = fooled_at(s.x_adv, g.logits).clone();
  s.reduced_last = at::ones({n}, x.options().dtype(at::kBool));

  // Fooled points leave: their example is final. One host sync; free on the CPU.
  const auto retire = [&] {
    const at::Tensor done = s.fooled.nonzero().squeeze(1);
    if (done.numel() == 0) return;
    const at::Tensor positions = s.rows.index_select(0, done);
    out.adversarial.index_copy_(0, positions, s.x_best_adv.index_select(0, done));
    out.success.index_fill_(0, positions, true);
    out.objective.index_copy_(0, positions, s.loss_best.index_select(0, done));
    s.keep(s.fooled.logical_not().nonzero().squeeze(1));
  };
  const bool retire_every_step = !x.is_cuda();
  // With EOT (a randomised model) every point is attacked to the last step, as the reference
  // does (autopgd_base.py overwrites x_best_adv with every iterate that fools): the first
  // iterate that fools one draw lies just across the boundary, where a fresh draw often is not
  // fooled (robust 0.64 reported, against the reference's 0.54). Without EOT a fooled point's
  // example is final, and the point leaves.
  const bool retire_early = eot == 1;
  const bool l2 = o.norm() == Norm::kL2;
  const auto checkpoints = apgd_checkpoints(o.steps());
  std::size_t next = 0;
  if (retire_early) retire();
  for (int64_t i = 0; i < o.steps() && s.rows.numel() > 0; ++i) {
    kernels::apgd_step_(s.x_adv, s.x_prev, s.x, s.grad, s.step, i == 0 ? 1.0 : o.alpha(), o.eps(),
                        o.clip_min(), o.clip_max(), l2);
    g = eot_gradient(model, s.x_adv, s.y, s.targets, o.loss(), eot);
    forwards += s.x_adv.size(0) * eot;
    backwards += s.x_adv.size(0) * eot;
    s.grad = g.grad;
    kernels::apgd_track_(s.x_best, s.grad_best, s.loss_best, s.x_best_adv, s.fooled, s.loss_prev,
                         s.increases, s.x_adv, s.grad, g.loss, fooled_at(s.x_adv, g.logits));
    const bool at_checkpoint = next < checkpoints.size() && checkpoints[next].first == i + 1;
    if (at_checkpoint) checkpoint(s, o.rho() * static_cast<double>(checkpoints[next++].second));
    if (retire_early && (retire_every_step || at_checkpoint)) retire();
  }
  retire();
  // Points never fooled: the example with the highest loss.
  out.adversarial.index_copy_(0, s.rows, s.x_best);
  out.objective.index_copy_(0, s.rows, s.loss_best);
  return out;
}

}  // namespace

void validate(const APGDOptions& o) {
  if (!(o.eps() >= 0)) throw ConfigError("apgd: eps must be >= 0");
  if (o.steps() < 1) throw ConfigError("apgd: steps must be >= 1");
  if (o.restarts() < 1) throw ConfigError("apgd: restarts must be >= 1");
  if (o.target_classes() < 0) throw ConfigError("apgd: target_classes must be >= 0");
  if (!(o.rho() >= 0 && o.rho() <= 1)) throw ConfigError("apgd: rho must be in [0, 1]");
  if (!(o.alpha() > 0 && o.alpha() <= 1)) throw ConfigError("apgd: alpha must be in (0, 1]");
  if (!(o.step_size() >= 0)) throw ConfigError("apgd: step_size must be >= 0 (0 = 2 * eps)");
  if (o.eot_samples() < 1) throw ConfigError("apgd: eot_samples must be >= 1");
  if (!(o.clip_min() < o.clip_max())) throw ConfigError("apgd: box needs min < max");
}

std::vector<std::pair<int64_t, int64_t>> apgd_checkpoints(int64_t steps) {
  const auto part = [steps](double fraction) {
    return std::max<int64_t>(static_cast<int64_t>(fraction * static_cast<double>(steps)), 1);
  };
  const int64_t first = part(0.22), shortest = part(0.06), shrink = part(0.03);
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t at = first, length = first; at <= steps;) {
    out.emplace_back(at, length);
    length = std::max(length - shrink, shortest);
    at += length;
  }
  return out;
}

AttackResult apgd(models::Model& model, const at::Tensor& x_given, const at::Tensor& labels_given,
                  const APGDOptions& o, const at::Tensor& point_ids_given) {
  const detail::OutOfInferenceMode normal;
  const at::Tensor x = normal.of(x_given), labels = normal.of(labels_given),
                   point_ids = normal.of(point_ids_given);
  validate(o);
  detail::check_batch(x, labels, o.clip_min(), o.clip_max(), "apgd");
  const at::Tensor ids = detail::point_ids_or_range(point_ids, x, "apgd");
  models::AttackModeGuard guard(model);
  int64_t forwards = 0, backwards = 0;
  const int64_t n = x.size(0);
  const at::Tensor clean = x.detach();
  at::Tensor best = clean.clone();
  at::Tensor best_objective =
      at::full({n}, -std::numeric_limits<double>::infinity(), x.options());
  at::Tensor fooled = at::zeros({n}, x.options().dtype(at::kBool));
  detail::for_each_pending_run(
      model, clean, labels, fooled, o.target_classes(), o.restarts(), forwards,
      [&](const detail::PendingRun& p) {
        const Run result = run_once(model, p.x, p.labels, p.targets, ids.index_select(0, p.pending),
                                    o, p.run, forwards, backwards);
        c10::NoGradGuard no_grad;
        const at::Tensor take = result.success.logical_or(
            result.objective.gt(best_objective.index_select(0, p.pending)));
        const at::Tensor positions = p.pending.masked_select(take);
        best.index_copy_(0, positions, result.adversarial.index({take}));
        best_objective.index_copy_(0, positions, result.objective.masked_select(take));
        fooled.index_copy_(0, positions, result.success.masked_select(take));
      });
  fooled = detail::confirm_fooled(model, best, labels, fooled, forwards);
  return detail::make_result(clean, best, fooled, forwards, backwards);
}

APGD::APGD(APGDOptions options) : options_(std::move(options)) { validate(options_); }

AttackResult APGD::run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                       const at::Tensor& point_ids) const {
  return apgd(model, x, labels, options_, point_ids);
}

std::string APGD::id() const {
  const std::string variant = options_.target_classes() > 0          ? "t"
                              : options_.loss() == APGDLoss::kDLR ? "dlr"
                                                                  : "ce";
  return "apgd-" + variant + "-" + to_string(options_.norm()) + "-" +
         detail::format_eps(options_.eps());
}

}  // namespace rampart::attacks
