// k-NN label consistency: Deep k-NN (Peri et al. 2020) flags a point whose label differs from
// the plurality of its k nearest neighbours in penultimate space; label sanitisation (Paudice
// et al. 2018) relabels when that plurality reaches a share eta. Here a point is flagged when one
// other label holds at least min_share of its neighbours (Paudice's eta as a flagging rule),
// which keeps the ambiguous boundary points (shirt / T-shirt) that a bare plurality would flag.
#include <ATen/ATen.h>

#include "defenses/poisoning/detectors.h"
#include "defenses/poisoning/feature_geometry.h"
#include "defenses/poisoning/nearest_neighbours.h"

namespace rampart::defenses::poisoning {

DetectorResult detect_knn_labels(const at::Tensor& features, const at::Tensor& labels,
                                 int64_t num_classes, const AuditSpec& spec) {
  const int64_t n = features.size(0);
  DetectorResult out;
  out.name = "knn_labels";
  if (n < 2) {  // no other point to hold a label against
    out.scores = at::zeros({n}, at::kDouble);
    out.neighbour_label = labels.to(at::kLong).clone();
    out.flagged = at::zeros({n}, at::kBool);
    out.classes = point_counts_per_class(out.flagged, labels, num_classes);
    return out;
  }
  const PcaBasis pca = fit_pca(features, spec.knn_dims, 20000);
  at::Tensor reduced = at::empty({n, pca.basis.size(1)}, at::kFloat);
  for (int64_t start = 0; start < n; start += 8192) {
    reduced.slice(0, start, start + 8192).copy_(pca.project(features.slice(0, start, start + 8192)));
  }
  const at::Tensor near =
      nearest_labels(reduced, at::arange(n, at::kLong), reduced, labels, spec.knn_k);
  // Per point: the count of each label among its neighbours.
  const at::Tensor counts = at::zeros({n, num_classes}, at::kLong)
                                .scatter_add_(1, near, at::ones_like(near));
  const double k = static_cast<double>(near.size(1));
  const at::Tensor own = counts.gather(1, labels.unsqueeze(1)).squeeze(1);
  const at::Tensor others = counts.scatter(1, labels.unsqueeze(1), 0);
  const auto [top, top_label] = others.max(1);
  out.scores = (k - own.to(at::kDouble)) / k;
  out.neighbour_label = top_label;
  out.flagged = top.to(at::kDouble) >= spec.knn_min_share * k;
  // k-NN judges points, not classes: a class verdict would need the clean data's own rate of
  // inconsistent labels, which no one gives.
  out.classes = point_counts_per_class(out.flagged, labels, num_classes);
  return out;
}

}  // namespace rampart::defenses::poisoning
