#include "security/model_behaviour.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cmath>

#include "core/shape_text.h"

namespace rampart::security {
namespace {

// The logits of one forward pass, or the reason they are not acceptable logits for `batch`.
at::Tensor logits(const ForwardFunction& forward, const at::Tensor& x, std::string& problem) {
  at::Tensor t = forward(x);
  if (!t.defined()) {
    problem = "forward does not return one tensor";
    return {};
  }
  if (!t.is_floating_point() || t.dim() != 2 || t.size(0) != x.size(0)) {
    problem = "on a batch of " + std::to_string(x.size(0)) + " the output is " +
              std::string(t.scalar_type() == at::kFloat ? "" : "a non-float32 ") +
              core::shape_text(t.sizes()) + ", not [" + std::to_string(x.size(0)) + ", classes] logits";
    return {};
  }
  if (!at::isfinite(t).all().item<bool>()) {
    problem = "the output on a batch of " + std::to_string(x.size(0)) + " is not finite";
    return {};
  }
  return t.detach();
}

bool same(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && at::allclose(a, b, 1e-4, 1e-5);
}

// A row run alone against the same row inside a batch: equal up to 5% of the batch's logit
// scale. Dynamically quantized layers choose their activation scale per batch, so their rows
// move by about 1.5% of that scale with the batch around them; behaviour gated on the batch
// (its size, its other rows) moves them by far more.
bool same_row(const at::Tensor& alone, const at::Tensor& in_batch, const at::Tensor& batch) {
  const double scale = batch.abs().max().item<double>();
  return alone.sizes() == in_batch.sizes() &&
         (alone - in_batch).abs().max().item<double>() <= 0.05 * scale + 1e-4;
}


// The weight of the first convolution or linear node of `block` whose weight is a constant (a
// frozen module inlines everything and keeps its weights as constants), or an undefined tensor.
at::Tensor first_constant_weight(const torch::jit::Block* block) {
  for (const torch::jit::Node* node : block->nodes()) {
    const std::string kind = node->kind().toQualString();
    if ((kind == "aten::conv2d" || kind == "aten::_convolution" || kind == "aten::linear") &&
        node->inputs().size() > 1) {
      const c10::optional<c10::IValue> weight = torch::jit::toIValue(node->input(1));
      if (weight && weight->isTensor()) return weight->toTensor();
    }
    for (const torch::jit::Block* inner : node->blocks()) {
      const at::Tensor found = first_constant_weight(inner);
      if (found.defined()) return found;
    }
  }
  return {};
}

void shapes_from_weight(const at::Tensor& w, std::vector<std::vector<int64_t>>& out) {
  if (w.dim() == 4) {
    for (int64_t s : {28, 32, 64, 96, 224}) out.push_back({1, w.size(1), s, s});
  } else if (w.dim() == 2) {
    const int64_t in = w.size(1);
    out.push_back({1, in});
    for (int64_t c : {1, 3}) {
      const auto s = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(in / c))));
      if (in % c == 0 && s * s * c == in) out.push_back({1, c, s, s});
    }
  }
}

}  // namespace

std::vector<std::vector<int64_t>> candidate_input_shapes(const torch::jit::Module& module) {
  std::vector<std::vector<int64_t>> out;
  // Parameters and buffers in registration order: exported modules may keep weights as either.
  for (const auto& attribute : module.named_attributes(/*recurse=*/true)) {
    if (!attribute.value.isTensor()) continue;
    const at::Tensor w = attribute.value.toTensor();
    if (w.dim() == 4 || w.dim() == 2) {
      shapes_from_weight(w, out);
      return out;
    }
  }
  if (const auto forward = module.find_method("forward")) {
    const at::Tensor w = first_constant_weight(forward->graph()->block());
    if (w.defined()) shapes_from_weight(w, out);
  }
  return out;
}

std::string check_behaviour_on(const ForwardFunction& forward, const at::Tensor& batch) {
  std::string problem;
  at::Tensor first;
  {
    at::NoGradGuard no_grad;
    first = logits(forward, batch, problem);
    if (!problem.empty()) return problem;
    const at::Tensor again = logits(forward, batch, problem);
    if (!problem.empty()) return problem;
    if (!same(first, again)) return "two forward passes on the same input differ";
    for (int64_t i = 0; i < batch.size(0); ++i) {
      const at::Tensor row = logits(forward, batch.narrow(0, i, 1).clone(), problem);
      if (!problem.empty()) return problem;
      if (!same_row(row, first.narrow(0, i, 1), first)) {
        return "row " + std::to_string(i) +
               " of a batch differs from the same input run alone (the output depends on the "
               "batch around it)";
      }
    }
  }
  const at::Tensor x = batch.clone().requires_grad_(true);
  const at::Tensor with_grad = logits(forward, x, problem);
  if (!problem.empty()) return problem + " (with gradients enabled)";
  if (!same(with_grad, first)) return "the output changes when gradients are enabled";
  return "";
}

std::string check_behaviour(torch::jit::Module& module, const std::vector<int64_t>& input_shape,
                            double low, double high, std::vector<int64_t>& output_shape) {
  const ForwardFunction forward = [&module](const at::Tensor& x) {
    const c10::IValue out = module.forward({x});
    return out.isTensor() ? out.toTensor() : at::Tensor();
  };
  std::string problem;
  std::vector<int64_t> shape = input_shape;
  {
    at::NoGradGuard no_grad;
    shape[0] = 1;
    const at::Tensor zero = logits(forward, at::zeros(shape), problem);
    if (!problem.empty()) return problem;
    output_shape.assign(zero.sizes().begin(), zero.sizes().end());
  }
  shape[0] = 4;
  at::Generator generator = at::detail::createCPUGenerator(20240601);
  return check_behaviour_on(forward, at::rand(shape, generator) * (high - low) + low);
}

}  // namespace rampart::security
