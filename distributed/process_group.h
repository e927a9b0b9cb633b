#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rampart::distributed {

/// Where the ranks meet: a FileStore (one file, single host; access is the file's permissions)
/// or a TCPStore on host:port (bound to loopback unless another host is given).
struct GroupSpec {
  int64_t rank = 0;
  int64_t world_size = 1;
  std::string file_store;          ///< path of the FileStore file; empty: TCPStore
  std::string host = "127.0.0.1";  ///< TCPStore host (rank 0 listens there)
  int port = 29500;
  std::chrono::milliseconds timeout{60000};
};

/// The group the environment describes, torchrun's contract: RANK and WORLD_SIZE, and
/// RAMPART_FILE_STORE (set by distributed::launch_local_workers) or MASTER_ADDR (default
/// loopback) and MASTER_PORT for a TCPStore. Throws ConfigError naming a missing or bad variable.
GroupSpec group_from_environment(int64_t timeout_seconds);

/// A c10d process group on Gloo (CPU tensors). Hides the 1.13 / 2.x differences of c10d
/// (ProcessGroupGloo derives from ProcessGroup in 1.13, from Backend in 2.x).
class GlooGroup {
 public:
  explicit GlooGroup(const GroupSpec& spec);
  ~GlooGroup();
  GlooGroup(const GlooGroup&) = delete;
  GlooGroup& operator=(const GlooGroup&) = delete;

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  /// Every rank's `frame` (all the same size) at rank 0, in rank order; empty on other ranks.
  std::vector<at::Tensor> gather(const at::Tensor& frame);
  /// Every rank's `bytes` (any sizes) at rank 0, in rank order; empty on other ranks. The
  /// sizes are exchanged first, then every rank sends its bytes padded to the largest.
  std::vector<std::string> gather_bytes(const std::string& bytes);
  /// Every rank's `tensor` on every rank, in rank order (Gloo relays it through other ranks:
  /// only for simulations, never for updates that must reach the aggregator unchanged).
  std::vector<at::Tensor> allgather(const at::Tensor& tensor);
  /// The elementwise sum over ranks, in place (what plain data-parallel training does).
  void allreduce_sum(at::Tensor& tensor);
  /// Rank 0's `tensor` on every rank (in place; the same size everywhere).
  void broadcast(at::Tensor& tensor);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t rank_;
  int64_t world_size_;
};

}  // namespace rampart::distributed
