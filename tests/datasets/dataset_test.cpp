#include "datasets/dataset.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "test_util.h"

using namespace rampart;
using namespace rampart::datasets;
using fixtures::MessageContains;

namespace {

Dataset counting_dataset(int64_t n) {
  Dataset d;
  d.images = at::arange(n * 4, at::kFloat).div_(n * 4).reshape({n, 1, 2, 2});
  d.labels = at::arange(n, at::kLong).remainder_(3);
  d.num_classes = 3;
  d.source = "mem";
  return d;
}

}  // namespace

TEST_CASE("Dataset::take keeps the first points and treats limit <= 0 as all", "[dataset]") {
  const Dataset d = counting_dataset(10);
  REQUIRE(d.size() == 10);
  REQUIRE(Dataset().size() == 0);

  const Dataset few = d.take(4);
  REQUIRE(few.size() == 4);
  REQUIRE(few.images.sizes() == at::IntArrayRef({4, 1, 2, 2}));
  REQUIRE(few.images.is_contiguous());
  REQUIRE(at::equal(few.images, d.images.slice(0, 0, 4)));
  REQUIRE(at::equal(few.labels, d.labels.slice(0, 0, 4)));
  REQUIRE(few.num_classes == 3);
  REQUIRE(few.source == "mem");

  REQUIRE(d.take(0).size() == 10);
  REQUIRE(d.take(-5).size() == 10);
  REQUIRE(d.take(10).size() == 10);
  REQUIRE(d.take(1000).size() == 10);
}

TEST_CASE("validate_labels names the file, index and value of the first bad label", "[dataset]") {
  REQUIRE_NOTHROW(validate_labels(at::tensor({0, 1, 9}, at::kLong), 10, "y.bin"));
  REQUIRE_NOTHROW(validate_labels(at::tensor({0, 1, 9}, at::kInt), 10, "y.bin"));

  REQUIRE_THROWS_MATCHES(validate_labels(at::tensor({0, 10, 11}, at::kLong), 10, "/d/y.bin"),
                         DataError,
                         MessageContains({"/d/y.bin", "label 10 at index 1", "[0, 10)"}));
  REQUIRE_THROWS_MATCHES(validate_labels(at::tensor({3, 2, -1}, at::kLong), 10, "y.bin"), DataError,
                         MessageContains({"y.bin", "label -1 at index 2"}));
  REQUIRE_THROWS_MATCHES(validate_labels(at::tensor({0.5}, at::kFloat), 10, "y.bin"), DataError,
                         MessageContains({"y.bin", "integers"}));
  REQUIRE_THROWS_MATCHES(validate_labels(at::tensor({0}, at::kLong), 0, "y.bin"), ConfigError,
                         MessageContains({"num_classes must be positive"}));
}
