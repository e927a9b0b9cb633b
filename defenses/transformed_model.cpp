#include "defenses/transformed_model.h"

#include <stdexcept>

namespace rampart::defenses {

TransformedModel::TransformedModel(std::shared_ptr<models::Model> inner,
                                   std::vector<InputTransform> transforms, bool straight_through)
    : inner_(std::move(inner)),
      transforms_(std::move(transforms)),
      is_straight_through_(straight_through) {
  if (!inner_) throw std::invalid_argument("TransformedModel: no inner model");
}

at::Tensor TransformedModel::transform(const at::Tensor& x) const {
  at::Tensor out = x;
  for (const auto& t : transforms_) {
    out = is_straight_through_ ? t.apply_bpda(out) : t.apply(out);
  }
  return out;
}

at::Tensor TransformedModel::forward(const at::Tensor& x) { return inner_->forward(transform(x)); }

at::Tensor TransformedModel::predict(const at::Tensor& x) { return inner_->predict(transform(x)); }

bool TransformedModel::is_random() const {
  for (const auto& t : transforms_) {
    if (t.spec().is_random()) return true;
  }
  return false;
}

std::string TransformedModel::describe() const {
  std::string out;
  for (const auto& t : transforms_) out += t.describe() + " -> ";
  return out + inner_->describe() + (is_straight_through_ ? " [BPDA]" : "");
}

models::Model* TransformedModel::straight_through() {
  if (is_straight_through_) return this;
  if (!straight_through_) {
    // The inner model's own non-differentiable parts (an ensemble of transformed members) pass
    // gradients straight through as well.
    models::Model* inner_view = inner_->straight_through();
    std::shared_ptr<models::Model> inner =
        inner_view ? std::shared_ptr<models::Model>(inner_view, [](models::Model*) {}) : inner_;
    straight_through_ = std::make_unique<TransformedModel>(inner, transforms_, true);
  }
  return straight_through_.get();
}

}  // namespace rampart::defenses
