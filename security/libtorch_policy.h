#pragma once

#include <string>

#include "security/torchscript_inspection.h"

namespace rampart::security {

/// Whether this libtorch registers the operator ("aten::conv2d"). TorchScript prints some
/// prim operators as `torch.<name>`, so an aten:: name is also found as prim::<name>.
bool libtorch_registers(const std::string& op);

/// The default TorchScript limits, with the format versions this libtorch reads.
TorchScriptLimits libtorch_limits();

}  // namespace rampart::security
