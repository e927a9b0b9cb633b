#include "attacks/attack_ops.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "kernels/noise.h"

namespace rampart::attacks {

std::string to_string(Norm norm) { return norm == Norm::kLinf ? "linf" : "l2"; }
std::string to_string(Loss loss) { return loss == Loss::kCrossEntropy ? "ce" : "margin"; }

namespace detail {

void check_batch(const at::Tensor& x, const at::Tensor& labels, double lo, double hi,
                 const std::string& attack) {
  if (!x.defined() || !x.is_floating_point() || x.dim() < 2) {
    throw std::invalid_argument(attack + ": x must be a floating-point batch [N, ...]");
  }
  // In half precision the attacks' guards (1e-12 under a norm, CW's 1 - 1e-6 before atanh)
  // round to 0 and 1: a zero gradient gives NaN examples, CW infinite ones.
  if (x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16) {
    throw std::invalid_argument(attack + ": x is " + std::string(x.dtype().name()) +
                                "; attacks run in float32 or float64 (x.float(), and the model's "
                                "float32 twin)");
  }
  if (!labels.defined() || labels.scalar_type() != at::kLong || labels.dim() != 1 ||
      labels.size(0) != x.size(0)) {
    throw std::invalid_argument(attack + ": labels must be int64 [N] with N = x.size(0)");
  }
  if (!(lo < hi)) throw ConfigError(attack + ": the input box must have min < max");
  if (x.numel() > 0 && !x.isfinite().all().item<bool>()) {
    throw ConfigError(attack + ": inputs contain NaN or infinite values");
  }
  if (x.numel() > 0 && (x.min().item<double>() < lo || x.max().item<double>() > hi)) {
    throw ConfigError(attack + ": inputs lie outside the declared box [" + std::to_string(lo) +
                      ", " + std::to_string(hi) + "]");
  }
}

at::Tensor best_other_logit(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor mask = at::one_hot(labels, logits.size(1)).to(at::kBool);
  return logits.masked_fill(mask, -std::numeric_limits<double>::infinity()).amax(1);
}

at::Tensor objective(const at::Tensor& logits, const at::Tensor& labels, Loss loss, bool targeted) {
  if (loss == Loss::kCrossEntropy) {
    const at::Tensor ce =
        at::cross_entropy_loss(logits, labels, /*weight=*/{}, at::Reduction::None);
    return targeted ? -ce : ce;
  }
  const at::Tensor label_logit = logits.gather(1, labels.unsqueeze(1)).squeeze(1);
  const at::Tensor other = best_other_logit(logits, labels);
  return targeted ? label_logit - other : other - label_logit;
}

at::Tensor is_fooled(models::Model& model, const at::Tensor& x, const at::Tensor& logits,
                     const at::Tensor& labels, bool targeted) {
  if (model.predicts_by_argmax()) return is_success(logits, labels, targeted);
  c10::NoGradGuard no_grad;
  const at::Tensor predicted = model.predict(x.detach());
  return targeted ? predicted.eq(labels) : predicted.ne(labels);
}

at::Tensor is_success(const at::Tensor& logits, const at::Tensor& labels, bool targeted) {
  const at::Tensor predicted = logits.argmax(1);
  return targeted ? predicted.eq(labels) : predicted.ne(labels);
}

InputGradient input_gradient(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                             Loss loss, bool targeted) {
  c10::InferenceMode not_inference(false);  // gradients are needed even under a caller's guard
  c10::AutoGradMode enable_grad(true);
  const at::Tensor leaf = (x.is_inference() ? x.clone() : x.detach()).requires_grad_(true);
  const at::Tensor logits = model.forward(leaf);
  const at::Tensor value = objective(logits, labels, loss, targeted);
  at::Tensor grad = torch::autograd::grad({value.sum()}, {leaf})[0];
  return {logits.detach(), value.detach(), grad};
}

at::Tensor per_sample_l2(const at::Tensor& delta) {
  return at::linalg_vector_norm(delta.flatten(1), 2, at::IntArrayRef{1});
}

at::Tensor per_sample_linf(const at::Tensor& delta) { return delta.flatten(1).abs().amax(1); }

at::Tensor per_sample(const at::Tensor& v, const at::Tensor& like) {
  std::vector<int64_t> shape(static_cast<std::size_t>(like.dim()), 1);
  shape[0] = v.size(0);
  return v.view(shape);
}

at::Tensor normalize_l2(const at::Tensor& g) {
  const at::Tensor norm = per_sample_l2(g);
  return g / per_sample(norm.clamp_min(1e-12), g);
}

at::Tensor ascent_direction(const at::Tensor& g, Norm norm) {
  return norm == Norm::kLinf ? g.sign() : normalize_l2(g);
}

at::Tensor project(const at::Tensor& x_adv, const at::Tensor& x, Norm norm, double eps, double lo,
                   double hi) {
  at::Tensor delta = x_adv - x;
  if (norm == Norm::kLinf) {
    delta = delta.clamp(-eps, eps);
  } else {
    const at::Tensor scale = (eps / per_sample_l2(delta).clamp_min(1e-12)).clamp_max(1.0);
    delta = delta * per_sample(scale, delta);
  }
  return (x + delta).clamp(lo, hi);
}

at::Tensor confirm_fooled(models::Model& model, const at::Tensor& adversarial,
                          const at::Tensor& labels, const at::Tensor& claimed, int64_t& forwards) {
  c10::NoGradGuard no_grad;
  const at::Tensor rows = claimed.nonzero().squeeze(1);
  if (rows.numel() == 0) return claimed;
  const at::Tensor examples = adversarial.index_select(0, rows);
  const at::Tensor logits = model.forward(examples);
  forwards += examples.size(0) * (model.predicts_by_argmax() ? 1 : 2);
  return claimed.index_copy(
      0, rows, is_fooled(model, examples, logits, labels.index_select(0, rows), false));
}

AttackResult make_result(const at::Tensor& x, const at::Tensor& adversarial,
                         const at::Tensor& success, int64_t forward_samples,
                         int64_t backward_samples) {
  c10::NoGradGuard no_grad;
  AttackResult result;
  result.adversarial = adversarial.detach();
  result.success = success;
  const at::Tensor delta = result.adversarial - x;
  result.l2 = per_sample_l2(delta);
  result.linf = per_sample_linf(delta);
  result.forward_samples = forward_samples;
  result.backward_samples = backward_samples;
  return result;
}

uint64_t start_key(uint64_t seed, uint64_t stream, double eps, int64_t run) {
  uint64_t eps_bits = 0;
  static_assert(sizeof(eps_bits) == sizeof(eps));
  std::memcpy(&eps_bits, &eps, sizeof(eps));
  uint64_t key = kernels::noise::mix64(seed);
  for (const uint64_t part : {stream, eps_bits, static_cast<uint64_t>(run)}) {
    key = kernels::noise::mix64(key ^ kernels::noise::mix64(part + 0x9E3779B97F4A7C15ull));
  }
  return key;
}

at::Tensor point_ids_or_range(const at::Tensor& point_ids, const at::Tensor& x,
                              const std::string& attack) {
  if (!point_ids.defined()) return at::arange(x.size(0), x.options().dtype(at::kLong));
  if (point_ids.dim() != 1 || point_ids.size(0) != x.size(0)) {
    throw std::invalid_argument(attack + ": point_ids must be [N] with N = " +
                                std::to_string(x.size(0)));
  }
  return point_ids.to(x.device(), at::kLong);
}

std::string format_eps(double eps) {
  std::ostringstream out;
  out.precision(6);
  out << eps;
  return out.str();
}

}  // namespace detail
}  // namespace rampart::attacks
