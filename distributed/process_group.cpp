#include "distributed/process_group.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/error.h"

namespace rampart::distributed {

namespace {

int64_t env_int(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) throw ConfigError(std::string("distributed: ") + name + " is not set");
  char* end = nullptr;
  const long long v = std::strtoll(value, &end, 10);
  if (*end != '\0' || v < 0) {
    throw ConfigError(std::string("distributed: ") + name + "='" + value + "' is not a number");
  }
  return v;
}

// libtorch 2.2 added TCPStoreOptions::useLibUV and 2.4 made it the default, but a libtorch built
// without libuv (Debian's 2.6, for one) then refuses every TCPStore. The store is tried as the
// build prefers, then, on that refusal, with the older backend. 1.x has no such field: no-op.
template <typename Options>
auto without_libuv(Options& options, int) -> decltype(options.useLibUV = false, bool()) {
  if (!options.useLibUV) return false;
  options.useLibUV = false;
  return true;
}
template <typename Options>
bool without_libuv(Options&, long) {
  return false;
}

c10::intrusive_ptr<c10d::TCPStore> make_tcp_store(const std::string& host, c10d::TCPStoreOptions options) {
  try {
    return c10::make_intrusive<c10d::TCPStore>(host, options);
  } catch (const c10::Error& e) {
    if (std::strstr(e.what(), "libuv") == nullptr || !without_libuv(options, 0)) throw;
    return c10::make_intrusive<c10d::TCPStore>(host, options);
  }
}

}  // namespace

GroupSpec group_from_environment(int64_t timeout_seconds) {
  GroupSpec group;
  group.rank = env_int("RANK");
  group.world_size = env_int("WORLD_SIZE");
  group.timeout = std::chrono::milliseconds(timeout_seconds * 1000);
  if (const char* store = std::getenv("RAMPART_FILE_STORE"); store && *store) {
    group.file_store = store;
  } else {
    const char* host = std::getenv("MASTER_ADDR");
    group.host = host && *host ? host : "127.0.0.1";
    group.port = static_cast<int>(env_int("MASTER_PORT"));
  }
  return group;
}

struct GlooGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

namespace {

c10::intrusive_ptr<c10d::ProcessGroupGloo> make_gloo(const c10::intrusive_ptr<c10d::Store>& store,
                                                     int64_t rank, int64_t world_size,
                                                     const std::string& host,
                                                     std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(rank),
                                                     static_cast<int>(world_size), options);
}

// Runs one collective; its failure (a dead peer, a timeout) becomes a PeerFailure.
template <typename Collective>
void guarded(const char* what, Collective&& collective) {
  try {
    collective();
  } catch (const std::exception& e) {
    throw PeerFailure(std::string("distributed: ") + what + " failed: " + e.what());
  }
}

std::string join(const std::vector<int64_t>& ranks) {
  std::string out;
  for (int64_t r : ranks) out += (out.empty() ? "" : ",") + std::to_string(r);
  return out;
}

std::vector<int64_t> split(const std::string& text) {
  std::vector<int64_t> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t comma = text.find(',', start);
    out.push_back(std::stoll(text.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

GlooGroup::GlooGroup(const GroupSpec& spec)
    : impl_(std::make_unique<Impl>()),
      rank_(spec.rank),
      world_size_(spec.world_size),
      host_(spec.host),
      timeout_(spec.timeout) {
  if (spec.world_size < 1 || spec.rank < 0 || spec.rank >= spec.world_size) {
    throw ConfigError("distributed: rank " + std::to_string(spec.rank) + " is not in a world of " +
                      std::to_string(spec.world_size));
  }
  if (!spec.file_store.empty()) {
    impl_->store = c10::make_intrusive<c10d::FileStore>(spec.file_store,
                                                        static_cast<int>(spec.world_size));
  } else {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(spec.port);
    options.isServer = spec.rank == 0;
    options.numWorkers = static_cast<int>(spec.world_size);
    options.timeout = spec.timeout;
    impl_->store = make_tcp_store(spec.host, options);
  }
  impl_->store->setTimeout(spec.timeout);
  for (int64_t r = 0; r < spec.world_size; ++r) members_.push_back(r);
  impl_->group = make_gloo(impl_->store, rank_, world_size_, host_, timeout_);
}

std::vector<int64_t> GlooGroup::shrink(std::chrono::milliseconds wait) {
  ++generation_;
  const std::string base = "rampart/shrink/" + std::to_string(generation_) + "/";
  const int64_t me = original_rank(rank_);
  std::vector<int64_t> kept;
  try {
    impl_->store->set(base + "in/" + std::to_string(me), std::vector<uint8_t>{1});
    if (rank_ == 0) {
      const auto deadline = std::chrono::steady_clock::now() + wait;
      for (;;) {
        kept.clear();
        for (int64_t r : members_) {
          if (impl_->store->check({base + "in/" + std::to_string(r)})) kept.push_back(r);
        }
        if (kept.size() == members_.size() || std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      const std::string list = join(kept);
      impl_->store->set(base + "members", std::vector<uint8_t>(list.begin(), list.end()));
    } else {
      impl_->store->wait({base + "members"}, wait + timeout_ + std::chrono::seconds(10));
      const std::vector<uint8_t> list = impl_->store->get(base + "members");
      kept = split(std::string(list.begin(), list.end()));
    }
  } catch (const std::exception& e) {
    throw PeerFailure(std::string("distributed: regrouping after a failure failed: ") + e.what());
  }
  const auto at = std::find(kept.begin(), kept.end(), me);
  if (at == kept.end()) {
    throw PeerFailure("distributed: rank " + std::to_string(me) +
                      " checked in too late and was left out of the group");
  }
  std::vector<int64_t> lost;
  for (int64_t r : members_) {
    if (std::find(kept.begin(), kept.end(), r) == kept.end()) lost.push_back(r);
  }
  members_ = kept;
  rank_ = at - kept.begin();
  world_size_ = static_cast<int64_t>(kept.size());
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("rampart/group/" + std::to_string(generation_),
                                                         impl_->store);
  guarded("regrouping", [&] { impl_->group = make_gloo(prefixed, rank_, world_size_, host_, timeout_); });
  return lost;
}

GlooGroup::~GlooGroup() = default;

std::vector<at::Tensor> GlooGroup::gather(const at::Tensor& frame) {
  const at::Tensor rows = gather_rows(frame);
  std::vector<at::Tensor> out;
  if (rows.defined()) {
    for (const at::Tensor& row : rows.unbind(0)) out.push_back(row.view(frame.sizes()));
  }
  return out;
}

at::Tensor GlooGroup::gather_rows(const at::Tensor& frame, const at::Tensor& into) {
  std::vector<at::Tensor> input{frame.contiguous().flatten()};
  std::vector<std::vector<at::Tensor>> output;
  at::Tensor rows;
  if (rank_ == 0) {
    const int64_t bytes = input[0].numel();
    const bool reuse = into.defined() && into.dim() == 2 && into.size(0) == world_size_ &&
                       into.size(1) == bytes && into.scalar_type() == input[0].scalar_type() &&
                       into.is_contiguous();
    rows = reuse ? into : at::empty({world_size_, bytes}, input[0].options());
    output.emplace_back();
    for (int64_t r = 0; r < world_size_; ++r) output.back().push_back(rows.select(0, r));
  }
  c10d::GatherOptions options;
  options.rootRank = 0;
  guarded("gather", [&] { impl_->group->gather(output, input, options)->wait(); });
  return rows;
}

std::vector<std::string> GlooGroup::gather_bytes(const std::string& bytes) {
  int64_t largest = 0;
  std::vector<int64_t> sizes;
  for (const at::Tensor& size : allgather(at::full({1}, static_cast<int64_t>(bytes.size()), at::kLong))) {
    sizes.push_back(size.item<int64_t>());
    largest = std::max(largest, sizes.back());
  }
  at::Tensor frame = at::zeros({largest}, at::kByte);
  std::memcpy(frame.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  std::vector<std::string> out;
  for (const at::Tensor& received : gather(frame)) {
    const auto* data = reinterpret_cast<const char*>(received.data_ptr<uint8_t>());
    out.emplace_back(data, static_cast<std::size_t>(sizes[out.size()]));
  }
  return out;
}

std::vector<at::Tensor> GlooGroup::allgather(const at::Tensor& tensor) {
  std::vector<at::Tensor> input{tensor.contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int64_t r = 0; r < world_size_; ++r) output[0].push_back(at::empty_like(input[0]));
  guarded("allgather", [&] { impl_->group->allgather(output, input)->wait(); });
  return output[0];
}

void GlooGroup::allreduce_sum(at::Tensor& tensor) {
  std::vector<at::Tensor> tensors{tensor};
  guarded("allreduce", [&] { impl_->group->allreduce(tensors)->wait(); });
}

void GlooGroup::broadcast(at::Tensor& tensor) {
  std::vector<at::Tensor> tensors{tensor};
  guarded("broadcast", [&] { impl_->group->broadcast(tensors)->wait(); });
}

void GlooGroup::barrier() {
  guarded("barrier", [&] { impl_->group->barrier()->wait(); });
}

}  // namespace rampart::distributed
