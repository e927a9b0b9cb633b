#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "defenses/poisoning/data_audit.h"

namespace rampart::defenses::poisoning {

/// Spectral signatures with a per-class test: in each class the two-means split of the
/// projection on one of the top `spectral_starts` singular directions, refined by Fisher's
/// discriminant in the class's top `dims` principal components (the best separated of the
/// refinements), gives two clusters and their Mahalanobis separation; a class is
/// poisoned when its separation stands out from the other classes' (p < alpha / classes) and is
/// at least min_separation; there, the cluster of the higher source diversity in `inputs`
/// (source_diversity.h) is flagged, unless even that cluster's entropy is below
/// min_source_entropy (then the class is not poisoned after all: source_entropy_veto), or
/// without inputs the more diverse one in feature space (the larger mean squared distance to
/// its centroid). A robust split that cut off only a minority under robust_min_share, in a class
/// whose robust split passes the per-class test, is peeled (AuditSpec::robust_peels): the
/// flagged side is then the peeled minorities plus the suspect side of the rest's split, or,
/// once the rest's split is ordinary, the peeled minorities alone (peeled_until_ordinary); it
/// must look like more source classes than the rest.
DetectorResult detect_spectral(const at::Tensor& features, const at::Tensor& labels,
                               int64_t num_classes, const AuditSpec& spec,
                               const at::Tensor& inputs = at::Tensor());

/// Activation clustering (Chen et al. 2018): per class, PCA to `ac_dims` (whitened for
/// `ac_reduce: ica`: feature_geometry.h, whitened_pca_scores), two-means (k-means++),
/// and the smaller cluster flagged when it holds < ac_max_share of the class and the silhouette
/// exceeds ac_min_silhouette (ART's `silhouette-scores` analysis).
DetectorResult detect_activation_clustering(const at::Tensor& features, const at::Tensor& labels,
                                            int64_t num_classes, const AuditSpec& spec);

/// k-NN label consistency (Peri et al. 2020; Paudice et al. 2018): features reduced to
/// `knn_dims` by PCA over the whole set; a point is flagged when at least knn_min_share of its
/// knn_k nearest neighbours carry one label other than its own.
DetectorResult detect_knn_labels(const at::Tensor& features, const at::Tensor& labels,
                                 int64_t num_classes, const AuditSpec& spec);

/// Label margins: m_i = the logit of point i's label minus its largest other logit, under the
/// audited model. Rule pair_prior: the margin discounted by the pair prior
/// (pair_prior_margins), flagged below -margin_threshold; scores: minus the discounted margin.
/// Rule robust_z: flagged when m_i lies more than margin_k robust standard deviations (1.4826
/// MAD) below the median margin; scores: (median - m_i) / (1.4826 MAD).
/// `neighbour_label` holds the class the model prefers over the given label.
DetectorResult detect_label_margin(const at::Tensor& logits, const at::Tensor& labels,
                                   int64_t num_classes, const AuditSpec& spec);

/// The class verdicts of a detector that judges points (knn_labels, label_margin): per class
/// its points and how many are flagged (relabelling candidates); no class is judged poisoned.
std::vector<ClassVerdict> point_counts_per_class(const at::Tensor& flagged, const at::Tensor& labels,
                                                 int64_t num_classes);

/// m_i = logits[i, labels[i]] - max_{j != labels[i]} logits[i, j], float64 [N].
at::Tensor label_margins(const at::Tensor& logits, const at::Tensor& labels);

/// The pair prior: uniform label flips spread evenly over the C (C - 1) ordered pairs (given
/// label, preferred class), while a model's honest mistakes crowd into a few (Fashion-MNIST's
/// T-shirt/shirt, pullover/coat). With n_p the number of points of pair p whose margin is
/// negative and n_typ the median of n_p over the off-diagonal pairs, the share of flips among
/// pair p's points is about s_p = clamp(n_typ / max(n_p, 1), 1e-3, 1), and the discounted margin
/// is m_i - weight * log(s_p(i)): a negative margin in a crowded pair counts for less.
/// float64 [N].
at::Tensor pair_prior_margins(const at::Tensor& margins, const at::Tensor& labels,
                              const at::Tensor& preferred, int64_t num_classes, double weight);

}  // namespace rampart::defenses::poisoning
