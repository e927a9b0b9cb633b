// libFuzzer target: the format decision, then the strict archive inspection for what it calls
// a TorchScript archive. Rejections are expected; crashes, sanitizer reports and other
// exceptions are bugs. A file decided as safetensors must never pass as an archive too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "security/model_format.h"
#include "security/zip_inspector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart::security;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const ModelFormat format = decide_model_format(bytes);
    try {
      const Archive archive = inspect_archive(bytes);
      for (const auto& entry : archive.entries) read_entry(bytes, entry);
      if (format != ModelFormat::kTorchScript) std::abort();  // a polyglot got through
    } catch (const InspectionError&) {
    }
  } catch (const InspectionError&) {
  }
  return 0;
}
