#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace rampart::core {

void init_logging(bool verbose) {
  auto logger = spdlog::get("rampart");
  if (!logger) logger = spdlog::stderr_color_mt("rampart");
  logger->set_pattern("rampart: %^%l%$: %v");
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace rampart::core
