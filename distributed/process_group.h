#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
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

/// A collective failed: a peer died, closed its connection or did not answer within the
/// group's timeout. The survivors can go on in a smaller group (GlooGroup::shrink).
class PeerFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A c10d process group on Gloo (CPU tensors). Hides the 1.13 / 2.x differences of c10d
/// (ProcessGroupGloo derives from ProcessGroup in 1.13, from Backend in 2.x). Every collective
/// throws PeerFailure when it fails.
class GlooGroup {
 public:
  explicit GlooGroup(const GroupSpec& spec);
  ~GlooGroup();
  GlooGroup(const GlooGroup&) = delete;
  GlooGroup& operator=(const GlooGroup&) = delete;

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  /// The rank each current rank had when the group was first formed (they differ after a
  /// shrink): members()[rank()] is this process's original rank.
  const std::vector<int64_t>& members() const { return members_; }
  int64_t original_rank(int64_t rank) const { return members_.at(static_cast<std::size_t>(rank)); }

  /// After a PeerFailure: every surviving process calls this (same number of times). Each
  /// checks in on the store; rank 0, which must be among them (it holds the TCPStore and
  /// aggregates), waits up to `wait` for the others, then publishes the members who checked
  /// in; all of them form a new Gloo group on the same store, ranks renumbered in their old
  /// order. Returns the original ranks left out. Throws PeerFailure when this process was left
  /// out or rank 0 never published the members.
  std::vector<int64_t> shrink(std::chrono::milliseconds wait);
  /// Every rank's `frame` (all the same size) at rank 0, in rank order; empty on other ranks.
  std::vector<at::Tensor> gather(const at::Tensor& frame);
  /// The same gather into one [world_size, frame bytes] tensor: row r is rank r's frame. Rank 0
  /// writes into `into` when it already has that shape (a buffer reused round after round: no
  /// fresh pages to fault in); other ranks return an undefined tensor.
  at::Tensor gather_rows(const at::Tensor& frame, const at::Tensor& into = at::Tensor());
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
  std::vector<int64_t> members_;
  int64_t generation_ = 0;
  std::string host_;
  std::chrono::milliseconds timeout_;
};

}  // namespace rampart::distributed
