#include "defenses/poisoning/source_diversity.h"

#include <ATen/ATen.h>

#include <cmath>

#include "defenses/poisoning/feature_geometry.h"

namespace rampart::defenses::poisoning {

namespace {

// Up to `count` evenly spaced entries of the int64 indices `from` (deterministic, no RNG).
at::Tensor evenly_spaced(const at::Tensor& from, int64_t count) {
  return from.numel() <= count ? from : from.index_select(0, evenly_spaced_rows(from.numel(), count));
}

// The label of each query row's nearest reference row (squared Euclidean distance in `inputs`).
at::Tensor nearest_reference_labels(const at::Tensor& inputs, const at::Tensor& labels,
                                    const at::Tensor& query, const at::Tensor& reference) {
  const at::Tensor q = inputs.index_select(0, query).to(at::kFloat);
  const at::Tensor r = inputs.index_select(0, reference).to(at::kFloat);
  // argmin over references of |q - r|^2 = |r|^2 - 2 q.r (|q|^2 is the same for every r).
  const at::Tensor distance = r.square().sum(1).unsqueeze(0) - 2 * q.mm(r.t());
  return labels.index_select(0, reference.index_select(0, distance.argmin(1)));
}

}  // namespace

at::Tensor neighbour_space(const at::Tensor& images) {
  at::Tensor x = images.to(at::kFloat);
  if (x.dim() == 4 && (x.size(2) > 16 || x.size(3) > 16)) {
    x = at::adaptive_avg_pool2d(x, {std::min<int64_t>(x.size(2), 16), std::min<int64_t>(x.size(3), 16)});
  }
  return x.reshape({x.size(0), -1}).contiguous();
}

double neighbour_label_entropy(const at::Tensor& inputs, const at::Tensor& labels,
                               const at::Tensor& members, int64_t own_class, int64_t queries,
                               int64_t references) {
  const at::Tensor y = labels.to(at::kLong);
  const at::Tensor query = evenly_spaced(members.to(at::kLong), queries);
  const at::Tensor reference = evenly_spaced((y != own_class).nonzero().flatten(), references);
  if (query.numel() == 0 || reference.numel() == 0) return 0.0;
  const at::Tensor nearest = nearest_reference_labels(inputs, y, query, reference);
  const at::Tensor counts = at::bincount(nearest).to(at::kDouble);
  const at::Tensor share = counts.index({counts > 0}) / static_cast<double>(nearest.numel());
  return -(share * share.log()).sum().item<double>();
}

double other_class_share(const at::Tensor& inputs, const at::Tensor& labels, const at::Tensor& group,
                          int64_t own_class, int64_t queries) {
  const at::Tensor y = labels.to(at::kLong);
  const at::Tensor query = evenly_spaced(group.to(at::kLong), queries);
  at::Tensor outside = at::ones({y.numel()}, at::kBool);
  outside.index_fill_(0, group.to(at::kLong), false);
  const at::Tensor reference = outside.nonzero().flatten();
  if (query.numel() == 0 || reference.numel() == 0) return 0.0;
  const at::Tensor nearest = nearest_reference_labels(inputs, y, query, reference);
  return (nearest != own_class).to(at::kDouble).mean().item<double>();
}

}  // namespace rampart::defenses::poisoning
