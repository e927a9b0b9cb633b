#include "datasets/idx_reader.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/error.h"
#include "support/fixtures.h"
#include "test_util.h"

using namespace rampart;
using namespace rampart::datasets;
using fixtures::Bytes;
using fixtures::MessageContains;

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;

unsigned char pixel(int64_t i) { return static_cast<unsigned char>((i * 37 + 11) % 256); }

Bytes images_file(uint32_t n, uint32_t h, uint32_t w, uint32_t magic = kImagesMagic) {
  Bytes b;
  fixtures::append_be32(b, magic);
  fixtures::append_be32(b, n);
  fixtures::append_be32(b, h);
  fixtures::append_be32(b, w);
  for (int64_t i = 0; i < int64_t{n} * h * w; ++i) b.push_back(pixel(i));
  return b;
}

Bytes labels_file(const std::vector<unsigned char>& labels) {
  Bytes b;
  fixtures::append_be32(b, kLabelsMagic);
  fixtures::append_be32(b, static_cast<uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

void check_round_trip(const Dataset& d, const std::string& source) {
  REQUIRE(d.images.sizes() == at::IntArrayRef({3, 1, 2, 4}));
  REQUIRE(d.images.scalar_type() == at::kFloat);
  REQUIRE(d.images.is_contiguous());
  const float* px = d.images.data_ptr<float>();
  for (int64_t i = 0; i < 3 * 2 * 4; ++i) {
    REQUIRE(px[i] == static_cast<float>(pixel(i)) / 255.0f);
  }
  REQUIRE(d.labels.scalar_type() == at::kLong);
  REQUIRE(d.labels.sizes() == at::IntArrayRef({3}));
  REQUIRE(d.labels[0].item<int64_t>() == 0);
  REQUIRE(d.labels[1].item<int64_t>() == 9);
  REQUIRE(d.labels[2].item<int64_t>() == 4);
  REQUIRE(d.num_classes == 10);
  REQUIRE(d.source == source);
  REQUIRE(d.class_names.empty());
}

}  // namespace

TEST_CASE("read_idx reads raw and gzip IDX files exactly", "[idx]") {
  fixtures::TempDir dir;
  const Bytes img = images_file(3, 2, 4);
  const Bytes lab = labels_file({0, 9, 4});

  SECTION("raw") {
    fixtures::write_bytes(dir / "img", img);
    fixtures::write_bytes(dir / "lab", lab);
    check_round_trip(read_idx(dir / "img", dir / "lab"), dir / "img");
  }
  SECTION("gzip") {
    fixtures::write_gzip(dir / "img.gz", img);
    fixtures::write_gzip(dir / "lab.gz", lab);
    check_round_trip(read_idx(dir / "img.gz", dir / "lab.gz"), dir / "img.gz");
  }
  SECTION("gzip with two members, as cat a.gz b.gz makes") {
    fixtures::write_gzip(dir / "a.gz", Bytes(img.begin(), img.begin() + 20));
    fixtures::write_gzip(dir / "b.gz", Bytes(img.begin() + 20, img.end()));
    Bytes both = fixtures::read_bytes(dir / "a.gz");
    const Bytes b = fixtures::read_bytes(dir / "b.gz");
    both.insert(both.end(), b.begin(), b.end());
    fixtures::write_bytes(dir / "img.gz", both);
    fixtures::write_bytes(dir / "lab", lab);
    check_round_trip(read_idx(dir / "img.gz", dir / "lab"), dir / "img.gz");
  }
  SECTION("a smaller num_classes rejects label 9") {
    fixtures::write_bytes(dir / "img", img);
    fixtures::write_bytes(dir / "lab", lab);
    REQUIRE_THROWS_MATCHES(read_idx(dir / "img", dir / "lab", 5), DataError,
                           MessageContains({dir / "lab", "label 9 at index 1", "[0, 5)"}));
  }
}

TEST_CASE("read_idx rejects malformed headers", "[idx]") {
  fixtures::TempDir dir;
  const std::string img = dir / "img", lab = dir / "lab";
  fixtures::write_bytes(lab, labels_file({0, 1, 2}));

  auto expect_image_error = [&](const Bytes& bytes, std::initializer_list<std::string> parts) {
    fixtures::write_bytes(img, bytes);
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError, MessageContains(parts));
  };
  expect_image_error(images_file(3, 2, 4, 0x12345678), {img, "not an IDX file", "0x12345678"});
  expect_image_error(images_file(3, 2, 4, 0x00000D03), {img, "data type 0x0D", "not supported"});
  expect_image_error(images_file(3, 2, 4, 0x00000804), {img, "must have 3 dimensions", "says 4"});
  expect_image_error(labels_file({1, 2, 3}), {img, "must have 3 dimensions", "says 1"});
  expect_image_error(images_file(0, 2, 4), {img, "dimension 0 is 0"});
  expect_image_error(images_file(3, 2, 0), {img, "dimension 2 is 0"});
  expect_image_error(Bytes{0, 0, 8}, {img, "too short"});
  expect_image_error(Bytes{}, {img, "too short"});
  const Bytes good = images_file(3, 2, 4);
  expect_image_error(Bytes(good.begin(), good.begin() + 10), {img, "ends inside the IDX header"});

  // Dimensions whose product overflows 64 bits, or only exceeds the limit: rejected up front.
  Bytes huge;
  for (uint32_t v : {kImagesMagic, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu})
    fixtures::append_be32(huge, v);
  expect_image_error(huge, {img, "GiB limit"});

  REQUIRE_THROWS_MATCHES(read_idx(dir / "missing", lab), DataError,
                         MessageContains({dir / "missing", "no such file"}));
  REQUIRE_THROWS_MATCHES(read_idx(dir.path().string(), lab), DataError,
                         MessageContains({"is a folder"}));
}

TEST_CASE("read_idx rejects truncated data, trailing bytes and count mismatches", "[idx]") {
  fixtures::TempDir dir;
  const std::string img = dir / "img", lab = dir / "lab";
  const Bytes good_img = images_file(3, 2, 4);
  const Bytes good_lab = labels_file({0, 9, 4});

  SECTION("truncated images, raw and gzip") {
    fixtures::write_bytes(lab, good_lab);
    fixtures::write_bytes(img, Bytes(good_img.begin(), good_img.end() - 3));
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({img, "header says 3 images of 2x4 but the file holds 2",
                                            "3 bytes short"}));
    fixtures::write_gzip(img, Bytes(good_img.begin(), good_img.end() - 8));
    REQUIRE_THROWS_MATCHES(
        read_idx(img, lab), DataError,
        MessageContains({img, "header says 3 images", "holds 2 ", "8 bytes short"}));
  }
  SECTION("truncated labels") {
    fixtures::write_bytes(img, good_img);
    fixtures::write_bytes(lab, Bytes(good_lab.begin(), good_lab.end() - 1));
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({lab, "header says 3 labels but the file holds 2"}));
  }
  SECTION("a gzip stream cut short") {
    fixtures::write_bytes(lab, good_lab);
    fixtures::write_gzip(img, good_img);
    Bytes gz = fixtures::read_bytes(img);
    fixtures::write_bytes(img,
                          Bytes(gz.begin(), gz.end() - 10));  // loses the trailer and some data
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError, MessageContains({img, "truncated"}));
  }
  SECTION("trailing bytes, raw and gzip") {
    Bytes longer = good_lab;
    longer.push_back(7);
    fixtures::write_bytes(img, good_img);
    fixtures::write_bytes(lab, longer);
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({lab, "1 trailing byte after the 3 labels"}));
    longer.push_back(8);
    fixtures::write_gzip(lab, longer);
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({lab, "2 trailing bytes after the 3 labels"}));
  }
  SECTION("non-gzip bytes after the gzip stream") {
    fixtures::write_bytes(img, good_img);
    fixtures::write_gzip(lab, good_lab);
    Bytes gz = fixtures::read_bytes(lab);
    gz.insert(gz.end(), {'j', 'u', 'n', 'k'});
    fixtures::write_bytes(lab, gz);
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({lab, "4 bytes of data that is not gzip"}));
  }
  SECTION("image and label counts differ") {
    fixtures::write_bytes(img, good_img);
    fixtures::write_bytes(lab, labels_file({0, 1}));
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({lab, "holds 2 labels", img, "holds 3 images"}));
  }
  SECTION("label out of range") {
    fixtures::write_bytes(img, good_img);
    fixtures::write_bytes(lab, labels_file({0, 1, 10}));
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({lab, "label 10 at index 2"}));
  }
}

TEST_CASE("read_idx bounds decompression by the header (gzip bombs)", "[idx]") {
  fixtures::TempDir dir;
  const std::string img = dir / "img.gz", lab = dir / "lab";
  fixtures::write_bytes(lab, labels_file({0}));

  SECTION("huge claimed size, small stream: truncated, without allocating the claim") {
    fixtures::write_bytes(lab, labels_file(std::vector<unsigned char>(1000, 0)));
    Bytes b;
    for (uint32_t v : {kImagesMagic, 1000u, 1000u, 1000u}) fixtures::append_be32(b, v);  // 1 GB
    b.resize(b.size() + (1 << 20), 0);
    fixtures::write_gzip(img, b);
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({img, "header says 1000 images of 1000x1000"}));
  }
  // The headers are checked against each other and the model's input before any payload: a
  // 261 KB gzip declaring one 16384x16384 image took 1.7 GB before "points have shape".
  SECTION("an image size or point count that cannot be used: refused from the headers") {
    Bytes b;
    for (uint32_t v : {kImagesMagic, 1u, 4096u, 4096u}) fixtures::append_be32(b, v);  // no payload
    fixtures::write_gzip(img, b);
    REQUIRE_THROWS_MATCHES(read_idx(img, lab, 10, {1, 28, 28}), DataError,
                           MessageContains({img, "points have shape [1, 4096, 4096] but "
                                                 "model.input.shape is [1, 28, 28]"}));
    Bytes five;
    for (uint32_t v : {kImagesMagic, 5u, 2u, 2u}) fixtures::append_be32(five, v);
    fixtures::write_gzip(img, five);
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({lab, "holds 1 labels but", "holds 5 images"}));
  }
  SECTION("small claimed size, huge stream: stops counting at 64 MiB of trailing data") {
    Bytes b = images_file(1, 2, 2);
    b.resize(b.size() + (80u << 20), 0);
    fixtures::write_gzip(img, b);
    REQUIRE_THROWS_MATCHES(read_idx(img, lab), DataError,
                           MessageContains({img, "more than 67108864 trailing bytes"}));
  }
}

TEST_CASE("read_idx reads the Fashion-MNIST test set", "[idx][fashion_mnist]") {
  const std::string root = "/usr/share/datasets/fashion-mnist/";
  const std::string images = root + "t10k-images-idx3-ubyte.gz";
  const std::string labels = root + "t10k-labels-idx1-ubyte.gz";
  if (!std::filesystem::exists(images) || !std::filesystem::exists(labels)) {
    rampart::test::skip_without_fixture("Fashion-MNIST is not installed at " + root +
                                        " (Debian package dataset-fashion-mnist)");
    return;
  }
  const Dataset d = read_idx(images, labels);
  REQUIRE(d.size() == 10000);
  REQUIRE(d.images.sizes() == at::IntArrayRef({10000, 1, 28, 28}));
  REQUIRE(d.labels.min().item<int64_t>() == 0);
  REQUIRE(d.labels.max().item<int64_t>() == 9);
  REQUIRE(d.labels[0].item<int64_t>() == 9);  // ankle boot, as stored
  REQUIRE(d.labels[1].item<int64_t>() == 2);
  REQUIRE(d.images[0][0][14][12].item<float>() == 98.0f / 255.0f);
  REQUIRE(d.images.min().item<float>() == 0.0f);
  REQUIRE(d.images.max().item<float>() == 1.0f);
  // Classes are balanced: 1000 test images each.
  REQUIRE(at::equal(at::bincount(d.labels), at::full({10}, 1000, at::kLong)));
}
