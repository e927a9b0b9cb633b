// libFuzzer target: the strict zip inspector on arbitrary bytes. Rejections are expected;
// crashes, sanitizer reports and other exceptions are bugs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "security/zip_inspector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const rampart::security::Archive archive = rampart::security::inspect_archive(bytes);
    for (const auto& entry : archive.entries) rampart::security::read_entry(bytes, entry);
  } catch (const rampart::security::InspectionError&) {
  }
  return 0;
}
