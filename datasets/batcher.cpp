#include "datasets/batcher.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/error.h"
#include "datasets/random.h"

namespace rampart::datasets {

struct Batcher::Cache {
  std::mutex mutex;
  int64_t epoch = -1;
  at::Tensor order;
};

Batcher::Batcher(const Dataset& data, int64_t batch_size, bool shuffle, uint64_t seed)
    : data_(data),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      cache_(std::make_shared<Cache>()) {
  if (batch_size <= 0) {
    throw ConfigError("batch_size must be positive, got " + std::to_string(batch_size));
  }
  if (data_.size() > 0 && (!data_.images.defined() || data_.images.size(0) != data_.size())) {
    throw std::invalid_argument("Batcher: images and labels hold different numbers of points");
  }
}

int64_t Batcher::num_batches() const { return (size() + batch_size_ - 1) / batch_size_; }

std::pair<int64_t, int64_t> Batcher::bounds(int64_t index) const {
  const int64_t n = size();
  const int64_t last = num_batches() - 1;
  const int64_t remainder = n - last * batch_size_;  // the last batch's share, in [1, batch_size]
  if (last == 0 || 2 * remainder >= batch_size_ || index < last - 1) {
    return {index * batch_size_, std::min(n, (index + 1) * batch_size_)};
  }
  // A tail under half a batch: the last two batches share their points, the larger first.
  const int64_t shared_begin = (last - 1) * batch_size_;
  const int64_t middle = shared_begin + (batch_size_ + remainder + 1) / 2;
  return index == last ? std::make_pair(middle, n) : std::make_pair(shared_begin, middle);
}

at::Tensor Batcher::order_tensor(int64_t epoch) const {
  if (epoch < 0)
    throw std::invalid_argument("Batcher: epoch must be >= 0, got " + std::to_string(epoch));
  const int64_t n = size();
  if (!shuffle_) return at::arange(n, at::kLong);
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->epoch == epoch) return cache_->order;

  // State for this epoch: SplitMix64 of the seed, combined with the epoch, mixed again.
  detail::SplitMix64 outer(seed_);
  detail::SplitMix64 rng(outer.next() ^ static_cast<uint64_t>(epoch));
  rng = detail::SplitMix64(rng.next());
  at::Tensor order = at::arange(n, at::kLong);
  int64_t* p = order.data_ptr<int64_t>();
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)));
    std::swap(p[i], p[j]);
  }
  cache_->epoch = epoch;
  cache_->order = order;
  return order;
}

std::vector<int64_t> Batcher::order(int64_t epoch) const {
  const at::Tensor o = order_tensor(epoch);
  const int64_t* p = o.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + o.numel());
}

Batch Batcher::batch(int64_t epoch, int64_t index) const {
  if (index < 0 || index >= num_batches()) {
    throw std::out_of_range("Batcher: batch index " + std::to_string(index) + " is outside [0, " +
                            std::to_string(num_batches()) + ")");
  }
  const auto [begin, end] = bounds(index);
  Batch b;
  b.indices = order_tensor(epoch).slice(0, begin, end).clone();
  b.images = data_.images.index_select(0, b.indices);
  b.labels = data_.labels.index_select(0, b.indices);
  return b;
}

}  // namespace rampart::datasets
