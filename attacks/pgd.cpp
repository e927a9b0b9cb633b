#include "attacks/pgd.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <limits>
#include <stdexcept>
#include <string>

#include "attacks/attack_ops.h"
#include "attacks/pgd_step.h"
#ifdef RAMPART_WITH_CUDA
#include "attacks/pgd_cuda_graph.h"
#endif
#include "core/error.h"
#include "kernels/random_start.h"
#include "kernels/success_mask.h"

namespace rampart::attacks {
namespace {

// One PGD run on a sub-batch. Returns the final iterates and their objective (for keeping the
// best over restarts) and whether each was fooled.
struct RunResult {
  at::Tensor adversarial;
  at::Tensor objective;
  at::Tensor success;
};

at::Tensor start_point(const at::Tensor& x, const at::Tensor& point_ids, const PGDOptions& o,
                       int64_t restart) {
  if (!o.random_init()) return x.clone();
  at::Tensor start = at::empty_like(x, at::MemoryFormat::Contiguous);
  const uint64_t key = detail::start_key(o.seed(), o.stream(), o.eps(), restart);
  if (o.norm() == Norm::kLinf) {
    kernels::linf_random_start(start, x, o.eps(), o.clip_min(), o.clip_max(), key, point_ids);
  } else {
    kernels::l2_random_start(start, x, o.eps(), o.clip_min(), o.clip_max(), key, point_ids);
  }
  return start;
}

RunResult run_once(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                   const at::Tensor& point_ids, const PGDOptions& o, int64_t restart,
                   int64_t& forwards, int64_t& backwards) {
  at::Tensor x_adv = start_point(x, point_ids, o, restart);
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
  int64_t t = 0;
#ifdef RAMPART_WITH_CUDA
  // The graph's early stop freezes a sample by the argmax of the logits; a vote's verdict is
  // its own (detail::is_fooled), so a voting model with early stop takes the eager steps.
  if (x.is_cuda() && o.cuda_graphs() && (model.predicts_by_argmax() || !o.early_stop())) {
    t = detail::pgd_steps_cuda_graph(model, x_adv, x, labels, frozen, o, every);
    forwards += t * x.size(0);
    backwards += t * x.size(0);
  }
#endif
  for (; t < o.steps(); ++t) {
    const auto step = detail::input_gradient(model, x_adv, ya, o.loss(), o.targeted());
    forwards += x_adv.size(0);
    backwards += x_adv.size(0);
    c10::NoGradGuard no_grad;
    if (!o.early_stop()) {
      detail::pgd_update_(x_adv, xa, step.grad, o);
      continue;
    }
    if (model.predicts_by_argmax()) {
      kernels::update_fooled_(frozen, step.logits, ya, o.targeted());
    } else {  // a vote: fooled means the vote is, not the averaged logits the step climbs
      frozen.logical_or_(detail::is_fooled(model, x_adv, step.logits, ya, o.targeted()));
      forwards += x_adv.size(0);
    }
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
        detail::pgd_update_(x_adv, xa, step.grad.index_select(0, keep), o);
        frozen = at::zeros({active.numel()}, frozen.options());
        continue;
      }
    }
    if (every == 1) {
      detail::pgd_update_(x_adv, xa, step.grad, o);
    } else {
      detail::pgd_masked_update_(x_adv, xa, step.grad, frozen, o);
    }
  }
  if (!o.verdict()) {  // no early stop: every sample is still active
    out.adversarial.index_copy_(0, active, x_adv.detach());
    return out;
  }
  // The last iterate of the samples still active: one forward for its verdict and objective.
  c10::NoGradGuard no_grad;
  const at::Tensor logits = model.forward(x_adv);
  forwards += x_adv.size(0);
  out.adversarial.index_copy_(0, active, x_adv);
  out.objective.index_copy_(0, active, detail::objective(logits, ya, o.loss(), o.targeted()));
  out.success.index_copy_(0, active, detail::is_fooled(model, x_adv, logits, ya, o.targeted()));
  if (!model.predicts_by_argmax()) forwards += x_adv.size(0);
  return out;
}

}  // namespace

void validate(const PGDOptions& o) {
  if (!(o.eps() >= 0)) throw ConfigError("pgd: eps must be >= 0");
  if (o.steps() < 1) throw ConfigError("pgd: steps must be >= 1");
  // 0 = the default 2.5 * eps / steps; eps 0 is a budget like any other (robust accuracy =
  // clean accuracy), its default step is 0.
  if (!(o.step_size() >= 0)) throw ConfigError("pgd: step_size must be >= 0 (0 = 2.5 * eps / steps)");
  if (o.restarts() < 1) throw ConfigError("pgd: restarts must be >= 1");
  if (o.early_stop_every() < 0) throw ConfigError("pgd: early_stop_every must be >= 0");
  if (!(o.clip_min() < o.clip_max())) throw ConfigError("pgd: box needs min < max");
  if (!o.verdict() && (o.restarts() != 1 || o.early_stop())) {
    throw ConfigError("pgd: verdict false needs restarts 1 and no early stop (both judge iterates)");
  }
}

AttackResult pgd(models::Model& model, const at::Tensor& x_given, const at::Tensor& labels_given,
                 const PGDOptions& given, const at::Tensor& point_ids_given) {
  const detail::OutOfInferenceMode normal;
  const at::Tensor x = normal.of(x_given), labels = normal.of(labels_given),
                   point_ids = normal.of(point_ids_given);
  validate(given);
  PGDOptions options = given;
  if (options.step_size() == 0) {
    options.step_size(2.5 * options.eps() / static_cast<double>(options.steps()));
  }
  detail::check_batch(x, labels, options.clip_min(), options.clip_max(), "pgd");
  const at::Tensor ids = detail::point_ids_or_range(point_ids, x, "pgd");
  models::AttackModeGuard guard(model);
  int64_t forwards = 0, backwards = 0;

  const int64_t n = x.size(0);
  if (!options.verdict()) {  // one run, its last iterates as they are (validate: restarts 1)
    // Contiguous, as the restarts' index_select copies are (the CUDA graph's buffers must be).
    const RunResult run = run_once(model, x.detach().contiguous(), labels.contiguous(),
                                   ids.contiguous(), options, 0, forwards, backwards);
    return detail::make_result(x.detach(), run.adversarial, run.success, forwards, backwards);
  }
  at::Tensor best = x.detach().clone();
  at::Tensor best_objective = at::full({n}, -std::numeric_limits<double>::infinity(), x.options());
  at::Tensor fooled = at::zeros({n}, x.options().dtype(at::kBool));
  for (int64_t r = 0; r < options.restarts(); ++r) {
    // Later restarts attack only the samples not fooled yet.
    const at::Tensor pending = fooled.logical_not().nonzero().squeeze(1);
    if (pending.numel() == 0) break;
    const at::Tensor xs = x.detach().index_select(0, pending);
    const RunResult run = run_once(model, xs, labels.index_select(0, pending),
                                   ids.index_select(0, pending), options, r, forwards, backwards);
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

AttackResult PGD::run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                      const at::Tensor& point_ids) const {
  return pgd(model, x, labels, options_, point_ids);
}

std::string PGD::id() const {
  return "pgd-" + to_string(options_.norm()) + "-" + detail::format_eps(options_.eps());
}

}  // namespace rampart::attacks
