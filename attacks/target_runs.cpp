#include "attacks/target_runs.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "attacks/dlr_loss.h"

namespace rampart::attacks::detail {

void for_each_pending_run(models::Model& model, const at::Tensor& clean, const at::Tensor& labels,
                          const at::Tensor& fooled, int64_t target_classes, int64_t restarts,
                          int64_t& forwards, const std::function<void(const PendingRun&)>& body) {
  const int64_t passes = std::max<int64_t>(target_classes, 1);
  for (int64_t target = 1, run = 0; target <= passes; ++target) {
    for (int64_t r = 0; r < restarts; ++r, ++run) {
      PendingRun p;
      p.pending = fooled.logical_not().nonzero().squeeze(1);
      if (p.pending.numel() == 0) return;
      p.x = clean.index_select(0, p.pending);
      p.labels = labels.index_select(0, p.pending);
      if (target_classes > 0) {
        c10::NoGradGuard no_grad;
        const at::Tensor logits = model.forward(p.x);
        forwards += p.x.size(0);
        if (target >= logits.size(1)) return;  // fewer classes than target_classes: all tried
        p.targets = kth_other_class(logits, p.labels, target);
      }
      p.restart = r;
      p.run = run;
      body(p);
    }
  }
}

}  // namespace rampart::attacks::detail
