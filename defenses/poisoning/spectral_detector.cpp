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

InputAgreement::InputAgreement(const at::Tensor& images, const at::Tensor& labels)
    : images_(images), labels_(labels) {}

double InputAgreement::mean_share(const at::Tensor& indices, int64_t label) {
  if (indices.numel() == 0) return 0.0;
  if (!projected_.defined()) {
    const at::Tensor flat = images_.flatten(1);
    const PcaBasis pca = fit_pca(flat, 32, 10000);
    projected_ = at::empty({flat.size(0), pca.basis.size(1)}, at::kFloat);
    for (int64_t start = 0; start < flat.size(0); start += 8192) {
      projected_.slice(0, start, start + 8192)
          .copy_(pca.project(flat.slice(0, start, start + 8192)));
    }
  }
  // The mean over at most 1,000 evenly spaced points estimates a cluster's agreement to about
  // +-0.03 and bounds the cost whatever the class size.
  at::Tensor sample = indices;
  if (sample.numel() > 1000) {
    sample = sample.index_select(
        0, at::linspace(0, static_cast<double>(sample.numel() - 1), 1000, at::kDouble).round().to(at::kLong));
  }
  const at::Tensor near =
      nearest_labels(projected_.index_select(0, sample), sample, projected_, labels_, 10);
  return (near == label).to(at::kDouble).mean().item<double>();
}

DetectorResult detect_spectral(const at::Tensor& features, const at::Tensor& labels,
                               int64_t num_classes, const AuditSpec& spec,
                               InputAgreement& agreement) {
  const int64_t n = features.size(0);
  DetectorResult out;
  out.name = "spectral";
  out.flagged = at::zeros({n}, at::kBool);
  out.scores = at::zeros({n}, at::kDouble);
  std::vector<at::Tensor> members(num_classes), splits(num_classes);
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
      const FisherSplit split = fisher_split(fit_pca(f, spec.dims).project(f), two_means_1d(sig.projection));
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
    const at::Tensor& idx = members[v.label];
    const at::Tensor first = idx.index({splits[v.label].logical_not()}), second = idx.index({splits[v.label]});
    at::Tensor suspect = second.numel() <= first.numel() ? second : first;
    at::Tensor other = second.numel() <= first.numel() ? first : second;
    if (agreement.available()) {
      double a_suspect = agreement.mean_share(suspect, v.label);
      double a_other = agreement.mean_share(other, v.label);
      if (a_other < a_suspect) std::swap(suspect, other), std::swap(a_suspect, a_other);
      v.suspect_agreement = a_suspect;
      v.other_agreement = a_other;
    }
    v.suspect_share = static_cast<double>(suspect.numel()) / static_cast<double>(v.points);
    v.flagged = suspect.numel();
    out.flagged.index_fill_(0, suspect, true);
  }
  return out;
}

}  // namespace rampart::defenses::poisoning
