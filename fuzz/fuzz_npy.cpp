// libFuzzer target: the NPY reader on arbitrary files: it may only throw DataError.
#include "core/error.h"
#include "datasets/npy.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz_input_file(data, size, ".npy");
  try {
    rampart::datasets::read_npy(path);
  } catch (const rampart::Error&) {
  }
  return 0;
}
