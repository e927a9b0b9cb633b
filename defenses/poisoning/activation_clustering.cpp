// Activation clustering (Chen et al. 2018, arXiv 1811.03728). ART's ActivationDefence
// (clustering_analyzer.py, `silhouette-scores`) is the parity reference for the rule; it reduces
// with FastICA (its default) or PCA and clusters with MiniBatchKMeans; here PCA, or for
// `reduce: ica` the whitened PCA scores (FastICA's sources up to a rotation, which neither the
// two-means nor the silhouette can see), and full two-means from k-means++ seeding (the
// partition, not the cluster numbering, is what matters).
#include <ATen/ATen.h>

#include "defenses/poisoning/detectors.h"
#include "defenses/poisoning/feature_geometry.h"

namespace rampart::defenses::poisoning {

DetectorResult detect_activation_clustering(const at::Tensor& features, const at::Tensor& labels,
                                            int64_t num_classes, const AuditSpec& spec) {
  const int64_t n = features.size(0);
  DetectorResult out;
  out.name = "activation_clustering";
  out.flagged = at::zeros({n}, at::kBool);
  out.scores = at::zeros({n}, at::kDouble);
  for (int64_t c = 0; c < num_classes; ++c) {
    ClassVerdict v;
    v.label = c;
    const at::Tensor idx = (labels == c).nonzero().flatten();
    v.points = idx.numel();
    if (v.points < 4) {
      out.classes.push_back(v);
      continue;
    }
    const at::Tensor f = features.index_select(0, idx);
    const at::Tensor reduced =
        spec.ac_reduce == "ica" ? whitened_pca_scores(f, spec.ac_dims) : fit_pca(f, spec.ac_dims).project(f);
    const at::Tensor smaller = two_means_plus_plus(reduced, spec.seed + static_cast<uint64_t>(c));
    const int64_t size = smaller.sum().item<int64_t>();
    v.suspect_share = static_cast<double>(size) / static_cast<double>(v.points);
    v.silhouette = silhouette(reduced, smaller);
    // Score: distance to the own cluster's centre over the distance to the other's (< 1).
    if (size > 0 && size < v.points) {
      const at::Tensor w = smaller.to(at::kDouble).unsqueeze(1);
      const at::Tensor c_small = (reduced * w).sum(0) / static_cast<double>(size);
      const at::Tensor c_large = (reduced * (1 - w)).sum(0) / static_cast<double>(v.points - size);
      const at::Tensor d_small = (reduced - c_small).norm(2, 1), d_large = (reduced - c_large).norm(2, 1);
      out.scores.index_put_({idx}, at::where(smaller, d_small / d_large.clamp_min(1e-300),
                                             d_large / d_small.clamp_min(1e-300)));
    }
    v.poisoned = size > 0 && v.suspect_share < spec.ac_max_share &&
                 v.silhouette > spec.ac_min_silhouette;
    if (v.poisoned) {
      const at::Tensor suspect = idx.index({smaller});
      v.flagged = suspect.numel();
      out.flagged.index_fill_(0, suspect, true);
    }
    out.classes.push_back(v);
  }
  return out;
}

}  // namespace rampart::defenses::poisoning
