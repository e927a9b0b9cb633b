#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

// The IDX and NPY readers take paths: each input is written to a file of this process.
inline std::string fuzz_input_file(const uint8_t* data, size_t size, const char* suffix) {
  const std::string path = "/tmp/rampart-fuzz-" + std::to_string(getpid()) + suffix;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}
