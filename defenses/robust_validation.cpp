#include "defenses/robust_validation.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <memory>

#include "models/model.h"

namespace rampart::defenses {

double robust_accuracy(models::Classifier& model, const datasets::Dataset& data,
                       const attacks::PGDOptions& attack, int64_t points, int64_t batch_size,
                       const c10::Device& device) {
  const int64_t n = points > 0 ? std::min(points, data.size()) : data.size();
  if (n == 0) return 0.0;
  // A non-owning handle: the attack sees the caller's model.
  models::ClassifierModel wrapped(
      std::shared_ptr<models::Classifier>(&model, [](models::Classifier*) {}));
  at::Tensor robust = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device));
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(begin + batch_size, n);
    const at::Tensor x = data.images.slice(0, begin, end).to(device);
    const at::Tensor y = data.labels.slice(0, begin, end).to(device);
    at::Tensor clean_correct;
    {
      models::AttackModeGuard guard(wrapped);
      c10::NoGradGuard no_grad;
      clean_correct = wrapped.forward(x).argmax(1).eq(y);
    }
    // Attack only the points classified correctly: the others count as not robust.
    const at::Tensor rows = clean_correct.nonzero().squeeze(1);
    if (rows.numel() == 0) continue;
    const auto result =
        attacks::pgd(wrapped, x.index_select(0, rows), y.index_select(0, rows), attack);
    robust += result.success.logical_not().sum();
  }
  return static_cast<double>(robust.item<int64_t>()) / static_cast<double>(n);
}

}  // namespace rampart::defenses
