#include "datasets/cifar10_reader.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "test_util.h"

using namespace rampart;
using namespace rampart::datasets;
using fixtures::Bytes;
using fixtures::MessageContains;

namespace {

// Pixel (channel c, row y, column x) of global record r.
unsigned char pixel(int64_t r, int64_t c, int64_t y, int64_t x) {
  return static_cast<unsigned char>((r * 31 + c * 101 + y * 7 + x * 3) % 256);
}

Bytes records(int64_t first, const std::vector<unsigned char>& labels) {
  Bytes b;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    b.push_back(labels[i]);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x)
          b.push_back(pixel(first + static_cast<int64_t>(i), c, y, x));
  }
  return b;
}

}  // namespace

TEST_CASE("read_cifar10 reads and concatenates batches exactly", "[cifar10]") {
  fixtures::TempDir dir;
  fixtures::write_bytes(dir / "data_batch_1.bin", records(0, {6, 9}));
  fixtures::write_bytes(dir / "data_batch_2.bin", records(2, {0, 3, 1}));

  const Dataset d = read_cifar10({dir / "data_batch_1.bin", dir / "data_batch_2.bin"});
  REQUIRE(d.size() == 5);
  REQUIRE(d.images.sizes() == at::IntArrayRef({5, 3, 32, 32}));
  REQUIRE(d.images.scalar_type() == at::kFloat);
  REQUIRE(d.images.is_contiguous());
  REQUIRE(at::equal(d.labels, at::tensor({6, 9, 0, 3, 1}, at::kLong)));
  REQUIRE(d.num_classes == 10);
  REQUIRE(d.source == dir / "data_batch_1.bin");
  const float* px = d.images.data_ptr<float>();
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; y += 5)
        for (int64_t x = 0; x < 32; x += 3)
          REQUIRE(px[((r * 3 + c) * 32 + y) * 32 + x] ==
                  static_cast<float>(pixel(r, c, y, x)) / 255.0f);

  // Order of files is kept.
  const Dataset swapped = read_cifar10({dir / "data_batch_2.bin", dir / "data_batch_1.bin"});
  REQUIRE(at::equal(swapped.labels, at::tensor({0, 3, 1, 6, 9}, at::kLong)));
  REQUIRE(at::equal(swapped.images[3], d.images[0]));
}

TEST_CASE("read_cifar10 rejects malformed batches", "[cifar10]") {
  fixtures::TempDir dir;
  const std::string f = dir / "batch.bin";

  SECTION("size not a multiple of 3073") {
    Bytes b = records(0, {1, 2});
    b.push_back(0);
    fixtures::write_bytes(f, b);
    REQUIRE_THROWS_MATCHES(read_cifar10({f}), DataError,
                           MessageContains({f, "6147 bytes", "not a multiple of the 3073-byte",
                                            "1 bytes left over after 2 records"}));
    b.resize(100);
    fixtures::write_bytes(f, b);
    REQUIRE_THROWS_MATCHES(read_cifar10({f}), DataError,
                           MessageContains({f, "100 bytes left over after 0 records"}));
  }
  SECTION("empty file") {
    fixtures::write_bytes(f, {});
    REQUIRE_THROWS_MATCHES(read_cifar10({f}), DataError, MessageContains({f, "empty"}));
  }
  SECTION("label out of range, in the second file") {
    fixtures::write_bytes(dir / "a.bin", records(0, {1}));
    fixtures::write_bytes(f, records(1, {2, 10}));
    REQUIRE_THROWS_MATCHES(read_cifar10({dir / "a.bin", f}), DataError,
                           MessageContains({f, "label 10 at record 1", "[0, 10)"}));
    REQUIRE_THROWS_MATCHES(read_cifar10({dir / "a.bin"}, 1), DataError,
                           MessageContains({dir / "a.bin", "label 1 at record 0", "[0, 1)"}));
  }
  SECTION("missing file, folder, no files") {
    REQUIRE_THROWS_MATCHES(read_cifar10({dir / "nope.bin"}), DataError,
                           MessageContains({dir / "nope.bin", "no such file"}));
    REQUIRE_THROWS_MATCHES(read_cifar10({dir.path().string()}), DataError,
                           MessageContains({"is a folder"}));
    REQUIRE_THROWS_AS(read_cifar10({}), ConfigError);
  }
}
