// Label margins: a model trained on the data keeps a flipped label's point in its true class, so
// the logit of the given label trails another class's by a wide margin. The margin m_i (the
// given label's logit minus the largest other logit) is the score behind the area under the
// margin of Pleiss et al. 2020 (there averaged over training; measured on Fashion-MNIST the
// final model's margin ranks flips better: docs/poisoning.md). The flagging rule needs no
// ground truth: a point is flagged when its margin lies more than k robust standard deviations
// (1.4826 MAD) below the median margin of all points.
#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "defenses/poisoning/detectors.h"

namespace rampart::defenses::poisoning {

at::Tensor label_margins(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor z = logits.to(at::kDouble);
  const at::Tensor y = labels.to(at::kLong).unsqueeze(1);
  const at::Tensor own = z.gather(1, y).squeeze(1);
  const at::Tensor others = z.scatter(1, y, -std::numeric_limits<double>::infinity());
  return own - std::get<0>(others.max(1));
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
  const double median = m.median().item<double>();
  const double scale = std::max(1.4826 * (m - median).abs().median().item<double>(), 1e-12);
  // The score: how many robust standard deviations the margin lies below the median.
  out.scores = (median - m) / scale;
  out.flagged = out.scores > spec.margin_k;
  // The class the model prefers over the given label: the likely true label of a flagged point.
  const at::Tensor y = labels.to(at::kLong);
  out.neighbour_label = std::get<1>(logits.to(at::kDouble)
                                        .scatter(1, y.unsqueeze(1),
                                                 -std::numeric_limits<double>::infinity())
                                        .max(1));
  out.classes = point_counts_per_class(out.flagged, y, num_classes);  // points, not classes
  return out;
}

}  // namespace rampart::defenses::poisoning
