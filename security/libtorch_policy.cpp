#include "security/libtorch_policy.h"

#include <caffe2/serialize/versions.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <mutex>
#include <unordered_set>

namespace rampart::security {

bool libtorch_registers(const std::string& op) {
  static std::once_flag once;
  static std::unordered_set<std::string> names;
  std::call_once(once, [] {
    for (const auto& registered : torch::jit::getAllOperators()) {
      names.insert(registered->schema().name());
    }
  });
  if (names.count(op)) return true;
  const std::string aten = "aten::";
  return op.compare(0, aten.size(), aten) == 0 && names.count("prim::" + op.substr(aten.size()));
}

TorchScriptLimits libtorch_limits() {
  TorchScriptLimits limits;
  limits.min_version = caffe2::serialize::kMinSupportedFileFormatVersion;
  limits.max_version = caffe2::serialize::kMaxSupportedFileFormatVersion;
  return limits;
}

}  // namespace rampart::security
