#pragma once

#include "core/config_node.h"
#include "security/model_intake.h"

namespace rampart::security {

// clang-format off
/// Reads the optional `security:` section of an eval or train config (absent: the defaults,
/// under which every model file must be pinned, listed or signed). The allowlist file is
/// read here, so a missing or malformed one fails before any work.
///
/// Example (YAML):
///   security:
///     allow_unpinned: false          # true (or --allow-unpinned): accept unpinned files
///     allowlist: pinned.sha256       # sha256sum output: hashes that count as pinned
///     max_model_bytes: 2147483648
///     probe: {memory_mib: 4096, cpu_seconds: 60, timeout_seconds: 60}
///     deny_operators: [aten::my_side_effect]   # on top of the built-in deny-list
// clang-format on
IntakePolicy parse_security_config(const core::ConfigNode& root);

}  // namespace rampart::security
