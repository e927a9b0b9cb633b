#pragma once

#include <string>
#include <string_view>

namespace rampart::security {

/// What a model file's bytes are, decided once, by strict rules, before anything parses them.
enum class ModelFormat {
  kTorchScript,  ///< a zip archive as torch.jit.save writes it (starts with a local header)
  kSafetensors,  ///< an 8-byte header length, then a JSON header starting with '{'
  kUnknown,      ///< neither: the TorchScript inspection names what it is (a bare pickle, ...)
};

/// Decides the format of a model file. Every reader that could take the bytes for something
/// else is ruled out first, so the scanner and libtorch never read different things: a
/// FlatBuffer mobile module ("PTMF" at offset 4, which torch::jit::load tries before zip), a
/// file that looks like both a zip archive and safetensors, and a safetensors file carrying a
/// zip end-of-directory record in its last 64 KiB (libtorch's zip reader finds archives with a
/// prefix) each throw InspectionError ("flatbuffer_module", "ambiguous_format").
ModelFormat decide_model_format(std::string_view bytes);

/// "torchscript", "safetensors" or "unknown".
std::string format_name(ModelFormat format);

}  // namespace rampart::security
