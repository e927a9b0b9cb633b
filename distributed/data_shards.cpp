#include "distributed/data_shards.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

namespace rampart::distributed {

std::vector<at::Tensor> shard_indices(const at::Tensor& labels, int64_t workers,
                                      double heterogeneity, uint64_t seed) {
  const int64_t n = labels.size(0);
  at::Generator generator = at::detail::createCPUGenerator(seed);
  const at::Tensor order = at::randperm(n, generator, at::TensorOptions().dtype(at::kLong));
  const auto iid = static_cast<int64_t>(std::llround(heterogeneity * static_cast<double>(n)));
  const at::Tensor shuffled = order.slice(0, 0, iid);
  // The rest by label (a stable sort keeps the shuffled order within a class).
  const at::Tensor rest = order.slice(0, iid, n);
  const at::Tensor rest_labels = labels.index_select(0, rest);
  const at::Tensor sorted =
      rest.index_select(0, std::get<1>(rest_labels.sort(/*stable=*/true, 0, false)));
  std::vector<at::Tensor> out;
  int64_t smallest = n;
  for (int64_t w = 0; w < workers; ++w) {
    const auto part = [&](const at::Tensor& t) {
      const int64_t m = t.size(0);
      return t.slice(0, m * w / workers, m * (w + 1) / workers);
    };
    out.push_back(at::cat({part(shuffled), part(sorted)}));
    smallest = std::min(smallest, out.back().size(0));
  }
  // Equal shards: every worker runs the same number of steps, one collective each.
  for (auto& shard : out) shard = shard.slice(0, 0, smallest);
  return out;
}

at::Tensor worker_shard(const at::Tensor& labels, int64_t world, int64_t byzantine, int64_t rank,
                        double heterogeneity, uint64_t seed) {
  const int64_t honest = world - byzantine;
  const int64_t shard = rank < honest ? rank : (rank - honest) % honest;
  return shard_indices(labels, honest, heterogeneity, seed)[static_cast<std::size_t>(shard)];
}

}  // namespace rampart::distributed
