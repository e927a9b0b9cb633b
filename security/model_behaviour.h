#pragma once

#include <torch/csrc/jit/api/module.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rampart::security {

/// Input shapes ([1, ...]) to try for a model whose input shape nobody gave, from the weight of
/// its first convolution or linear layer (the first tensor attribute of rank 4 or 2; for a frozen
/// module, the first conv2d or linear node of forward whose weight is a constant): a Conv2d weight [O, C, kh, kw] gives [1, C, s, s] for
/// the usual image sizes s (28, 32, 64, 96, 224); a Linear weight [O, I] gives [1, I], and
/// [1, 1, s, s] or [1, 3, s, s] where I is s*s or 3*s*s. Empty when neither is found (packed
/// quantized weights, recurrent input layers).
std::vector<std::vector<int64_t>> candidate_input_shapes(const torch::jit::Module& module);

/// One forward pass of a model: the logits, or an undefined tensor when it returns something
/// else.
using ForwardFunction = std::function<at::Tensor(const at::Tensor&)>;

/// The batch part of check_behaviour, on a batch the caller gives (the data being evaluated, on
/// the model's device): the output is finite floating-point [B, K], the same on a repeated
/// pass, row by row the same as each row run alone (up to 5% of the logits' scale), and the same
/// with gradients enabled. "" when all hold, else what failed.
std::string check_behaviour_on(const ForwardFunction& forward, const at::Tensor& batch);

/// The behavioural checks on an untrusted module in eval mode, run inside the sandbox: forward
/// passes on zeros (batch 1) and on uniform noise in [low, high] from a fixed seed (batch 4,
/// twice, and its rows one at a time), without and with gradients. "" when every output is a
/// finite floating-point [B, K] tensor, the repeated batch gives the same output, each row
/// equals the batch-1 run of that row (up to 5% of the logits' scale: dynamic quantization picks
/// its activation scale per batch), and enabling gradients changes nothing; else what failed. `output_shape` receives the batch-1 output's shape.
std::string check_behaviour(torch::jit::Module& module, const std::vector<int64_t>& input_shape,
                            double low, double high, std::vector<int64_t>& output_shape);

}  // namespace rampart::security
