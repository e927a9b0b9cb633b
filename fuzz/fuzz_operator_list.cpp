// libFuzzer target: the parent's side of the graph allowlist. A sandboxed child controls the
// operator list it sends; the parent parses it and judges every name. Malformed lists are
// expected; crashes, sanitizer reports and exceptions are bugs, and so is a parsed name that
// holds a byte outside the allowed set.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "security/operator_allowlist.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart::security;
  std::vector<std::string> names;
  if (!parse_operator_list(std::string_view(reinterpret_cast<const char*>(data), size), names)) {
    return 0;
  }
  for (const std::string& name : names) {
    if (name.empty() || name.size() > 200) std::abort();
    for (unsigned char c : name) {
      if (c == '\n' || c < 0x20 || c >= 0x7f) std::abort();
    }
    judge_operator(name, {"aten::conv2d"});
  }
  return 0;
}
