#include "defenses/robust_validation.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <memory>
#include <vector>

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
  // `points` spread evenly over the split (point i * N / n), not its first n: a split sorted by
  // class (an image folder) would be judged on its first classes only.
  at::Tensor images = data.images, labels = data.labels;
  if (n < data.size()) {
    std::vector<int64_t> picked(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) picked[static_cast<std::size_t>(i)] = i * data.size() / n;
    const at::Tensor rows = at::tensor(picked, at::kLong);
    images = images.index_select(0, rows);
    labels = labels.index_select(0, rows);
  }
  at::Tensor robust = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device));
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(begin + batch_size, n);
    const at::Tensor x = images.slice(0, begin, end).to(device);
    const at::Tensor y = labels.slice(0, begin, end).to(device);
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
