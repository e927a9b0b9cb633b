#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::models {

/// The safetensors format (https://github.com/huggingface/safetensors), which Rampart uses
/// for its own checkpoints: an 8-byte little-endian length N, N bytes of UTF-8 JSON header
/// mapping each tensor name to {"dtype", "shape", "data_offsets"} (plus an optional
/// "__metadata__" object of strings), then the raw little-endian tensor bytes.
///
/// Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL. Other dtypes that the format
/// defines (U16, U32, U64, F8_*, ...) are recognised and rejected by name.

/// Largest header the reader accepts, the limit of the reference implementation.
constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
/// The most tensors a header may list (large language models have a few thousand).
constexpr std::size_t kSafetensorsMaxTensors = 1 << 17;

/// A parsed safetensors file. The tensors are owned, contiguous CPU tensors (copies, never
/// views into the parsed bytes), listed in buffer order: sorted by their data offsets.
///
/// Example:
///   SafetensorsFile f = parse_safetensors(bytes, "model.safetensors");
///   if (const at::Tensor* w = f.find("fc.weight")) model->fc->weight.copy_(*w);
struct SafetensorsFile {
  std::vector<std::pair<std::string, at::Tensor>> tensors;  ///< in buffer order
  std::map<std::string, std::string> metadata;              ///< the "__metadata__" object

  /// The tensor named `name`, or nullptr when there is none (a linear scan).
  const at::Tensor* find(const std::string& name) const;
};

/// Serializes `tensors`, in the given order, to safetensors bytes. Each tensor is written
/// as a contiguous CPU little-endian copy; the header JSON is padded with spaces so the
/// data buffer starts at an 8-byte aligned offset. `metadata` becomes "__metadata__"
/// (omitted when empty). Throws std::invalid_argument for an empty, duplicate or reserved
/// ("__metadata__") name, an undefined or non-strided tensor, or an unsupported dtype.
///
/// Example:
///   std::string bytes = serialize_safetensors({{"fc.weight", w}, {"fc.bias", b}},
///                                             {{"format", "pt"}});
std::string serialize_safetensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

/// Parses and validates safetensors `bytes` as the specification demands: header length
/// limits, strict JSON (UTF-8, no duplicate keys, must start with '{'), entries with exactly
/// dtype/shape/data_offsets, sizes that match dtype and shape (overflow-checked), and data
/// offsets that tile the buffer exactly (no overlap, gap, truncation or trailing bytes).
/// BOOL tensors must hold only bytes 0 and 1, and shapes have at most 64 dimensions.
/// Throws ModelRejected (exit 3) whose message names `file_name` and the problem.
///
/// Example:
///   std::string bytes = core::read_file("model.safetensors");
///   SafetensorsFile f = parse_safetensors(bytes, "model.safetensors");
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& file_name);

/// serialize_safetensors() written to `path` atomically (core::write_file_atomic). Throws
/// std::invalid_argument as serialize_safetensors() does, DataError when writing fails.
///
/// Example:
///   save_safetensors("runs/a/checkpoint.safetensors", {{"fc.weight", w}}, {{"epoch", "3"}});
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace rampart::models
