// libFuzzer target: the safetensors reader on arbitrary bytes. It may only throw Rampart's
// errors (ModelRejected for a malformed file).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "models/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    rampart::models::parse_safetensors(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
  } catch (const rampart::Error&) {
  }
  return 0;
}
