// libFuzzer target: the pickle disassembler on arbitrary bytes, with a policy that allows
// every global (so the fuzzer explores past GLOBAL) and one that refuses them all.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "security/pickle_inspector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const rampart::security::GlobalPolicy allow = [](const std::string&, const std::string&) {
    return std::string();
  };
  const rampart::security::GlobalPolicy deny = [](const std::string&, const std::string&) {
    return std::string("denied");
  };
  for (const auto* policy : {&allow, &deny}) {
    try {
      rampart::security::inspect_pickle(bytes, "fuzz.pkl", *policy);
    } catch (const rampart::security::InspectionError&) {
    }
  }
  return 0;
}
