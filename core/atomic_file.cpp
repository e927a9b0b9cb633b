#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace rampart::core {
namespace {

std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, std::string_view bytes, const std::string& tmp) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw DataError(tmp + ": cannot write: " + errno_text());
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

void make_directories(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw DataError(path + ": cannot create folder: " + ec.message());
  if (!fs::is_directory(path, ec)) throw DataError(path + ": cannot create folder: a file is in the way");
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw DataError(path + ": cannot create folder: " + ec.message());
  }
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw DataError(path + ": cannot create a temporary file: " + errno_text());
  try {
    write_all(fd, bytes, tmp);
    if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
      throw DataError(tmp + ": cannot flush: " + errno_text());
    }
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw DataError(path + ": cannot replace file: " + why);
  }
  // Make the rename itself durable.
  const std::string folder = target.has_parent_path() ? target.parent_path().string() : ".";
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

std::string read_file(const std::string& path, std::size_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw DataError(path + ": no such file");
  if (fs::is_directory(path, ec)) throw DataError(path + ": is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open: " + errno_text());
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw DataError(path + ": cannot determine the file size");
  if (static_cast<std::size_t>(size) > max_bytes) {
    throw DataError(path + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                    std::to_string(max_bytes) + " bytes");
  }
  in.seekg(0, std::ios::beg);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (size > 0 && !in.read(bytes.data(), size)) throw DataError(path + ": read failed");
  return bytes;
}

}  // namespace rampart::core
