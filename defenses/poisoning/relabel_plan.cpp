#include "defenses/poisoning/relabel_plan.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "core/error.h"

namespace rampart::defenses::poisoning {

datasets::Relabelling plan_relabelling(const at::Tensor& flagged, const at::Tensor& labels,
                                       const at::Tensor& logits, double min_confidence) {
  const int64_t f = flagged.numel();
  if (labels.numel() != f || logits.dim() != 2 || logits.size(0) != f) {
    throw std::invalid_argument("plan_relabelling: flagged [F], labels [F] and logits [F, C] "
                                "must agree");
  }
  if (!(min_confidence >= 0.0 && min_confidence <= 1.0)) {
    throw std::invalid_argument("plan_relabelling: min_confidence must lie in [0, 1]");
  }
  const at::Tensor index = flagged.to(at::kLong).flatten();
  if (f > 0 && (index.min().item<int64_t>() < 0 || std::get<0>(at::_unique(index)).numel() != f)) {
    throw std::invalid_argument("plan_relabelling: flagged indices must be distinct and >= 0");
  }
  datasets::Relabelling plan;
  plan.min_confidence = min_confidence;
  if (f == 0) {  // an audit that flagged nothing (its logits may be [0, 0])
    for (at::Tensor* t : {&plan.indices, &plan.from, &plan.to, &plan.left_out}) *t = at::empty({0}, at::kLong);
    plan.confidence = at::empty({0}, at::kFloat);
    return plan;
  }
  const at::Tensor broken = logits.isfinite().all(1).logical_not();
  if (broken.any().item<bool>()) {  // every point would be "kept in its label" and left out
    throw DataError("plan_relabelling: the logits of flagged point " +
                    std::to_string(index[broken.nonzero()[0][0]].item<int64_t>()) +
                    " are not finite: the model's output is broken there");
  }
  const at::Tensor given = labels.to(at::kLong).flatten();
  if (given.min().item<int64_t>() < 0 || given.max().item<int64_t>() >= logits.size(1)) {
    throw std::invalid_argument("plan_relabelling: a label is outside the " +
                                std::to_string(logits.size(1)) + " classes of the logits");
  }
  const auto [probability, predicted] = logits.to(at::kFloat).softmax(1).max(1);
  const at::Tensor relabel = predicted.ne(given).logical_and(probability.ge(min_confidence));
  const at::Tensor take = relabel.nonzero().flatten();
  const at::Tensor order = index.index_select(0, take).argsort();
  const at::Tensor rows = take.index_select(0, order);

  plan.indices = index.index_select(0, rows);
  plan.from = given.index_select(0, rows);
  plan.to = predicted.index_select(0, rows);
  plan.confidence = probability.index_select(0, rows).contiguous();
  plan.left_out = std::get<0>(at::sort(index.index_select(0, relabel.logical_not().nonzero().flatten())));
  return plan;
}

}  // namespace rampart::defenses::poisoning
