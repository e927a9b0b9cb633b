#pragma once

#include <cstddef>
#include <string_view>

namespace rampart::security {

/// Bytes copied into an anonymous memory file (memfd) and sealed: nobody, this process
/// included, can write, grow or shrink it afterwards. Its descriptor is how a worker process
/// receives its inputs (model bytes, data) in shared memory before it confines itself.
///
/// Example:
///   security::SealedMemory job("rampart-job", bytes);
///   spawn_worker(path, {}, {job.fd()});  // the worker maps its fd 3 with MappedMemory
class SealedMemory {
 public:
  /// Throws std::runtime_error when the memory file cannot be made (memfd_create, write,
  /// F_ADD_SEALS).
  SealedMemory(const char* name, std::string_view bytes);
  ~SealedMemory();
  SealedMemory(const SealedMemory&) = delete;
  SealedMemory& operator=(const SealedMemory&) = delete;
  int fd() const { return fd_; }
  std::size_t size() const { return size_; }

 private:
  int fd_ = -1;
  std::size_t size_ = 0;
};

/// A sealed memory file mapped privately: reads see its bytes, writes (if any) stay in this
/// process. The mapping outlives the descriptor, which may be closed afterwards.
class MappedMemory {
 public:
  /// Maps the whole of `fd`. Throws std::runtime_error when it is not a sealed memory file
  /// (F_SEAL_WRITE and F_SEAL_SHRINK missing) or cannot be mapped.
  explicit MappedMemory(int fd);
  ~MappedMemory();
  MappedMemory(const MappedMemory&) = delete;
  MappedMemory& operator=(const MappedMemory&) = delete;
  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace rampart::security
