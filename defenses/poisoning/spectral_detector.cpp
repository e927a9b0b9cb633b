// Spectral signatures (Tran, Li and Madry 2018) made oracle-free: the reference code
// (MadryLab/backdoor_data_poisoning, compute_corr.py) scores only the known target class and
// removes a fixed 1.5 x the known poison count; here every class is split in two, the split's
// separation is tested against the other classes', and only a class judged poisoned loses
// points: the cluster that the split found, however large.
#include <ATen/ATen.h>

#include <algorithm>

#include "defenses/poisoning/cluster_statistics.h"
#include "defenses/poisoning/detectors.h"
#include "defenses/poisoning/feature_geometry.h"
#include "defenses/poisoning/spectral_signatures.h"

namespace rampart::defenses::poisoning {

namespace {

// Mean squared distance of the rows to their centroid.
double spread(const at::Tensor& rows) {
  return rows.size(0) ? (rows - rows.mean(0)).square().sum(1).mean().item<double>() : 0.0;
}

}  // namespace

DetectorResult detect_spectral(const at::Tensor& features, const at::Tensor& labels,
                               int64_t num_classes, const AuditSpec& spec) {
  const int64_t n = features.size(0);
  DetectorResult out;
  out.name = "spectral";
  out.flagged = at::zeros({n}, at::kBool);
  out.scores = at::zeros({n}, at::kDouble);
  std::vector<at::Tensor> members(num_classes), splits(num_classes), reduced(num_classes);
  std::vector<double> separations;
  std::vector<int64_t> tested;
  for (int64_t c = 0; c < num_classes; ++c) {
    ClassVerdict v;
    v.label = c;
    members[c] = (labels == c).nonzero().flatten();
    v.points = members[c].numel();
    // Too few points to estimate a direction and a pooled covariance.
    if (v.points >= std::max<int64_t>(8, 2 * std::min(spec.dims, features.size(1)) + 2)) {
      const at::Tensor f = features.index_select(0, members[c]);
      const SpectralSignature sig = spectral_signature(f);
      out.scores.index_put_({members[c]}, robust_z(sig.projection).abs());
      reduced[c] = fit_pca(f, spec.dims).project(f);
      const FisherSplit split = fisher_split(reduced[c], two_means_1d(sig.projection));
      splits[c] = split.second;
      v.separation = split.separation;
      separations.push_back(split.separation);
      tested.push_back(c);
    }
    out.classes.push_back(v);
  }
  const std::vector<double> p = outlier_p_values(separations);
  const double level = spec.alpha / static_cast<double>(num_classes);
  for (std::size_t k = 0; k < tested.size(); ++k) {
    ClassVerdict& v = out.classes[tested[k]];
    v.p_value = p[k];
    v.poisoned = v.p_value < level && v.separation >= spec.min_separation;
    if (!v.poisoned) continue;
    // The poisons are images of several other classes under one trigger, the rest images of
    // this class: the poison cluster is the more diverse one, its points farther from their
    // centroid. (Neither size, which is even at 10% poisoning, nor pixel-space neighbours, whom
    // the shared trigger makes other poisons, tells them apart.)
    const at::Tensor& idx = members[v.label];
    const at::Tensor& side = splits[v.label];
    const double spread_second = spread(reduced[v.label].index({side}));
    const double spread_first = spread(reduced[v.label].index({side.logical_not()}));
    const bool second_is_suspect = spread_second >= spread_first;
    const at::Tensor suspect = idx.index({second_is_suspect ? side : side.logical_not()});
    v.suspect_spread = second_is_suspect ? spread_second : spread_first;
    v.other_spread = second_is_suspect ? spread_first : spread_second;
    v.suspect_share = static_cast<double>(suspect.numel()) / static_cast<double>(v.points);
    v.flagged = suspect.numel();
    out.flagged.index_fill_(0, suspect, true);
  }
  return out;
}

}  // namespace rampart::defenses::poisoning
