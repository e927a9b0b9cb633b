#include "attacks/fab.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "attacks/attack_ops.h"
#include "attacks/target_runs.h"
#include "core/error.h"
#include "kernels/random_start.h"

// Where this differs from the reference (fra31/auto-attack, fab_base.py and fab_projections.py):
// - The projection is solved as one monotone piecewise-linear equation per row (see
//   fab_projection in the header); the reference's bisection over the same breakpoints finds the
//   same step.
// - A restart starts uniformly in the eps/2-ball from a keyed per-point stream (the reference
//   scales one uniform or normal draw to norm eps/2).
// - A point leaves the batch once it has an example within eps: FAB would go on shrinking it,
//   which cannot change the point's verdict at this eps.

namespace rampart::attacks {
namespace {

at::Tensor row_norm(const at::Tensor& d, Norm norm) {
  const at::Tensor flat = d.flatten(1);
  return norm == Norm::kLinf ? flat.abs().amax(1) : flat.norm(2, 1);
}

// The dual norm of the gradient, the denominator of the distance to a linearised boundary.
at::Tensor dual_norm(const at::Tensor& g, Norm norm) {
  const at::Tensor flat = g.flatten(2);
  return norm == Norm::kLinf ? flat.abs().sum(2) : flat.norm(2, 2);
}

// The linearised boundary at x1: f (z_t - z_y, negative while the label wins) and its gradient.
struct Linearisation {
  at::Tensor f, grad;
  int64_t backward_passes = 1;  // per sample
};

Linearisation target_boundary(models::Model& model, const at::Tensor& x1, const at::Tensor& y,
                              const at::Tensor& targets) {
  c10::InferenceMode not_inference(false);
  c10::AutoGradMode enable_grad(true);
  const at::Tensor leaf = x1.detach().requires_grad_(true);
  const at::Tensor logits = model.forward(leaf);
  const at::Tensor f = logits.gather(1, targets.unsqueeze(1)).squeeze(1) -
                       logits.gather(1, y.unsqueeze(1)).squeeze(1);
  const at::Tensor g = torch::autograd::grad({f.sum()}, {leaf})[0];
  return {f.detach(), g, 1};
}

// Untargeted: every class linearised (one backward per class), the nearest boundary kept.
Linearisation nearest_boundary(models::Model& model, const at::Tensor& x1, const at::Tensor& y,
                               Norm norm) {
  c10::InferenceMode not_inference(false);
  c10::AutoGradMode enable_grad(true);
  const at::Tensor leaf = x1.detach().requires_grad_(true);
  const at::Tensor logits = model.forward(leaf);
  const int64_t classes = logits.size(1);
  std::vector<at::Tensor> rows;
  for (int64_t k = 0; k < classes; ++k) {
    rows.push_back(torch::autograd::grad({logits.select(1, k).sum()}, {leaf}, {},
                                         /*retain_graph=*/k + 1 < classes)[0]);
  }
  c10::NoGradGuard no_grad;
  const at::Tensor jacobian = at::stack(rows, 1);  // [N, K, ...]
  const at::Tensor z = logits.detach();
  const at::Tensor index = y.view({-1, 1});
  const at::Tensor df = z - z.gather(1, index);
  const at::Tensor own = jacobian.index({at::arange(y.size(0), y.options()), y}).unsqueeze(1);
  const at::Tensor dg = jacobian - own;
  const at::Tensor distance =
      (df.abs() / (dual_norm(dg, norm) + 1e-12))
          .scatter(1, index, std::numeric_limits<double>::infinity());
  const at::Tensor nearest = distance.argmin(1);
  return {df.gather(1, nearest.unsqueeze(1)).squeeze(1),
          dg.index({at::arange(y.size(0), y.options()), nearest}), classes};
}

struct Run {
  at::Tensor adversarial, distance;
};

Run run_once(models::Model& model, const at::Tensor& x, const at::Tensor& y,
             const at::Tensor& targets, const at::Tensor& ids, const FABOptions& o, int64_t run,
             int64_t restart, int64_t& forwards, int64_t& backwards) {
  const int64_t n = x.size(0);
  const double inf = std::numeric_limits<double>::infinity();
  Run out{x.clone(), at::full({n}, inf, x.options())};
  at::Tensor rows = at::arange(n, x.options().dtype(at::kLong));
  at::Tensor x0 = x, ys = y, ts = targets;
  at::Tensor x1 = x.clone();
  if (restart > 0) {
    const uint64_t key = detail::start_key(o.seed(), o.stream(), o.eps(), run);
    if (o.norm() == Norm::kLinf) {
      kernels::linf_random_start(x1, x, o.eps() / 2, o.clip_min(), o.clip_max(), key, ids);
    } else {
      kernels::l2_random_start(x1, x, o.eps() / 2, o.clip_min(), o.clip_max(), key, ids);
    }
  }
  at::Tensor best = x.clone(), distance = at::full({n}, inf, x.options());
  for (int64_t step = 0; step < o.steps() && rows.numel() > 0; ++step) {
    const Linearisation lin = targets.defined() ? target_boundary(model, x1, ys, ts)
                                                : nearest_boundary(model, x1, ys, o.norm());
    forwards += x1.size(0);
    c10::NoGradGuard no_grad;
    const int64_t m = x1.size(0);
    const at::Tensor w = lin.grad.reshape({m, -1});
    backwards += m * lin.backward_passes;
    const at::Tensor b = -lin.f + (w * x1.reshape({m, -1})).sum(1);
    const at::Tensor d = fab_projection(at::cat({x1.reshape({m, -1}), x0.reshape({m, -1})}),
                                        at::cat({w, w}), at::cat({b, b}), o.norm(), o.clip_min(),
                                        o.clip_max());
    const at::Tensor d1 = d.slice(0, 0, m).view_as(x1), d2 = d.slice(0, m).view_as(x1);
    const at::Tensor a1 = row_norm(d1, o.norm()).clamp_min(1e-8);
    const at::Tensor a2 = row_norm(d2, o.norm()).clamp_min(1e-8);
    const at::Tensor alpha = detail::per_sample((a1 / (a1 + a2)).clamp(0.0, o.alpha_max()), x1);
    x1 = ((x1 + o.eta() * d1) * (1 - alpha) + (x0 + o.eta() * d2) * alpha)
             .clamp(o.clip_min(), o.clip_max());
    const at::Tensor logits = model.forward(x1);
    forwards += m * (model.predicts_by_argmax() ? 1 : 2);
    const at::Tensor fooled = detail::is_fooled(model, x1, logits, ys, /*targeted=*/false);
    const at::Tensor size = row_norm(x1 - x0, o.norm());
    const at::Tensor better = fooled.logical_and(size.lt(distance));
    best = at::where(detail::per_sample(better, best), x1, best);
    distance = at::where(better, size, distance);
    // Fooled iterates are pulled back toward x (beta), to look for a smaller example.
    x1 = at::where(detail::per_sample(fooled, x1), x0 + (x1 - x0) * o.beta(), x1);
    // Points with an example within eps are done: written out and dropped every step on the
    // CPU, every 8 on CUDA (one host sync each; until then they go on shrinking it).
    const at::Tensor done = distance.le(o.eps());
    if ((step + 1) % (x.is_cuda() ? 8 : 1) == 0 && done.any().item<bool>()) {
      const at::Tensor finished = done.nonzero().squeeze(1);
      const at::Tensor positions = rows.index_select(0, finished);
      out.adversarial.index_copy_(0, positions, best.index_select(0, finished));
      out.distance.index_copy_(0, positions, distance.index_select(0, finished));
      const at::Tensor keep = done.logical_not().nonzero().squeeze(1);
      for (at::Tensor* t : {&rows, &x0, &ys, &x1, &best, &distance}) *t = t->index_select(0, keep);
      if (ts.defined()) ts = ts.index_select(0, keep);
    }
  }
  out.adversarial.index_copy_(0, rows, best);
  out.distance.index_copy_(0, rows, distance);
  return out;
}

}  // namespace

void validate(const FABOptions& o) {
  if (!(o.eps() >= 0)) throw ConfigError("fab: eps must be >= 0");
  if (o.steps() < 1) throw ConfigError("fab: steps must be >= 1");
  if (o.restarts() < 1) throw ConfigError("fab: restarts must be >= 1");
  if (o.target_classes() < 0) throw ConfigError("fab: target_classes must be >= 0");
  if (!(o.alpha_max() >= 0 && o.alpha_max() <= 1)) throw ConfigError("fab: alpha_max must be in [0, 1]");
  if (!(o.eta() >= 1)) throw ConfigError("fab: eta must be >= 1");
  if (!(o.beta() > 0 && o.beta() < 1)) throw ConfigError("fab: beta must be in (0, 1)");
  if (!(o.clip_min() < o.clip_max())) throw ConfigError("fab: box needs min < max");
}

at::Tensor fab_projection(const at::Tensor& points, const at::Tensor& w, const at::Tensor& b,
                          Norm norm, double lo, double hi) {
  TORCH_CHECK(points.dim() == 2 && w.sizes() == points.sizes() && b.dim() == 1 &&
                  b.size(0) == points.size(0),
              "fab_projection: expected points and w [N, D] and b [N]");
  const at::Tensor c = b - (w * points).sum(1);  // the change of w . z the step must make
  const at::Tensor need = c.abs().unsqueeze(1);
  const at::Tensor wp = w * (c.ge(0).to(w.scalar_type()) * 2 - 1).unsqueeze(1);
  const at::Tensor active = wp.ne(0);
  const at::Tensor up = wp.gt(0);
  const at::Tensor room_to_box = at::where(up, hi - points, points - lo).clamp_min(0);
  // Per coordinate: the direction it moves in, its weight a_i and its breakpoint r_i.
  at::Tensor direction, weight, breakpoint;
  if (norm == Norm::kLinf) {
    direction = wp.sign();
    weight = wp.abs();
    breakpoint = room_to_box;
  } else {
    direction = wp;
    weight = wp * wp;
    breakpoint = at::where(active, room_to_box / wp.abs().clamp_min(1e-30), at::zeros_like(wp));
  }
  const auto [sorted, order] = breakpoint.sort(1);
  const at::Tensor sorted_weight = weight.gather(1, order);
  const at::Tensor total = weight.sum(1, /*keepdim=*/true);
  const at::Tensor below = (sorted_weight * sorted).cumsum(1);       // sum_{j <= k} a_j r_j
  const at::Tensor above = total - sorted_weight.cumsum(1);          // sum_{j > k} a_j
  const at::Tensor reach = below + sorted * above;                    // g(r_k), nondecreasing
  const at::Tensor count = reach.lt(need).sum(1, /*keepdim=*/true);  // breakpoints passed
  const at::Tensor previous = (count - 1).clamp_min(0);
  const at::Tensor passed = count.gt(0);
  const at::Tensor base = at::where(passed, below.gather(1, previous), at::zeros_like(need));
  const at::Tensor slope = at::where(passed, above.gather(1, previous), total);
  const at::Tensor feasible = count.lt(points.size(1));
  const at::Tensor lambda_box = (need - base) / slope.clamp_min(1e-30);
  const at::Tensor lambda_free = need / total.clamp_min(1e-30);
  const at::Tensor step = at::where(feasible, direction * at::minimum(lambda_box, breakpoint),
                                    direction * lambda_free);
  return step * active.to(step.scalar_type());
}

AttackResult fab(models::Model& model, const at::Tensor& x_given, const at::Tensor& labels_given,
                 const FABOptions& o, const at::Tensor& point_ids_given) {
  const detail::OutOfInferenceMode normal;
  const at::Tensor x = normal.of(x_given), labels = normal.of(labels_given),
                   point_ids = normal.of(point_ids_given);
  validate(o);
  detail::check_batch(x, labels, o.clip_min(), o.clip_max(), "fab");
  const at::Tensor ids = detail::point_ids_or_range(point_ids, x, "fab");
  models::AttackModeGuard guard(model);
  int64_t forwards = 0, backwards = 0;
  const int64_t n = x.size(0);
  const at::Tensor clean = x.detach();
  at::Tensor best = clean.clone();
  at::Tensor fooled = at::zeros({n}, x.options().dtype(at::kBool));
  detail::for_each_pending_run(
      model, clean, labels, fooled, o.target_classes(), o.restarts(), forwards,
      [&](const detail::PendingRun& p) {
        const Run result = run_once(model, p.x, p.labels, p.targets, ids.index_select(0, p.pending),
                                    o, p.run, p.restart, forwards, backwards);
        c10::NoGradGuard no_grad;
        const at::Tensor hit = result.distance.le(o.eps());
        const at::Tensor positions = p.pending.masked_select(hit);
        best.index_copy_(0, positions, result.adversarial.index({hit}));
        fooled.index_fill_(0, positions, true);
      });
  fooled = detail::confirm_fooled(model, best, labels, fooled, forwards);
  return detail::make_result(clean, best, fooled, forwards, backwards);
}

FAB::FAB(FABOptions options) : options_(std::move(options)) { validate(options_); }

AttackResult FAB::run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                      const at::Tensor& point_ids) const {
  return fab(model, x, labels, options_, point_ids);
}

std::string FAB::id() const {
  return std::string(options_.target_classes() > 0 ? "fab-t-" : "fab-") +
         to_string(options_.norm()) + "-" + detail::format_eps(options_.eps());
}

}  // namespace rampart::attacks
