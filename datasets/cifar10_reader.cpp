#include "datasets/cifar10_reader.h"

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"

namespace rampart::datasets {
namespace {

constexpr int64_t kPixels = kCifar10RecordBytes - 1;

/// Number of records in `path`, from its size (checked to be a non-zero multiple of a record).
int64_t count_records(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw DataError(path + ": no such file");
  if (fs::is_directory(path, ec)) throw DataError(path + ": is a folder, expected a file");
  const auto size = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) throw DataError(path + ": cannot determine the file size: " + ec.message());
  if (size == 0) {
    throw DataError(path + ": file is empty, expected CIFAR-10 records of " +
                    std::to_string(kCifar10RecordBytes) + " bytes");
  }
  if (size % kCifar10RecordBytes != 0) {
    throw DataError(path + ": file is " + std::to_string(size) + " bytes, not a multiple of the " +
                    std::to_string(kCifar10RecordBytes) + "-byte CIFAR-10 record (" +
                    std::to_string(size % kCifar10RecordBytes) + " bytes left over after " +
                    std::to_string(size / kCifar10RecordBytes) + " records)");
  }
  return size / kCifar10RecordBytes;
}

}  // namespace

Dataset read_cifar10(const std::vector<std::string>& batch_files, int64_t num_classes) {
  if (batch_files.empty()) throw ConfigError("cifar10: no batch files given");
  if (num_classes <= 0) {
    throw ConfigError("cifar10: num_classes must be positive, got " + std::to_string(num_classes));
  }
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const std::string& path : batch_files) {
    counts.push_back(count_records(path));
    total += counts.back();
  }

  at::Tensor pixels = at::empty({total, 3, 32, 32}, at::kByte);
  at::Tensor labels = at::empty({total}, at::kLong);
  uint8_t* px = pixels.data_ptr<uint8_t>();
  int64_t* lb = labels.data_ptr<int64_t>();
  int64_t row = 0;
  for (std::size_t f = 0; f < batch_files.size(); ++f) {
    const std::string& path = batch_files[f];
    const std::string bytes =
        core::read_file(path, static_cast<std::size_t>(counts[f] * kCifar10RecordBytes));
    if (static_cast<int64_t>(bytes.size()) != counts[f] * kCifar10RecordBytes) {
      throw DataError(path + ": file changed size while it was being read");
    }
    for (int64_t i = 0; i < counts[f]; ++i) {
      const char* rec = bytes.data() + i * kCifar10RecordBytes;
      const int64_t label = static_cast<unsigned char>(rec[0]);
      if (label >= num_classes) {
        throw DataError(path + ": label " + std::to_string(label) + " at record " +
                        std::to_string(i) + " is outside [0, " + std::to_string(num_classes) + ")");
      }
      lb[row] = label;
      std::memcpy(px + row * kPixels, rec + 1, static_cast<std::size_t>(kPixels));
      ++row;
    }
  }

  Dataset out;
  out.images = pixels.to(at::kFloat).div_(255.0).contiguous();
  out.labels = labels;
  out.num_classes = num_classes;
  out.source = batch_files.front();
  return out;
}

}  // namespace rampart::datasets
