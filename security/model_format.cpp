#include "security/model_format.h"

#include <algorithm>
#include <cstdint>

#include "security/inspection_error.h"
#include "security/zip_inspector.h"

namespace rampart::security {
namespace {

bool safetensors_shaped(std::string_view bytes) {
  if (bytes.size() < 10 || bytes[8] != '{') return false;
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<unsigned char>(bytes[i]);
  return header >= 2 && header <= bytes.size() - 8;
}

uint64_t le(std::string_view bytes, std::size_t at, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
  }
  return v;
}

// A zip end-of-central-directory record where a zip reader would look for one (the last 64 KiB
// and 22 bytes), plausible enough for it to follow: one disk, a directory inside the file. Bare
// signatures are not enough: four random weight bytes match one in 2^32.
bool has_zip_end_record(std::string_view bytes) {
  const std::size_t window = std::min<std::size_t>(bytes.size(), 22 + 65535);
  const std::string_view signature("PK\x05\x06", 4);
  for (std::size_t at = bytes.find(signature, bytes.size() - window);
       at != std::string_view::npos; at = bytes.find(signature, at + 1)) {
    if (at + 22 > bytes.size()) break;
    const bool one_disk = le(bytes, at + 4, 2) == 0 && le(bytes, at + 6, 2) == 0 &&
                          le(bytes, at + 8, 2) == le(bytes, at + 10, 2);
    const uint64_t size = le(bytes, at + 12, 4), offset = le(bytes, at + 16, 4);
    if (one_disk && size + offset <= bytes.size()) return true;
  }
  return false;
}

}  // namespace

ModelFormat decide_model_format(std::string_view bytes) {
  if (bytes.size() >= 8 && bytes.substr(4, 4) == "PTMF") {
    throw InspectionError("flatbuffer_module",
                          "a FlatBuffer (mobile) module: libtorch would load it without any of "
                          "the archive checks; export with torch.jit.save instead");
  }
  const bool zip = looks_like_zip(bytes);
  const bool safetensors = safetensors_shaped(bytes);
  if (zip && safetensors) {
    throw InspectionError("ambiguous_format", "the file is shaped as both a zip archive and "
                                              "safetensors");
  }
  if (safetensors) {
    if (has_zip_end_record(bytes)) {
      throw InspectionError("ambiguous_format",
                            "a safetensors file that also holds a zip end-of-directory record "
                            "(libtorch would read it as a TorchScript archive)");
    }
    return ModelFormat::kSafetensors;
  }
  return zip ? ModelFormat::kTorchScript : ModelFormat::kUnknown;
}

std::string format_name(ModelFormat format) {
  switch (format) {
    case ModelFormat::kTorchScript:
      return "torchscript";
    case ModelFormat::kSafetensors:
      return "safetensors";
    default:
      return "unknown";
  }
}

}  // namespace rampart::security
