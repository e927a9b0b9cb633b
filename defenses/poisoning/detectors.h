#pragma once

#include <ATen/core/Tensor.h>

#include "defenses/poisoning/data_audit.h"

namespace rampart::defenses::poisoning {

/// Which points' nearest images carry their label: the input-space check that tells a backdoor's
/// poisons (images of other classes under the trigger, relabelled) from the class's own points.
/// Images are compared in a 32-dim pixel PCA (fitted on at most 10,000 images), which keeps the
/// garment's shape and drops a small trigger's few low-variance pixels.
class InputAgreement {
 public:
  InputAgreement(const at::Tensor& images, const at::Tensor& labels);
  bool available() const { return images_.defined(); }
  /// The mean share, over `indices` (int64; at most 1,000 of them, evenly spaced), of each
  /// point's 10 nearest other images that carry `label`.
  double mean_share(const at::Tensor& indices, int64_t label);

 private:
  at::Tensor images_, labels_, projected_;
};

/// Spectral signatures with a per-class test: in each class the two-means split of the
/// projection on the top singular direction, refined by Fisher's discriminant in the class's top
/// `dims` principal components, gives two clusters and their Mahalanobis separation; a class is
/// poisoned when its separation stands out from the other classes' (p < alpha / classes) and is
/// at least min_separation; there, the cluster whose images agree less with the label is
/// flagged.
DetectorResult detect_spectral(const at::Tensor& features, const at::Tensor& labels,
                               int64_t num_classes, const AuditSpec& spec,
                               InputAgreement& agreement);

/// Activation clustering (Chen et al. 2018): per class, PCA to `ac_dims`, two-means (k-means++),
/// and the smaller cluster flagged when it holds < ac_max_share of the class and the silhouette
/// exceeds ac_min_silhouette (ART's `silhouette-scores` analysis).
DetectorResult detect_activation_clustering(const at::Tensor& features, const at::Tensor& labels,
                                            int64_t num_classes, const AuditSpec& spec);

/// k-NN label consistency (Peri et al. 2020; Paudice et al. 2018): features reduced to
/// `knn_dims` by PCA over the whole set; a point is flagged when at least knn_min_share of its
/// knn_k nearest neighbours carry one label other than its own.
DetectorResult detect_knn_labels(const at::Tensor& features, const at::Tensor& labels,
                                 int64_t num_classes, const AuditSpec& spec);

}  // namespace rampart::defenses::poisoning
