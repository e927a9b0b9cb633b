#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace rampart::defenses::poisoning {

/// The principal axes of a point cloud: `mean` [D] and the top `dims` eigenvectors of its
/// covariance as the columns of `basis` [D, dims], largest first (float64).
struct PcaBasis {
  at::Tensor mean;
  at::Tensor basis;
  /// [N, dims]: (x - mean) basis, in float64.
  at::Tensor project(const at::Tensor& x) const;
};

/// The PCA of `points` ([N, D], N >= 2) from the D x D covariance (an eigendecomposition), with
/// min(dims, D) axes. `fit_rows` > 0 fits on that many evenly spaced rows only (the image PCA).
PcaBasis fit_pca(const at::Tensor& points, int64_t dims, int64_t fit_rows = 0);

/// The PCA scores of `points` on min(dims, D) axes, each scaled to unit variance (float64
/// [N, dims]; an axis without variance stays 0). FastICA (scikit-learn's, which ART's activation
/// clustering uses) returns S = W K X with K this whitening and W orthogonal (its symmetric
/// decorrelation keeps it so): its sources are these scores turned by a rotation, with the same
/// distances between every two points.
at::Tensor whitened_pca_scores(const at::Tensor& points, int64_t dims);

/// `count` evenly spaced row indices of 0..n-1 (int64, first and last included; all n rows when
/// n <= count): the deterministic subsample of the image PCA, the silhouette and the neighbour
/// search.
at::Tensor evenly_spaced_rows(int64_t n, int64_t count);

/// Lloyd's two-means on `points` ([N, d]) from the assignment `initial` (bool [N]): returns the
/// converged assignment (bool [N]: the second cluster). Stops when no point moves, or after
/// `max_iterations`.
at::Tensor two_means(const at::Tensor& points, const at::Tensor& initial,
                     int64_t max_iterations = 100);

/// A two-cluster split refined by Fisher's linear discriminant: from `initial` (bool [N]), the
/// pooled within-cluster covariance S and the direction w = S^-1 (m2 - m1), each point goes to
/// the side of the midpoint it falls on; repeated until no point moves (at most
/// `max_iterations`). Unlike two-means it weighs each direction by the clusters' own spread, so
/// a tight cluster (a trigger's) is cut out whole even where it lies near the other's edge.
struct FisherSplit {
  at::Tensor second;        ///< bool [N]
  double separation = 0;    ///< Mahalanobis distance of the two means under S
  at::Tensor discriminant;  ///< [N]: (x . w - midpoint) / sqrt(w' S w), > 0 on the second side
};
FisherSplit fisher_split(const at::Tensor& points, const at::Tensor& initial,
                         int64_t max_iterations = 50);

/// Two-means from k-means++ seeding with `seed` (the best of `restarts` by within-cluster sum
/// of squares), as activation clustering runs it.
at::Tensor two_means_plus_plus(const at::Tensor& points, uint64_t seed, int64_t restarts = 4);

/// The mean silhouette coefficient of a two-cluster assignment (Rousseeuw 1987), computed on at
/// most `max_points` points drawn evenly (exact: O(max_points^2 d)). 0 when a cluster is empty.
double silhouette(const at::Tensor& points, const at::Tensor& second, int64_t max_points = 2000);

}  // namespace rampart::defenses::poisoning
