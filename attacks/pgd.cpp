#include "attacks/pgd.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <limits>

#include "attacks/attack_ops.h"
#include "core/error.h"
#include "kernels/l2_step.h"
#include "kernels/linf_step.h"

namespace rampart::attacks {
namespace {

// One PGD run on a sub-batch. Returns the final iterates and their objective (for keeping the
// best over restarts) and whether each was fooled.
struct RunResult {
  at::Tensor adversarial;
  at::Tensor objective;
  at::Tensor success;
};

// The fused projected step, in place on x_adv (a tensor of its own, never an alias of x).
void step_(at::Tensor& x_adv, const at::Tensor& x, const at::Tensor& grad, const PGDOptions& o) {
  if (o.norm() == Norm::kLinf) {
    kernels::linf_step_(x_adv, x, grad, o.step_size(), o.eps(), o.clip_min(), o.clip_max());
  } else {
    kernels::l2_step_(x_adv, x, grad, o.step_size(), o.eps(), o.clip_min(), o.clip_max());
  }
}

RunResult run_once(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const PGDOptions& o, at::Generator& generator, int64_t& forwards,
                   int64_t& backwards) {
  const double lo = o.clip_min(), hi = o.clip_max();
  at::Tensor x_adv =
      o.random_init() ? detail::random_start(x, o.norm(), o.eps(), lo, hi, generator) : x.clone();
  RunResult out{at::empty_like(x),
                at::full({x.size(0)}, -std::numeric_limits<double>::infinity(), x.options()),
                at::zeros({x.size(0)}, x.options().dtype(at::kBool))};
  // Positions (into x) of the samples still attacked, and their slices.
  at::Tensor active = at::arange(x.size(0), x.options().dtype(at::kLong));
  at::Tensor xa = x, ya = labels;
  const int64_t every =
      o.early_stop_every() > 0 ? o.early_stop_every() : (x.is_cuda() ? int64_t{4} : int64_t{1});
  // Fooled since the last checkpoint: frozen in place (device-side), removed at the checkpoint.
  at::Tensor frozen = at::zeros({x.size(0)}, x.options().dtype(at::kBool));
  for (int64_t t = 0; t < o.steps(); ++t) {
    const auto step = detail::input_gradient(model, x_adv, ya, o.loss(), o.targeted());
    forwards += x_adv.size(0);
    backwards += x_adv.size(0);
    c10::NoGradGuard no_grad;
    if (!o.early_stop()) {
      step_(x_adv, xa, step.grad, o);
      continue;
    }
    frozen.logical_or_(detail::is_success(step.logits, ya, o.targeted()));
    if ((t + 1) % every == 0 || every == 1) {
      const at::Tensor keep = frozen.logical_not().nonzero().squeeze(1);  // the host sync
      if (keep.size(0) < active.size(0)) {
        const at::Tensor done_rows = frozen.nonzero().squeeze(1);
        const at::Tensor done = active.index_select(0, done_rows);
        out.adversarial.index_copy_(0, done, x_adv.index_select(0, done_rows));
        out.success.index_fill_(0, done, true);
        active = active.index_select(0, keep);
        if (active.numel() == 0) return out;
        xa = xa.index_select(0, keep);
        ya = ya.index_select(0, keep);
        x_adv = x_adv.index_select(0, keep);
        step_(x_adv, xa, step.grad.index_select(0, keep), o);
        frozen = at::zeros({active.numel()}, frozen.options());
        continue;
      }
    }
    if (every == 1) {
      step_(x_adv, xa, step.grad, o);
    } else {  // frozen samples keep their iterate bit for bit
      const at::Tensor before = x_adv.clone();
      step_(x_adv, xa, step.grad, o);
      x_adv = at::where(detail::per_sample(frozen, x_adv), before, x_adv);
    }
  }
  // The last iterate of the samples still active: one forward for its verdict and objective.
  c10::NoGradGuard no_grad;
  const at::Tensor logits = model.forward(x_adv);
  forwards += x_adv.size(0);
  out.adversarial.index_copy_(0, active, x_adv);
  out.objective.index_copy_(0, active, detail::objective(logits, ya, o.loss(), o.targeted()));
  out.success.index_copy_(0, active, detail::is_success(logits, ya, o.targeted()));
  return out;
}

}  // namespace

void validate(const PGDOptions& o) {
  if (!(o.eps() >= 0)) throw ConfigError("pgd: eps must be >= 0");
  if (o.steps() < 1) throw ConfigError("pgd: steps must be >= 1");
  if (!(o.step_size() > 0)) throw ConfigError("pgd: step_size must be > 0");
  if (o.restarts() < 1) throw ConfigError("pgd: restarts must be >= 1");
  if (o.early_stop_every() < 0) throw ConfigError("pgd: early_stop_every must be >= 0");
  if (!(o.clip_min() < o.clip_max())) throw ConfigError("pgd: box needs min < max");
}

AttackResult pgd(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                 const PGDOptions& options) {
  validate(options);
  detail::check_batch(x, labels, options.clip_min(), options.clip_max(), "pgd");
  models::AttackModeGuard guard(model);
  at::Generator generator = at::detail::createCPUGenerator(options.seed());
  int64_t forwards = 0, backwards = 0;

  const int64_t n = x.size(0);
  at::Tensor best = x.detach().clone();
  at::Tensor best_objective = at::full({n}, -std::numeric_limits<double>::infinity(), x.options());
  at::Tensor fooled = at::zeros({n}, x.options().dtype(at::kBool));
  for (int64_t r = 0; r < options.restarts(); ++r) {
    // Later restarts attack only the samples not fooled yet.
    const at::Tensor pending = fooled.logical_not().nonzero().squeeze(1);
    if (pending.numel() == 0) break;
    const at::Tensor xs = x.detach().index_select(0, pending);
    const RunResult run = run_once(model, xs, labels.index_select(0, pending), options, generator,
                                   forwards, backwards);
    c10::NoGradGuard no_grad;
    // Take a run's example when it fools the model, or when it beats the best objective so far.
    const at::Tensor take =
        run.success.logical_or(run.objective.gt(best_objective.index_select(0, pending)));
    const at::Tensor positions = pending.masked_select(take);
    best.index_copy_(0, positions, run.adversarial.index({take}));
    best_objective.index_copy_(0, positions, run.objective.masked_select(take));
    fooled.index_copy_(0, positions, run.success.masked_select(take));
  }
  return detail::make_result(x.detach(), best, fooled, forwards, backwards);
}

PGD::PGD(PGDOptions options) : options_(std::move(options)) { validate(options_); }

AttackResult PGD::run(models::Model& model, const at::Tensor& x, const at::Tensor& labels) const {
  return pgd(model, x, labels, options_);
}

std::string PGD::id() const {
  return "pgd-" + to_string(options_.norm()) + "-" + detail::format_eps(options_.eps());
}

}  // namespace rampart::attacks
