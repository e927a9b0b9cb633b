#include "eval/sanity.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "attacks/attack_ops.h"
#include "attacks/fgsm.h"
#include "attacks/pgd.h"

namespace rampart::eval {
namespace {

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f%%", fraction * 100.0);
  return text;
}

// Runs `fn` over the probe points in batches and returns the concatenated bool results.
template <typename Fn>
at::Tensor per_batch(const ProbeInput& in, Fn fn) {
  std::vector<at::Tensor> parts;
  const int64_t n = in.x.size(0);
  for (int64_t start = 0; start < n; start += in.batch_size) {
    const int64_t end = std::min(n, start + in.batch_size);
    parts.push_back(fn(in.x.slice(0, start, end), in.labels.slice(0, start, end)));
  }
  return at::cat(parts).cpu();
}

double fraction(const at::Tensor& flags) {
  return flags.numel() == 0 ? 0.0 : flags.to(at::kDouble).mean().item<double>();
}

// Robust accuracy on the probe points (all clean-correct) under `attack`.
double probe_robust_accuracy(const ProbeInput& in, const attacks::Attack& attack) {
  const at::Tensor success = per_batch(in, [&](const at::Tensor& x, const at::Tensor& y) {
    return attack.run(*in.model, x, y).success;
  });
  return 1.0 - fraction(success);
}

SanityCheck eval_mode_check(const ProbeInput& in) {
  const auto training = std::count(in.modes_as_loaded.begin(), in.modes_as_loaded.end(), true);
  SanityCheck check{"eval_mode", training > 0, static_cast<double>(training), 0, ""};
  check.message =
      training > 0
          ? "the model was handed over in training mode (" + std::to_string(training) + " of " +
                std::to_string(in.modes_as_loaded.size()) +
                " modules); Rampart evaluated it in eval mode, but a deployment that forgets "
                "model.eval() behaves differently (dropout, batch-norm statistics)"
          : "the model was in eval mode as loaded";
  return check;
}

SanityCheck determinism_check(const ProbeInput& in) {
  double worst = 0;
  for (int64_t start = 0; start < in.x.size(0); start += in.batch_size) {
    const at::Tensor x = in.x.slice(0, start, std::min(in.x.size(0), start + in.batch_size));
    at::NoGradGuard no_grad;
    const at::Tensor a = in.model->forward(x);
    const at::Tensor b = in.model->forward(x);
    const double scale = 1.0 + a.abs().max().item<double>();
    worst = std::max(worst, (a - b).abs().max().item<double>() / scale);
  }
  const double threshold = 1e-4;
  SanityCheck check{"deterministic", worst > threshold, worst, threshold, ""};
  char text[400];
  std::snprintf(text, sizeof(text),
                "two forward passes on the same inputs differ by %.3g (relative to the logit "
                "scale); above %.0e the model is randomised, and gradient-based attacks "
                "understate what an adaptive attacker (EOT) achieves",
                worst, threshold);
  check.message = worst > threshold ? text : "two forward passes on the same inputs agree";
  return check;
}

SanityCheck zero_gradient_check(const ProbeInput& in, double max_fraction) {
  const at::Tensor zero = per_batch(in, [&](const at::Tensor& x, const at::Tensor& y) {
    const auto g = attacks::detail::input_gradient(*in.model, x, y, attacks::Loss::kCrossEntropy,
                                                   /*targeted=*/false);
    return g.grad.flatten(1).abs().amax(1).eq(0);
  });
  const double zero_fraction = fraction(zero);
  SanityCheck check{"zero_gradients", zero_fraction > max_fraction, zero_fraction, max_fraction,
                    ""};
  check.message = percent(zero_fraction) +
                  " of probed points have an exactly zero loss gradient (flagged above " +
                  percent(max_fraction) +
                  (zero_fraction > max_fraction
                       ? "): gradients vanish (saturated softmax, non-differentiable "
                         "preprocessing?), so gradient attacks cannot move and robust accuracy "
                         "is overstated"
                       : ")");
  return check;
}

SanityCheck large_eps_check(const ProbeInput& in, double max_accuracy) {
  const double eps = 0.5 * (in.clip_max - in.clip_min);
  const attacks::PGD pgd(attacks::PGDOptions(eps)
                             .steps(20)
                             .step_size(2.5 * eps / 20)
                             .random_init(false)
                             .early_stop(true)
                             .seed(in.seed)
                             .clip_min(in.clip_min)
                             .clip_max(in.clip_max));
  const double accuracy = probe_robust_accuracy(in, pgd);
  SanityCheck check{"large_eps", accuracy > max_accuracy, accuracy, max_accuracy, ""};
  check.message = "PGD-20 at Linf eps " + attacks::detail::format_eps(eps) +
                  " (half the input range) leaves " + percent(accuracy) +
                  " of probed points correct (flagged above " + percent(max_accuracy) +
                  (accuracy > max_accuracy
                       ? "): an unbounded attack should reach almost 0%; the gradients mislead "
                         "the attack"
                       : ")");
  return check;
}

}  // namespace

std::vector<SanityCheck> eps_monotonic_checks(const std::vector<CurvePoint>& points,
                                              double tolerance) {
  std::map<std::string, std::vector<std::pair<double, double>>> families;
  for (const auto& p : points) families[p.family].emplace_back(p.eps, p.robust_accuracy);
  std::vector<SanityCheck> out;
  for (auto& [family, curve] : families) {
    if (curve.size() < 2) continue;
    std::sort(curve.begin(), curve.end());
    double worst_rise = 0;
    std::string where;
    for (std::size_t i = 1; i < curve.size(); ++i) {
      const double rise = curve[i].second - curve[i - 1].second;
      if (rise > worst_rise) {
        worst_rise = rise;
        where = " from eps " + attacks::detail::format_eps(curve[i - 1].first) + " (" +
                percent(curve[i - 1].second) + ") to eps " +
                attacks::detail::format_eps(curve[i].first) + " (" + percent(curve[i].second) + ")";
      }
    }
    SanityCheck check{"eps_monotonic:" + family, worst_rise > tolerance, worst_rise, tolerance, ""};
    check.message = worst_rise > tolerance ? family + " robust accuracy rises with eps" + where +
                                                 ": a larger budget can only help the attacker"
                                           : family + " robust accuracy does not rise with eps";
    out.push_back(std::move(check));
  }
  return out;
}

// AutoAttack's check_range_output (checks.py): a model that outputs probabilities instead of
// logits saturates the cross-entropy and flattens the DLR loss, so gradient attacks stall.
SanityCheck probability_output_check(const ProbeInput& in) {
  at::NoGradGuard no_grad;
  const at::Tensor out = in.model->forward(in.x.slice(0, 0, std::min<int64_t>(in.x.size(0), in.batch_size)));
  const double tolerance = 1e-5;
  const bool in_unit = out.min().item<double>() > -tolerance && out.max().item<double>() < 1 + tolerance;
  const double worst_sum = (out.sum(1) - 1).abs().max().item<double>();
  const bool probabilities = in_unit && worst_sum < tolerance;
  SanityCheck check{"probability_output", probabilities, worst_sum, tolerance, ""};
  check.message = probabilities
                      ? "the model's outputs lie in [0, 1] and every row sums to 1: it returns "
                        "probabilities, not logits, which flattens the losses the attacks climb; "
                        "export the model without its final softmax"
                      : "the model returns logits (its rows do not sum to 1)";
  return check;
}

std::vector<SanityCheck> probe_checks(const ProbeInput& input, const SanitySpec& spec) {
  std::vector<SanityCheck> out;
  out.push_back(eval_mode_check(input));
  if (input.x.size(0) == 0) return out;
  out.push_back(determinism_check(input));
  out.push_back(probability_output_check(input));
  out.push_back(zero_gradient_check(input, spec.zero_gradient_max));
  out.push_back(large_eps_check(input, spec.large_eps_max_accuracy));
  return out;
}

SanityCheck pgd_vs_fgsm_check(const at::Tensor& fgsm_fooled, const at::Tensor& pgd_fooled,
                              double eps, double tolerance, const std::string& pgd_id) {
  const double fgsm_accuracy = 1.0 - fraction(fgsm_fooled);
  const double pgd_accuracy = 1.0 - fraction(pgd_fooled);
  const double gap = pgd_accuracy - fgsm_accuracy;
  SanityCheck check{"pgd_vs_fgsm", gap > tolerance, gap, tolerance, ""};
  check.message = "at Linf eps " + attacks::detail::format_eps(eps) + " " + pgd_id + " leaves " +
                  percent(pgd_accuracy) + " and FGSM " + percent(fgsm_accuracy) + " of " +
                  std::to_string(pgd_fooled.numel()) + " probed points correct" +
                  (gap > tolerance ? ": the iterative attack is weaker than one step, a sign of "
                                     "gradient masking"
                                   : "");
  return check;
}

std::optional<SanityCheck> eps_range_check(const std::vector<ConfiguredAttack>& attacks,
                                           double clip_min, double clip_max,
                                           int64_t input_elements) {
  const double width = clip_max - clip_min;
  std::string offenders;
  double largest = 0, limit = 0, worst_ratio = 0;
  for (const auto& a : attacks) {
    if (!a.bounded || a.bpda) continue;
    // Half the range (Linf), or half the box's diagonal (L2), moves any input to the box's
    // centre: from there on the budget is no longer a small perturbation.
    const double meaningful = a.norm == attacks::Norm::kLinf
                                  ? 0.5 * width
                                  : 0.5 * width * std::sqrt(static_cast<double>(input_elements));
    if (a.eps < meaningful) continue;
    offenders += (offenders.empty() ? "" : ", ") + a.id;
    if (a.eps / meaningful > worst_ratio) {
      worst_ratio = a.eps / meaningful;
      largest = a.eps;
      limit = meaningful;
    }
  }
  if (offenders.empty()) return std::nullopt;
  SanityCheck check{"eps_range", true, largest, limit, ""};
  char range[96];
  std::snprintf(range, sizeof(range), "[%g, %g]", clip_min, clip_max);
  check.message = "eps is in input units (model.input.range " + std::string(range) + "), and " +
                  offenders + " reach" + (offenders.find(',') == std::string::npos ? "es" : "") +
                  " at least half the range (Linf) or half the box's diagonal (L2): such a "
                  "budget can erase any image, so its robust accuracy says nothing" +
                  (width <= 1.0 && largest >= 1.0 && largest <= 255.0
                       ? " (eps " + attacks::detail::format_eps(largest) + " on a 0..255 scale is " +
                             attacks::detail::format_eps(largest / 255.0) + " here)"
                       : "");
  return check;
}

std::optional<SanityCheck> square_check(const std::vector<SquareShare>& shares,
                                        int64_t num_points) {
  if (shares.empty() || num_points <= 0) return std::nullopt;
  const double limit = 0.002;  // checks.py, check_square_sr: alpha = 0.2%
  const SquareShare* worst = &shares.front();
  for (const auto& s : shares) {
    if (s.fooled_after_gradients > worst->fooled_after_gradients) worst = &s;
  }
  const double share = static_cast<double>(worst->fooled_after_gradients) /
                       static_cast<double>(num_points);
  SanityCheck check{"square_beats_gradients", share > limit, share, limit, ""};
  check.message = worst->square_id + " fooled " + std::to_string(worst->fooled_after_gradients) +
                  " of " + std::to_string(num_points) + " points (" + percent(share) +
                  ") that the gradient attacks before it left robust" +
                  (share > limit ? ": a black-box attack beating white-box ones is a sign of "
                                   "gradient masking, so the gradient attacks' numbers are "
                                   "unreliable (run Square with more queries or restarts, or an "
                                   "adaptive attack)"
                                 : "");
  return check;
}

}  // namespace rampart::eval
