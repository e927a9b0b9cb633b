#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace rampart::defenses::poisoning {

/// A location and scatter that a minority of outliers does not move: the concentration steps
/// of FAST-MCD (Rousseeuw and Van Driessen 1999). From the `keep_share` x N points nearest the
/// coordinate-wise median (in MAD-scaled distance), the mean and covariance of the subset are
/// computed, the subset becomes the keep_share x N points of smallest Mahalanobis distance
/// under them, and so on until it no longer changes (each step lowers the covariance's
/// determinant). The covariance is then scaled so that the median squared distance equals the
/// median of a chi-square with D degrees of freedom (consistency at the normal; with a share e
/// of outliers the median shifts and the scale comes out a few percent large: 7 to 18% at e =
/// 0.1 in the test, which neither the whitened directions nor the QUE scores depend on).
struct RobustCovariance {
  at::Tensor mean;        ///< [D], float64
  at::Tensor covariance;  ///< [D, D], float64
  at::Tensor kept;        ///< bool [N]: the final subset
};
RobustCovariance robust_covariance(const at::Tensor& points, double keep_share = 0.75,
                                   int64_t max_steps = 50);

/// (x - mean) Sigma^-1/2 for the rows of `points` ([N, D]): whitened by a robust estimate, the
/// clean majority has identity covariance and a planted cluster stands out along its own
/// direction, however small its share (SPECTRE, Hayase et al. 2021).
at::Tensor whiten(const at::Tensor& points, const RobustCovariance& robust);

/// Quantum entropy scores (Dong, Hopkins and Li 2019, as SPECTRE uses them) of whitened rows
/// Y ([N, D]): with S = Y^T Y / N and Q = exp(alpha (S - I) / (||S||_2 - 1)) (the matrix
/// exponential), tau_i = y_i^T Q y_i / tr(Q). alpha = 0 gives |y_i|^2 / D (every direction
/// alike), large alpha the squared projection on S's top eigenvector. When no direction has
/// more variance than the identity (||S||_2 <= 1), Q = I. float64 [N].
at::Tensor que_scores(const at::Tensor& whitened, double alpha = 4.0);

}  // namespace rampart::defenses::poisoning
