#pragma once

#include <ATen/core/Tensor.h>

#include "defenses/poisoning/data_audit.h"

namespace rampart::defenses::poisoning {

/// Spectral signatures with a per-class test: in each class the two-means split of the
/// projection on the top singular direction, refined by Fisher's discriminant in the class's top
/// `dims` principal components, gives two clusters and their Mahalanobis separation; a class is
/// poisoned when its separation stands out from the other classes' (p < alpha / classes) and is
/// at least min_separation; there, the more diverse cluster (the larger mean squared distance
/// to its centroid) is flagged.
DetectorResult detect_spectral(const at::Tensor& features, const at::Tensor& labels,
                               int64_t num_classes, const AuditSpec& spec);

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
