#include "defenses/poisoning/spectral_signatures.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace rampart::defenses::poisoning {

SpectralSignature spectral_signature(const at::Tensor& features) {
  if (features.dim() != 2 || features.size(0) < 2) {
    throw std::invalid_argument("spectral_signature: features must be [N >= 2, D]");
  }
  const at::Tensor centred = features.to(at::kDouble) - features.to(at::kDouble).mean(0, true);
  // The right singular vectors of the centred matrix are the eigenvectors of its Gram matrix
  // C^T C; eigh returns them in ascending order of eigenvalue.
  const auto [values, vectors] = at::linalg_eigh(centred.t().mm(centred));
  const int64_t last = values.size(0) - 1;
  SpectralSignature s;
  s.direction = vectors.select(1, last).contiguous();
  // A fixed sign (the largest-magnitude component positive), so runs agree.
  if (s.direction.index({s.direction.abs().argmax()}).item<double>() < 0) s.direction = -s.direction;
  s.top_singular_value = std::sqrt(std::max(values[last].item<double>(), 0.0));
  s.projection = centred.mv(s.direction);
  s.scores = s.projection.square();
  return s;
}

}  // namespace rampart::defenses::poisoning
