// libFuzzer target: the IDX reader (gzip or raw) on arbitrary image files, with labels that
// are the same bytes read as a label file: it may only throw DataError.
#include "core/error.h"
#include "datasets/idx_reader.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz_input_file(data, size, ".idx");
  try {
    rampart::datasets::read_idx(path, path, 10);
  } catch (const rampart::Error&) {
  }
  return 0;
}
