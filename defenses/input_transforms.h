#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "models/model_spec.h"

namespace rampart::defenses {

/// Quantises every value of the box [lo, hi] to 2^bits levels (Xu et al. 2018). Its autograd
/// gradient is zero almost everywhere (round).
at::Tensor reduce_bit_depth(const at::Tensor& x, int64_t bits, double lo, double hi);

/// Median of each size x size window per channel as scipy.ndimage.median_filter computes it
/// (what Xu et al.'s EvadeML-Zoo calls, mode 'reflect'): edges padded by symmetric reflection
/// (d c b a | a b c d | d c b a); for an even size the window reaches one pixel further up and
/// left, and the value of rank size*size // 2 (the upper of the two middle values) is taken.
/// Autograd passes the gradient to the selected pixel only.
at::Tensor median_smooth(const at::Tensor& x, int64_t size);

/// Encodes every image [N, C, H, W] (C = 1 or 3, RGB) in the box [lo, hi] as a JPEG of the
/// given quality with OpenCV and decodes it again. Computed outside autograd: the result has no
/// gradient. Throws ConfigError in a build without OpenCV.
at::Tensor jpeg_reencode(const at::Tensor& x, int64_t quality, double lo, double hi);

/// x + sigma * N(0, 1), clipped to the box [lo, hi]: Gaussian noise injection, a randomised
/// defense (as in Liu et al. 2018, "Towards robust neural networks via random self-ensemble",
/// at the input). Fresh noise from ATen's default generator on every call; autograd passes the
/// gradient of the clip.
at::Tensor add_gaussian_noise(const at::Tensor& x, double sigma, double lo, double hi);

/// Whether this build can run the JPEG transform.
bool jpeg_available();

/// One configured transform over the input box [lo, hi], with the two gradients an attacker
/// can take through it. A differentiable transform (gaussian_noise) has one: its own.
class InputTransform {
 public:
  InputTransform(models::TransformSpec spec, double lo, double hi);
  /// The transform as deployed: preprocessing outside the model's graph, so a gradient attack
  /// gets a zero gradient through it (what a naive attacker sees).
  at::Tensor apply(const at::Tensor& x) const;
  /// The same value with BPDA's backward (Athalye et al. 2018): the gradient of a
  /// differentiable approximation. Identity for bit depth and JPEG, which stay close to their
  /// input; the median's own subgradient for median smoothing, which autograd differentiates
  /// exactly almost everywhere (a better approximation than the identity).
  at::Tensor apply_bpda(const at::Tensor& x) const;
  std::string describe() const { return models::describe(spec_); }
  const models::TransformSpec& spec() const { return spec_; }

 private:
  at::Tensor value(const at::Tensor& x) const;

  models::TransformSpec spec_;
  double lo_;
  double hi_;
};

}  // namespace rampart::defenses
