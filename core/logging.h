#pragma once

namespace rampart::core {

/// Routes spdlog's default logger to stderr (stdout stays for results) with a short
/// "rampart: level: message" pattern. `verbose` enables debug messages.
void init_logging(bool verbose);

}  // namespace rampart::core
