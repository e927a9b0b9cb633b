#include "datasets/batcher.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <numeric>

#include "core/error.h"
#include "test_util.h"

using namespace rampart;
using namespace rampart::datasets;

namespace {

// Point i has every pixel equal to i and label i % 3.
Dataset numbered(int64_t n) {
  Dataset d;
  d.images = at::arange(n, at::kFloat).reshape({n, 1, 1, 1}).expand({n, 1, 2, 2}).contiguous();
  d.labels = at::arange(n, at::kLong).remainder(3);
  d.num_classes = 3;
  return d;
}

bool is_permutation(std::vector<int64_t> order, int64_t n) {
  std::sort(order.begin(), order.end());
  std::vector<int64_t> iota(static_cast<std::size_t>(n));
  std::iota(iota.begin(), iota.end(), 0);
  return order == iota;
}

}  // namespace

TEST_CASE("Batcher orders are pure functions of (seed, epoch)", "[batcher]") {
  const Dataset data = numbered(100);
  const Batcher a(data, 16, /*shuffle=*/true, /*seed=*/7);
  const Batcher b(data, 16, /*shuffle=*/true, /*seed=*/7);
  for (int64_t epoch : {0, 1, 5}) {
    REQUIRE(a.order(epoch) == b.order(epoch));
    REQUIRE(is_permutation(a.order(epoch), 100));
  }
  REQUIRE(a.order(0) != a.order(1));
  REQUIRE(a.order(1) != a.order(2));
  REQUIRE(a.order(0) != Batcher(data, 16, true, 8).order(0));
  // Asking for epoch 3 after epoch 4 (a resumed run) gives the same order as asking first.
  const std::vector<int64_t> fresh = Batcher(data, 16, true, 7).order(3);
  (void)a.order(4);
  REQUIRE(a.order(3) == fresh);

  // Pinned values (also computed by an independent Python SplitMix64 + Fisher-Yates):
  // the same on every platform and standard library.
  const std::vector<int64_t> pinned = Batcher(numbered(10), 4, true, 0).order(0);
  INFO("order(0) for seed 0, n 10 is " << ::Catch::Detail::stringify(pinned));
  REQUIRE(pinned == std::vector<int64_t>({1, 7, 6, 2, 0, 9, 8, 4, 5, 3}));
}

TEST_CASE("Batcher without shuffle keeps file order", "[batcher]") {
  const Batcher batcher(numbered(10), 4, /*shuffle=*/false, /*seed=*/123);
  std::vector<int64_t> iota(10);
  std::iota(iota.begin(), iota.end(), 0);
  REQUIRE(batcher.order(0) == iota);
  REQUIRE(batcher.order(9) == iota);
  REQUIRE(at::equal(batcher.batch(3, 1).indices, at::tensor({4, 5, 6, 7}, at::kLong)));
}

TEST_CASE("Batcher batches cover the epoch, the last one smaller", "[batcher]") {
  const Dataset data = numbered(10);
  const Batcher batcher(data, 4, /*shuffle=*/true, /*seed=*/1);
  REQUIRE(batcher.num_batches() == 3);
  REQUIRE(batcher.size() == 10);
  const std::vector<int64_t> order = batcher.order(2);
  std::vector<int64_t> seen;
  std::vector<int64_t> sizes;
  for (int64_t i = 0; i < batcher.num_batches(); ++i) {
    const Batch batch = batcher.batch(2, i);
    sizes.push_back(batch.labels.size(0));
    REQUIRE(batch.images.is_contiguous());
    REQUIRE(batch.indices.scalar_type() == at::kLong);
    REQUIRE(batch.images.sizes() == at::IntArrayRef({batch.labels.size(0), 1, 2, 2}));
    for (int64_t j = 0; j < batch.labels.size(0); ++j) {
      const int64_t index = batch.indices[j].item<int64_t>();
      REQUIRE(index == order[seen.size()]);
      REQUIRE(batch.images[j][0][1][1].item<float>() == static_cast<float>(index));
      REQUIRE(batch.labels[j].item<int64_t>() == index % 3);
      seen.push_back(index);
    }
  }
  REQUIRE(sizes == std::vector<int64_t>{4, 4, 2});
  REQUIRE(seen == order);

  REQUIRE(Batcher(data, 5, true, 1).num_batches() == 2);
  REQUIRE(Batcher(data, 64, true, 1).batch(0, 0).labels.size(0) == 10);
  REQUIRE(Batcher(data.take(3), 2, true, 1).num_batches() == 2);
  REQUIRE_THROWS_AS(batcher.batch(0, 3), std::out_of_range);
  REQUIRE_THROWS_AS(batcher.batch(0, -1), std::out_of_range);
  REQUIRE_THROWS_AS(Batcher(data, 0, true, 1), ConfigError);
}

TEST_CASE("Batcher shuffles are close to uniform", "[batcher]") {
  // All 6 orders of 3 points, over 6000 epochs: each expected 1000 times.
  const Batcher batcher(numbered(3), 3, true, 99);
  std::map<std::vector<int64_t>, int> counts;
  for (int64_t epoch = 0; epoch < 6000; ++epoch) ++counts[batcher.order(epoch)];
  REQUIRE(counts.size() == 6);
  for (const auto& [order, count] : counts) {
    INFO("order " << ::Catch::Detail::stringify(order));
    REQUIRE(count > 850);
    REQUIRE(count < 1150);
  }
}

TEST_CASE("Batcher never ends an epoch on a batch under half the batch size", "[batcher]") {
  // 9 points in batches of 4 would end on a one-point batch: the last two share 5 points.
  const Batcher odd(numbered(9), 4, /*shuffle=*/true, /*seed=*/3);
  REQUIRE(odd.num_batches() == 3);
  std::vector<int64_t> sizes, seen;
  for (int64_t i = 0; i < odd.num_batches(); ++i) {
    const Batch batch = odd.batch(1, i);
    sizes.push_back(batch.labels.size(0));
    const int64_t* p = batch.indices.data_ptr<int64_t>();
    seen.insert(seen.end(), p, p + batch.indices.numel());
  }
  REQUIRE(sizes == std::vector<int64_t>{4, 3, 2});
  REQUIRE(seen == odd.order(1));  // every point once, in the epoch's order

  // The case that set a retraining back (docs/poisoning.md): 53,889 points in batches of 128.
  const Batcher tail(numbered(53889), 128, true, 4);
  REQUIRE(tail.num_batches() == 422);
  REQUIRE(tail.batch(0, 419).labels.size(0) == 128);
  REQUIRE(tail.batch(0, 420).labels.size(0) == 65);
  REQUIRE(tail.batch(0, 421).labels.size(0) == 64);
  REQUIRE(tail.batch(0, 421).indices[63].item<int64_t>() == tail.order(0).back());
  // A remainder of half a batch or more stays as it is (60,000 in 128s: the last holds 96),
  // and a data set under one batch is one batch.
  REQUIRE(Batcher(numbered(60000), 128, true, 4).batch(0, 468).labels.size(0) == 96);
  REQUIRE(Batcher(numbered(10), 4, true, 1).batch(0, 2).labels.size(0) == 2);
  REQUIRE(Batcher(numbered(3), 4, true, 1).batch(0, 0).labels.size(0) == 3);
}
