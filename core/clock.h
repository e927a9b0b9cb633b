#pragma once

#include <string>

namespace rampart::core {

/// The current UTC time as ISO 8601 ("2026-12-02T09:41:08Z"), for reports and manifests.
std::string utc_now_iso8601();

}  // namespace rampart::core
