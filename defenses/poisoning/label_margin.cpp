// Label margins: a model trained on the data keeps a flipped label's point in its true class, so
// the logit of the given label trails another class's by a wide margin. The margin m_i (the
// given label's logit minus the largest other logit) is the score behind the area under the
// margin of Pleiss et al. 2020 (there averaged over training; measured on Fashion-MNIST the
// final model's margin ranks flips better: docs/poisoning.md). The flagging rules need no
// ground truth. pair_prior (the default) discounts negative margins in the (label, preferred
// class) pairs where the model's honest mistakes crowd and flags the discounted margins below a
// fixed threshold; robust_z flags margins more than k robust standard deviations (1.4826 MAD)
// below the median. The oracle for the pair prior is tools/experiments/label_flip_pair_prior.py
// (numpy; the median of an even count is the mean of the middle two, as numpy's).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "defenses/poisoning/detectors.h"

namespace rampart::defenses::poisoning {

at::Tensor label_margins(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor z = logits.to(at::kDouble);
  const at::Tensor y = labels.to(at::kLong).unsqueeze(1);
  const at::Tensor own = z.gather(1, y).squeeze(1);
  const at::Tensor others = z.scatter(1, y, -std::numeric_limits<double>::infinity());
  return own - std::get<0>(others.max(1));
}

at::Tensor pair_prior_margins(const at::Tensor& margins, const at::Tensor& labels,
                              const at::Tensor& preferred, int64_t num_classes, double weight) {
  const at::Tensor pair = labels.to(at::kLong) * num_classes + preferred.to(at::kLong);
  const at::Tensor counts =
      at::bincount(pair.masked_select(margins.lt(0)), {}, num_classes * num_classes).to(at::kDouble);
  std::vector<double> off_diagonal;
  const auto c = counts.accessor<double, 1>();
  for (int64_t g = 0; g < num_classes; ++g) {
    for (int64_t p = 0; p < num_classes; ++p) {
      if (g != p) off_diagonal.push_back(c[g * num_classes + p]);
    }
  }
  std::sort(off_diagonal.begin(), off_diagonal.end());
  const size_t n = off_diagonal.size();
  const double typical = n % 2 ? off_diagonal[n / 2] : 0.5 * (off_diagonal[n / 2 - 1] + off_diagonal[n / 2]);
  const at::Tensor share = (typical / counts.clamp_min(1.0)).clamp(1e-3, 1.0);
  return margins.to(at::kDouble) - weight * share.log().index_select(0, pair);
}

DetectorResult detect_label_margin(const at::Tensor& logits, const at::Tensor& labels,
                                   int64_t num_classes, const AuditSpec& spec) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(0) != labels.size(0) ||
      logits.size(1) != num_classes) {
    throw std::invalid_argument("label_margin: needs the model's logits [N, classes]");
  }
  DetectorResult out;
  out.name = "label_margin";
  const at::Tensor m = label_margins(logits, labels);
  // The class the model prefers over the given label: the likely true label of a flagged point.
  const at::Tensor y = labels.to(at::kLong);
  out.neighbour_label = std::get<1>(logits.to(at::kDouble)
                                        .scatter(1, y.unsqueeze(1),
                                                 -std::numeric_limits<double>::infinity())
                                        .max(1));
  if (spec.margin_rule == "pair_prior") {
    out.scores = -pair_prior_margins(m, y, out.neighbour_label, num_classes, spec.margin_prior_weight);
    out.flagged = out.scores > spec.margin_threshold;
  } else {
    const double median = m.median().item<double>();
    const double scale = std::max(1.4826 * (m - median).abs().median().item<double>(), 1e-12);
    // The score: how many robust standard deviations the margin lies below the median.
    out.scores = (median - m) / scale;
    out.flagged = out.scores > spec.margin_k;
  }
  out.classes = point_counts_per_class(out.flagged, y, num_classes);  // points, not classes
  return out;
}

}  // namespace rampart::defenses::poisoning
