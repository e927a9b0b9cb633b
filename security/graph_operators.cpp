#include "security/graph_operators.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>

#include <set>
#include <unordered_set>

namespace rampart::security {
namespace {

void walk_block(const torch::jit::Block* block, std::set<std::string>& kinds);

void walk_node(const torch::jit::Node* node, std::set<std::string>& kinds) {
  kinds.insert(node->kind().toQualString());
  for (const torch::jit::Block* inner : node->blocks()) walk_block(inner, kinds);
  // Fusion and differentiable groups keep their body in a graph attribute.
  for (const auto name : node->attributeNames()) {
    if (node->kindOf(name) == torch::jit::AttributeKind::g) {
      walk_block(node->g(name)->block(), kinds);
    } else if (node->kindOf(name) == torch::jit::AttributeKind::gs) {
      for (const auto& graph : node->gs(name)) walk_block(graph->block(), kinds);
    }
  }
}

void walk_block(const torch::jit::Block* block, std::set<std::string>& kinds) {
  for (const torch::jit::Node* node : block->nodes()) walk_node(node, kinds);
}

void walk_function(const torch::jit::Function* function,
                   std::unordered_set<const torch::jit::Function*>& seen,
                   std::set<std::string>& kinds) {
  if (!function || !seen.insert(function).second) return;
  if (!function->isGraphFunction()) {
    kinds.insert("<non-graph function " + function->qualname().qualifiedName() + ">");
    return;
  }
  walk_block(torch::jit::toGraphFunction(*function).graph()->block(), kinds);
}

}  // namespace

std::vector<std::string> graph_operators(const torch::jit::Module& module) {
  std::set<std::string> kinds;
  std::unordered_set<const torch::jit::Function*> seen;
  for (const torch::jit::Function* f : module._ivalue()->compilation_unit()->get_functions()) {
    walk_function(f, seen, kinds);
  }
  for (const torch::jit::Module& m : module.modules()) {
    const c10::ClassTypePtr type = m.type();
    for (const torch::jit::Function* f : type->methods()) walk_function(f, seen, kinds);
    for (const torch::jit::Function* f : type->getForwardHooks()) walk_function(f, seen, kinds);
    for (const torch::jit::Function* f : type->getForwardPreHooks()) walk_function(f, seen, kinds);
  }
  return {kinds.begin(), kinds.end()};
}

}  // namespace rampart::security
