#pragma once

#include "security/torchscript_inspection.h"

namespace rampart::security {

/// The default TorchScript limits, with the format versions this libtorch reads.
TorchScriptLimits libtorch_limits();

}  // namespace rampart::security
