#include "defenses/ensemble.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace rampart::defenses {
namespace {

// A view of a model that is owned elsewhere (the ensemble that built the view owns it).
std::shared_ptr<models::Model> borrowed(models::Model* model) {
  return std::shared_ptr<models::Model>(model, [](models::Model*) {});
}

}  // namespace

EnsembleModel::EnsembleModel(std::vector<std::shared_ptr<models::Model>> members,
                             models::Combine combine)
    : members_(std::move(members)), combine_(combine) {
  if (members_.empty()) throw std::invalid_argument("an ensemble needs at least one member");
}

at::Tensor EnsembleModel::forward(const at::Tensor& x) {
  if (combine_ == models::Combine::kProbabilities) {
    std::vector<at::Tensor> log_probs;
    for (auto& m : members_) log_probs.push_back(at::log_softmax(m->forward(x), 1));
    return at::logsumexp(at::stack(log_probs), 0) -
           std::log(static_cast<double>(members_.size()));
  }
  at::Tensor sum = members_.front()->forward(x);
  for (std::size_t i = 1; i < members_.size(); ++i) sum = sum + members_[i]->forward(x);
  return sum / static_cast<double>(members_.size());
}

at::Tensor EnsembleModel::predict(const at::Tensor& x) {
  if (combine_ != models::Combine::kVote) return forward(x).argmax(1);
  at::Tensor votes, probabilities;
  for (auto& m : members_) {
    const at::Tensor logits = m->forward(x);
    const at::Tensor vote =
        at::one_hot(logits.argmax(1), logits.size(1)).to(logits.scalar_type());
    const at::Tensor p = at::softmax(logits, 1);
    votes = votes.defined() ? votes + vote : vote;
    probabilities = probabilities.defined() ? probabilities + p : p;
  }
  // Mean probabilities lie in [0, 1], so half of them breaks ties without overturning a count.
  return (votes + 0.5 * probabilities / static_cast<double>(members_.size())).argmax(1);
}

bool EnsembleModel::predicts_by_argmax() const { return combine_ != models::Combine::kVote; }

bool EnsembleModel::is_training() const { return members_.front()->is_training(); }

void EnsembleModel::set_training(bool training) {
  for (auto& m : members_) m->set_training(training);
}

std::vector<at::Tensor> EnsembleModel::parameters() {
  std::vector<at::Tensor> out;
  for (auto& m : members_) {
    auto p = m->parameters();
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

std::string EnsembleModel::describe() const {
  std::string out = "ensemble of " + std::to_string(members_.size()) + " (";
  switch (combine_) {
    case models::Combine::kLogits:
      out += "logit averaging";
      break;
    case models::Combine::kProbabilities:
      out += "probability averaging";
      break;
    case models::Combine::kVote:
      out += "majority vote; attacks use the averaged-logits surrogate";
      break;
  }
  out += "): ";
  for (std::size_t i = 0; i < members_.size(); ++i) {
    out += (i ? ", " : "") + members_[i]->describe();
  }
  return out;
}

std::vector<bool> EnsembleModel::module_modes() const {
  std::vector<bool> out;
  for (const auto& m : members_) {
    const auto modes = m->module_modes();
    out.insert(out.end(), modes.begin(), modes.end());
  }
  return out;
}

void EnsembleModel::set_module_modes(const std::vector<bool>& modes) {
  std::size_t at = 0;
  for (auto& m : members_) {
    const std::size_t n = m->module_modes().size();
    if (at + n > modes.size()) break;
    m->set_module_modes(std::vector<bool>(modes.begin() + at, modes.begin() + at + n));
    at += n;
  }
}

models::Model* EnsembleModel::straight_through() {
  if (straight_through_) return straight_through_.get();
  std::vector<std::shared_ptr<models::Model>> views;
  bool any = false;
  for (auto& m : members_) {
    models::Model* view = m->straight_through();
    any = any || view != nullptr;
    views.push_back(view ? borrowed(view) : m);
  }
  if (!any) return nullptr;
  straight_through_ = std::make_unique<EnsembleModel>(std::move(views), combine_);
  return straight_through_.get();
}

}  // namespace rampart::defenses
