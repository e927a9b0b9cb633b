#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace rampart::datasets {

/// Bytes in one CIFAR-10 binary record: 1 label byte + 3 x 32 x 32 channel-major pixels.
constexpr int64_t kCifar10RecordBytes = 1 + 3 * 32 * 32;

/// Reads CIFAR-10 binary batches (`data_batch_1.bin` ... `test_batch.bin`) and concatenates
/// them in the order given.
///
/// Each file must be a non-zero multiple of 3073 bytes and every label must lie in
/// [0, num_classes). Returns images float32 [N, 3, 32, 32] (pixel / 255, RGB) and labels int64
/// [N]. Throws DataError naming the file and the problem, ConfigError when no file is given.
///
/// Example:
///   Dataset test = read_cifar10({"/data/cifar-10-batches-bin/test_batch.bin"});
Dataset read_cifar10(const std::vector<std::string>& batch_files, int64_t num_classes = 10);

}  // namespace rampart::datasets
