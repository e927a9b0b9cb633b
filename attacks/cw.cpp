#include "attacks/cw.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <limits>

#include "attacks/attack_ops.h"
#include "core/error.h"
#include "kernels/cw_step.h"

namespace rampart::attacks {
namespace detail {

at::Tensor to_tanh_space(const at::Tensor& x, double lo, double hi) {
  return at::atanh(((x - lo) / (hi - lo) * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6));
}

at::Tensor from_tanh_space(const at::Tensor& w, double lo, double hi) {
  // The clamp keeps rounding from landing one float step outside a box other than [0, 1].
  return (lo + (at::tanh(w) + 1) * (0.5 * (hi - lo))).clamp(lo, hi);
}

CWTerms cw_terms(models::Model& model, const at::Tensor& w, const at::Tensor& x,
                 const at::Tensor& labels, const at::Tensor& c, const CWOptions& o) {
  CWTerms t;
  t.x_adv = from_tanh_space(w, o.clip_min(), o.clip_max());
  t.logits = model.forward(t.x_adv);
  const at::Tensor label_logit = t.logits.gather(1, labels.unsqueeze(1)).squeeze(1);
  const at::Tensor other = best_other_logit(t.logits, labels);
  t.margin = o.targeted() ? other - label_logit : label_logit - other;
  t.loss = (t.x_adv - x).flatten(1).pow(2).sum(1) + c * t.margin.clamp_min(-o.kappa());
  return t;
}

constexpr double kNoUpperBound = 1e10;

ConstantSearch start_constant_search(int64_t n, double initial_const,
                                     const at::TensorOptions& options) {
  return {at::full({n}, initial_const, options), at::zeros({n}, options),
          at::full({n}, kNoUpperBound, options)};
}

void update_constants(ConstantSearch& s, const at::Tensor& succeeded) {
  s.upper = at::where(succeeded, at::minimum(s.upper, s.c), s.upper);
  s.lower = at::where(succeeded, s.lower, at::maximum(s.lower, s.c));
  s.c = at::where(s.upper.lt(kNoUpperBound / 10), (s.lower + s.upper) / 2, s.c * 10);
}

at::Tensor cw_hit(models::Model& model, const at::Tensor& x_adv, const at::Tensor& logits,
                  const at::Tensor& margin, const at::Tensor& labels, const CWOptions& o) {
  // For a vote, "fooled" is the vote's verdict; the kappa margin (on the averaged logits the
  // objective climbs) applies only when one is asked for.
  const bool by_argmax = model.predicts_by_argmax();
  at::Tensor hit = is_fooled(model, x_adv, logits, labels, o.targeted());
  if (by_argmax) {
    const at::Tensor guard = logits.abs().amax(1).add(1.0).mul(1e-5);
    hit = hit.logical_and(margin.le(-guard - o.kappa()));
  } else if (o.kappa() > 0) {
    hit = hit.logical_and(margin.le(-o.kappa()));
  }
  return hit;
}

}  // namespace detail

void validate(const CWOptions& o) {
  if (o.steps() < 1) throw ConfigError("cw: steps must be >= 1");
  if (o.binary_search_steps() < 1) throw ConfigError("cw: binary_search_steps must be >= 1");
  if (!(o.initial_const() > 0)) throw ConfigError("cw: initial_const must be > 0");
  if (!(o.lr() > 0)) throw ConfigError("cw: lr must be > 0");
  if (!(o.kappa() >= 0)) throw ConfigError("cw: kappa must be >= 0");
  if (!(o.clip_min() < o.clip_max())) throw ConfigError("cw: box needs min < max");
}

namespace {

// The best example found so far per sample, and the work done.
struct Search {
  at::Tensor best;
  at::Tensor best_l2;
  int64_t forwards = 0;
  int64_t backwards = 0;
};

// Adam on w from x's tanh image for `steps` iterations at the constants `c`; returns which
// samples were fooled (with the kappa margin) at some iterate, and records the closest ones.
at::Tensor optimize_for_constant(models::Model& model, const at::Tensor& x, const at::Tensor& w0,
                                 const at::Tensor& labels, const at::Tensor& c, const CWOptions& o,
                                 Search& search) {
  const int64_t n = x.size(0);
  const int64_t check_every = std::max<int64_t>(1, o.steps() / 10);
  kernels::CWState state{w0.clone(), at::zeros_like(w0), at::zeros_like(w0), search.best,
                         search.best_l2};
  const at::Tensor& w = state.w;
  at::Tensor succeeded = at::zeros({n}, x.options().dtype(at::kBool));
  // Abort-early is per sample, so a sample's result does not depend on the rest of the batch:
  // a sample that has succeeded at this constant and whose lowest loss since the last check is
  // not 0.01% below the lowest of the window before stops moving. (Carlini's l2_attack.py compares the batch's summed loss at the checks,
  // which averages Adam's noise away; one sample's loss at one iterate is noisy, and comparing
  // those stopped samples early: L2 1.06x the reference's on average, never below.)
  at::Tensor moving = at::ones({n}, x.options().dtype(at::kBool));
  const auto infinite = [&] { return at::full({n}, std::numeric_limits<double>::infinity(), x.options()); };
  at::Tensor previous = infinite();
  at::Tensor window = infinite();
  for (int64_t i = 0; i < o.steps(); ++i) {
    detail::CWTerms terms;
    at::Tensor grad;
    {
      c10::AutoGradMode enable_grad(true);
      const at::Tensor leaf = w.detach().requires_grad_(true);
      terms = detail::cw_terms(model, leaf, x, labels, c, o);
      grad = torch::autograd::grad({terms.loss.sum()}, {leaf})[0];
    }
    search.forwards += n;
    search.backwards += n;
    c10::NoGradGuard no_grad;
    // The iterate just evaluated counts when fooled with the kappa margin.
    const at::Tensor hit = detail::cw_hit(model, terms.x_adv.detach(), terms.logits.detach(),
                                          terms.margin.detach(), labels, o);
    if (!model.predicts_by_argmax()) search.forwards += n;
    succeeded.logical_or_(hit);
    bool stop = false;
    if (o.abort_early()) {
      at::minimum_out(window, window, terms.loss.detach());
      if (i % check_every == 0) {
        // Only a sample that has succeeded at this constant may stop: one that has not stalls
        // while Adam first grows its L2 term faster than the margin falls, and stopping it
        // would decide the binary search on a few steps (L2 up to 6x the full run's).
        moving.logical_and_(window.le(previous * 0.9999).logical_or(succeeded.logical_not()));
        previous = window;
        window = infinite();
        stop = !moving.any().item<bool>();  // host sync once every steps/10 iterations
      }
    }
    // Fused: best-example tracking, then Adam on w for the samples still moving (none when
    // stopping, so the last iterate is still tracked).
    kernels::cw_step_(state, grad, terms.x_adv.detach(), x, hit, moving, o.lr(), i + 1);
    if (stop) break;
  }
  return succeeded;
}

}  // namespace

AttackResult cw(models::Model& model, const at::Tensor& x_given, const at::Tensor& labels_given,
                const CWOptions& o) {
  const detail::OutOfInferenceMode normal;
  const at::Tensor x_in = normal.of(x_given), labels = normal.of(labels_given);
  validate(o);
  detail::check_batch(x_in, labels, o.clip_min(), o.clip_max(), "cw");
  models::AttackModeGuard guard(model);
  const at::Tensor x = x_in.detach();
  const int64_t n = x.size(0);
  const at::Tensor w0 = detail::to_tanh_space(x, o.clip_min(), o.clip_max());
  detail::ConstantSearch constants = detail::start_constant_search(n, o.initial_const(), x.options());
  Search search{x.clone(), at::full({n}, std::numeric_limits<double>::infinity(), x.options())};
  for (int64_t step = 0; step < o.binary_search_steps(); ++step) {
    const at::Tensor succeeded =
        optimize_for_constant(model, x, w0, labels, constants.c, o, search);
    c10::NoGradGuard no_grad;
    detail::update_constants(constants, succeeded);
  }
  // The returned examples judged again in one forward, so that the verdict is the one the
  // saved examples reproduce; one that is no longer adversarial is returned unperturbed.
  c10::NoGradGuard no_grad;
  const at::Tensor logits = model.forward(search.best);
  search.forwards += n;
  const at::Tensor label_logit = logits.gather(1, labels.unsqueeze(1)).squeeze(1);
  const at::Tensor other = detail::best_other_logit(logits, labels);
  const at::Tensor margin = o.targeted() ? other - label_logit : label_logit - other;
  const bool by_argmax = model.predicts_by_argmax();
  const at::Tensor success =
      search.best_l2.isfinite().logical_and(by_argmax ? detail::is_fooled(model, search.best, logits,
                                                                          labels, o.targeted())
                                                          .logical_and(margin.le(-o.kappa()))
                                                      : detail::cw_hit(model, search.best, logits,
                                                                       margin, labels, o));
  if (!by_argmax) search.forwards += n;
  const at::Tensor best = at::where(detail::per_sample(success, search.best), search.best, x);
  return detail::make_result(x, best, success, search.forwards, search.backwards);
}

CW::CW(CWOptions options) : options_(std::move(options)) { validate(options_); }

AttackResult CW::run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                     const at::Tensor& /*point_ids: no random start*/) const {
  return cw(model, x, labels, options_);
}

}  // namespace rampart::attacks
