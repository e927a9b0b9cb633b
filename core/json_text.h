#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace rampart::core {

/// The JSON text of `value` (`indent` < 0: one line). A string that is not valid UTF-8, such as
/// a file name in another encoding, has its invalid bytes written as U+FFFD instead of making
/// nlohmann throw after the work that produced the document is done.
inline std::string json_text(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace rampart::core
