#pragma once

#include <ATen/core/Tensor.h>

namespace rampart::defenses::poisoning {

/// Spectral signatures (Tran, Li and Madry, NeurIPS 2018) of one class's feature vectors.
struct SpectralSignature {
  at::Tensor direction;   ///< [D]: the top right singular vector of the centred features
  double top_singular_value = 0;
  at::Tensor projection;  ///< [N]: (r_i - mean) . direction, signed
  at::Tensor scores;      ///< [N]: projection^2, the outlier score of the paper's Algorithm 1
};

/// The spectral signature of `features` ([N, D], one class): the top right singular vector v
/// of the centred matrix R - mean, and each point's score ((r_i - mean) . v)^2. Computed from
/// the D x D covariance (an eigendecomposition, O(N D^2 + D^3)), in float64.
///
/// Differs from the reference code (MadryLab/backdoor_data_poisoning, compute_corr.py), which
/// scores |v . r_i| on the uncentred r_i: that shifts every projection by v . mean and changes
/// the ranking whenever the mean does not lie on the plane orthogonal to v. The paper's
/// centred score is used here; ART follows the reference code.
SpectralSignature spectral_signature(const at::Tensor& features);

}  // namespace rampart::defenses::poisoning
