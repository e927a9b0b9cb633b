#include "attacks/square.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "attacks/attack_ops.h"
#include "attacks/square_l2.h"
#include "core/error.h"
#include "kernels/square_step.h"

// Where this differs from the reference (fra31/auto-attack, square.py): every point draws its
// own window position and channel signs (the reference draws one window per iteration for the
// whole batch; the paper's own code draws per image), positions cover the whole image (the
// reference's random_int(0, h - s) never reaches the last row and column). As in the reference,
// a point spends at most `queries` proposals after its start. The L2 proposals are
// attacks/square_l2.h.

namespace rampart::attacks {
namespace {

// z_y - max_{j != y} z_j: positive while the point is classified correctly.
at::Tensor margin(const at::Tensor& logits, const at::Tensor& labels) {
  return logits.gather(1, labels.unsqueeze(1)).squeeze(1) - detail::best_other_logit(logits, labels);
}

struct Run {
  at::Tensor adversarial, success, margin;
};

Run run_once(models::Model& model, const at::Tensor& x, const at::Tensor& y, const at::Tensor& ids,
             const SquareOptions& o, int64_t run, int64_t& forwards) {
  const int64_t n = x.size(0);
  const uint64_t key = detail::start_key(o.seed(), o.stream(), o.eps(), run);
  Run out{at::empty_like(x), at::zeros({n}, x.options().dtype(at::kBool)),
          at::empty({n}, x.options())};
  at::Tensor rows = at::arange(n, x.options().dtype(at::kLong));
  at::Tensor xs = x, ys = y, is = ids;
  const bool linf = o.norm() == Norm::kLinf;
  at::Tensor best = at::empty_like(x, at::MemoryFormat::Contiguous);
  if (linf) {
    kernels::square_linf_start(best, x, ids, o.eps(), o.clip_min(), o.clip_max(), key);
  } else {
    best = detail::square_l2_start(x, ids, o.eps(), o.clip_min(), o.clip_max(), key);
  }
  const auto query = [&](const at::Tensor& point, at::Tensor& fooled) {
    const at::Tensor logits = model.forward(point);
    forwards += point.size(0) * (model.predicts_by_argmax() ? 1 : 2);
    fooled = detail::is_fooled(model, point, logits, ys, /*targeted=*/false);
    return margin(logits, ys);
  };
  at::Tensor fooled;
  at::Tensor best_margin = query(best, fooled);
  // Fooled points leave the batch with their example: every iteration on the CPU (the check is
  // free there), every 16 on CUDA (one host sync each); in between they keep their example.
  const int64_t every = x.is_cuda() ? 16 : 1;
  at::Tensor done = fooled;
  const auto retire = [&] {
    const at::Tensor finished = done.nonzero().squeeze(1);
    if (finished.numel() == 0) return;
    const at::Tensor positions = rows.index_select(0, finished);
    out.adversarial.index_copy_(0, positions, best.index_select(0, finished));
    out.success.index_fill_(0, positions, true);
    out.margin.index_copy_(0, positions, best_margin.index_select(0, finished));
    const at::Tensor keep = done.logical_not().nonzero().squeeze(1);
    for (at::Tensor* t : {&rows, &xs, &ys, &is, &best, &best_margin}) *t = t->index_select(0, keep);
    done = at::zeros({keep.numel()}, done.options());
  };
  retire();
  at::Tensor proposal;
  // square.py: `for i_iter in range(self.n_queries)` after the start's query.
  for (int64_t i = 0; i < o.queries() && rows.numel() > 0; ++i) {
    const double p = square_fraction(o.p_init(), i);
    if (linf) {
      proposal = at::empty_like(best);
      kernels::square_linf_proposal(proposal, best, xs, is, square_side(p, x.size(2), x.size(3)),
                                    i, o.eps(), o.clip_min(), o.clip_max(), key);
    } else {
      proposal = detail::square_l2_proposal(best, xs, is, detail::square_l2_side(p, x.size(2), x.size(3)),
                                            i, o.eps(), o.clip_min(), o.clip_max(), key);
    }
    const at::Tensor m = query(proposal, fooled);
    const at::Tensor take = m.lt(best_margin).logical_or(fooled).logical_and(done.logical_not());
    best = at::where(detail::per_sample(take, best), proposal, best);
    best_margin = at::where(take, m, best_margin);
    done = done.logical_or(fooled);
    if ((i + 1) % every == 0) retire();
  }
  retire();
  out.adversarial.index_copy_(0, rows, best);
  out.margin.index_copy_(0, rows, best_margin);
  return out;
}

}  // namespace

void validate(const SquareOptions& o) {
  if (!(o.eps() >= 0)) throw ConfigError("square: eps must be >= 0");
  if (o.queries() < 1) throw ConfigError("square: queries must be >= 1");
  if (!(o.p_init() > 0 && o.p_init() <= 1)) throw ConfigError("square: p_init must be in (0, 1]");
  if (o.restarts() < 1) throw ConfigError("square: restarts must be >= 1");
  if (!(o.clip_min() < o.clip_max())) throw ConfigError("square: box needs min < max");
}

double square_fraction(double p_init, int64_t iteration) {
  static constexpr int64_t kHalvings[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
  double p = p_init;
  for (const int64_t after : kHalvings) {
    if (iteration > after) p /= 2;
  }
  return p;
}

int64_t square_side(double p, int64_t height, int64_t width) {
  const auto side = static_cast<int64_t>(std::lround(std::sqrt(p * static_cast<double>(height * width))));
  return std::clamp<int64_t>(side, 1, std::min(height, width));
}

AttackResult square(models::Model& model, const at::Tensor& x_given, const at::Tensor& labels_given,
                    const SquareOptions& o, const at::Tensor& point_ids_given) {
  const detail::OutOfInferenceMode normal;
  const at::Tensor x = normal.of(x_given), labels = normal.of(labels_given),
                   point_ids = normal.of(point_ids_given);
  validate(o);
  detail::check_batch(x, labels, o.clip_min(), o.clip_max(), "square");
  if (x.dim() != 4) {
    throw std::invalid_argument("square: expected images [N, C, H, W], got " +
                                std::to_string(x.dim()) + " dimensions");
  }
  if (o.norm() == Norm::kL2 && (x.size(2) < 5 || x.size(3) < 5)) {
    throw ConfigError("square: the L2 attack needs images of at least 5 x 5 pixels");
  }
  const at::Tensor ids = detail::point_ids_or_range(point_ids, x, "square");
  models::AttackModeGuard guard(model);
  c10::NoGradGuard no_grad;
  int64_t forwards = 0;
  const int64_t n = x.size(0);
  const at::Tensor clean = x.detach();
  at::Tensor best = clean.clone();
  at::Tensor best_margin = at::full({n}, std::numeric_limits<double>::infinity(), x.options());
  at::Tensor fooled = at::zeros({n}, x.options().dtype(at::kBool));
  for (int64_t r = 0; r < o.restarts(); ++r) {
    const at::Tensor pending = fooled.logical_not().nonzero().squeeze(1);
    if (pending.numel() == 0) break;
    const Run result = run_once(model, clean.index_select(0, pending),
                                labels.index_select(0, pending), ids.index_select(0, pending), o,
                                r, forwards);
    const at::Tensor take =
        result.success.logical_or(result.margin.lt(best_margin.index_select(0, pending)));
    const at::Tensor positions = pending.masked_select(take);
    best.index_copy_(0, positions, result.adversarial.index({take}));
    best_margin.index_copy_(0, positions, result.margin.masked_select(take));
    fooled.index_copy_(0, positions, result.success.masked_select(take));
  }
  fooled = detail::confirm_fooled(model, best, labels, fooled, forwards);
  return detail::make_result(clean, best, fooled, forwards, /*backward_samples=*/0);
}

Square::Square(SquareOptions options) : options_(std::move(options)) { validate(options_); }

AttackResult Square::run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                         const at::Tensor& point_ids) const {
  return square(model, x, labels, options_, point_ids);
}

std::string Square::id() const {
  return "square-" + to_string(options_.norm()) + "-" + detail::format_eps(options_.eps());
}

}  // namespace rampart::attacks
