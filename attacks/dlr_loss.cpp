#include "attacks/dlr_loss.h"

#include <ATen/ATen.h>

#include <limits>
#include <string>

#include "core/error.h"

namespace rampart::attacks {
namespace {

void require_classes(const at::Tensor& logits, int64_t at_least, const char* loss) {
  if (logits.dim() != 2 || logits.size(1) < at_least) {
    throw ConfigError(std::string(loss) + " needs logits of at least " +
                      std::to_string(at_least) + " classes, got " +
                      (logits.dim() == 2 ? std::to_string(logits.size(1)) : "no class axis"));
  }
}

at::Tensor label_logit(const at::Tensor& logits, const at::Tensor& labels) {
  return logits.gather(1, labels.unsqueeze(1)).squeeze(1);
}

}  // namespace

at::Tensor dlr_loss(const at::Tensor& logits, const at::Tensor& labels) {
  require_classes(logits, 3, "the DLR loss");
  const at::Tensor sorted = std::get<0>(logits.sort(1, /*descending=*/true));
  const at::Tensor z_y = label_logit(logits, labels);
  const at::Tensor top = sorted.select(1, 0);
  // The best other logit: the runner-up where the label is on top, else the top.
  const at::Tensor best_other = at::where(z_y.ge(top), sorted.select(1, 1), top);
  return -(z_y - best_other) / (top - sorted.select(1, 2) + 1e-12);
}

at::Tensor targeted_dlr_loss(const at::Tensor& logits, const at::Tensor& labels,
                             const at::Tensor& targets) {
  require_classes(logits, 4, "the targeted DLR loss");
  const at::Tensor sorted = std::get<0>(logits.sort(1, /*descending=*/true));
  const at::Tensor scale =
      sorted.select(1, 0) - 0.5 * (sorted.select(1, 2) + sorted.select(1, 3)) + 1e-12;
  return -(label_logit(logits, labels) - label_logit(logits, targets)) / scale;
}

at::Tensor kth_other_class(const at::Tensor& logits, const at::Tensor& labels, int64_t k) {
  TORCH_CHECK(k >= 1 && k < logits.size(1), "kth_other_class: k must be in [1, classes)");
  const at::Tensor mask = at::one_hot(labels, logits.size(1)).to(at::kBool);
  const at::Tensor others = logits.masked_fill(mask, -std::numeric_limits<double>::infinity());
  return std::get<1>(others.sort(1, /*descending=*/true)).select(1, k - 1);
}

}  // namespace rampart::attacks
