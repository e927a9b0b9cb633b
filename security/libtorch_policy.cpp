#include "security/libtorch_policy.h"

#include <caffe2/serialize/versions.h>
#include <torch/custom_class.h>

namespace rampart::security {

TorchScriptLimits libtorch_limits() {
  TorchScriptLimits limits;
  limits.min_version = caffe2::serialize::kMinSupportedFileFormatVersion;
  limits.max_version = caffe2::serialize::kMaxSupportedFileFormatVersion;
  limits.custom_class_registered = [](const std::string& name) {
    return torch::getCustomClass(name) != nullptr;
  };
  return limits;
}

}  // namespace rampart::security
