#pragma once

#include <torch/csrc/jit/api/module.h>

#include <string>
#include <vector>

namespace rampart::security {

/// Every node kind ("aten::conv2d", "prim::If", "quantized::linear") in every graph that a loaded
/// TorchScript module can run, sorted, once each. The graphs walked: every function of the
/// module's compilation unit (methods of every class, `__setstate__`, free functions), every
/// method, forward hook and forward pre-hook of every submodule's type, and within each graph
/// every nested block and subgraph. This is what runs, so this is what the allowlist judges:
/// no spelling, alias or `getattr` in the source text changes a node's kind.
std::vector<std::string> graph_operators(const torch::jit::Module& module);

}  // namespace rampart::security
