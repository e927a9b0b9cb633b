#include "security/sealed_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rampart::security {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

}  // namespace

SealedMemory::SealedMemory(const char* name, std::string_view bytes) : size_(bytes.size()) {
  fd_ = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd_ < 0) fail("memfd_create");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd_);
      fail("writing the sealed memory file");
    }
    done += static_cast<std::size_t>(n);
  }
  if (fcntl(fd_, F_ADD_SEALS, kSeals) != 0) {
    close(fd_);
    fail("sealing the memory file");
  }
}

SealedMemory::~SealedMemory() {
  if (fd_ >= 0) close(fd_);
}

MappedMemory::MappedMemory(int fd) {
  const int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) != (F_SEAL_WRITE | F_SEAL_SHRINK)) {
    throw std::runtime_error("descriptor " + std::to_string(fd) + " is not a sealed memory file");
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) fail("fstat of the sealed memory file");
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ == 0) return;
  data_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (data_ == MAP_FAILED) {
    data_ = nullptr;
    fail("mapping the sealed memory file");
  }
}

MappedMemory::~MappedMemory() {
  if (data_ != nullptr) munmap(data_, size_);
}

}  // namespace rampart::security
