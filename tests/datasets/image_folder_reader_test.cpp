#include "datasets/image_folder_reader.h"

#include <ATen/ATen.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/remove_tree.h"
#include "test_util.h"

using namespace rampart;
using namespace rampart::datasets;
using fixtures::Bytes;
using fixtures::MessageContains;

#ifdef RAMPART_HAVE_OPENCV

namespace {

// Value of channel c (0 = R, 1 = G, 2 = B) at (y, x) of image `id`.
unsigned char value(int id, int c, int y, int x) {
  return static_cast<unsigned char>((id * 50 + c * 80 + y * 9 + x * 5) % 256);
}

/// A binary PPM (P6, RGB) or PGM (P5, gray) image, written byte by byte.
void write_pnm(const std::string& path, int id, int h, int w, int channels) {
  Bytes b;
  fixtures::append(b, (channels == 3 ? "P6\n" : "P5\n") + std::to_string(w) + " " +
                          std::to_string(h) + "\n255\n");
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) b.push_back(value(id, c, y, x));
  fixtures::write_bytes(path, b);
}

void append_chunk(Bytes& png, const char* type, const Bytes& data) {
  fixtures::append_be32(png, static_cast<uint32_t>(data.size()));
  Bytes body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  fixtures::append_be32(
      png, static_cast<uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size()))));
}

/// An 8-bit RGB PNG, written with zlib (no filter on any row).
void write_png(const std::string& path, int id, int h, int w) {
  Bytes raw;
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) raw.push_back(value(id, c, y, x));
  }
  uLongf len = compressBound(static_cast<uLong>(raw.size()));
  Bytes z(len);
  REQUIRE(compress(z.data(), &len, raw.data(), static_cast<uLong>(raw.size())) == Z_OK);
  z.resize(len);
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  Bytes ihdr;
  fixtures::append_be32(ihdr, static_cast<uint32_t>(w));
  fixtures::append_be32(ihdr, static_cast<uint32_t>(h));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  append_chunk(png, "IHDR", ihdr);
  append_chunk(png, "IDAT", z);
  append_chunk(png, "IEND", {});
  fixtures::write_bytes(path, png);
}

void check_image(const at::Tensor& img, int id, int channels) {
  REQUIRE(img.size(0) == channels);
  const at::Tensor c = img.contiguous();
  const float* p = c.data_ptr<float>();
  const int64_t h = img.size(1), w = img.size(2);
  for (int ch = 0; ch < channels; ++ch)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        REQUIRE(p[(ch * h + y) * w + x] == static_cast<float>(value(id, ch, y, x)) / 255.0f);
}

}  // namespace

TEST_CASE("read_image_folder reads classes in sorted order, RGB, exact values", "[image_folder]") {
  REQUIRE(image_folder_available());
  fixtures::TempDir dir;
  const std::string root = dir / "root";
  write_pnm(root + "/b_dog/2.ppm", 3, 4, 6, 3);
  write_pnm(root + "/b_dog/1.PPM", 2, 4, 6, 3);  // extension case does not matter
  write_png(root + "/a_cat/x.png", 1, 4, 6);
  fixtures::write_text(root + "/a_cat/notes.txt", "not an image");
  fixtures::write_text(root + "/README.md", "ignored");
  write_pnm(root + "/a_cat/.hidden.ppm", 9, 4, 6, 3);
  write_pnm(root + "/.cache/0.ppm", 9, 4, 6, 3);

  const Dataset d = read_image_folder(root);
  REQUIRE(d.class_names == std::vector<std::string>{"a_cat", "b_dog"});
  REQUIRE(d.num_classes == 2);
  REQUIRE(d.source == root);
  REQUIRE(d.images.sizes() == at::IntArrayRef({3, 3, 4, 6}));
  REQUIRE(d.images.is_contiguous());
  REQUIRE(at::equal(d.labels, at::tensor({0, 1, 1}, at::kLong)));
  check_image(d.images[0], 1, 3);  // x.png
  check_image(d.images[1], 2, 3);  // 1.PPM sorts before 2.ppm
  check_image(d.images[2], 3, 3);

  // num_classes larger than the folder count is kept (the model decides the label space).
  REQUIRE(read_image_folder(root, ImageFolderOptions().num_classes(10)).num_classes == 10);
}

TEST_CASE("read_image_folder reads grayscale and resizes", "[image_folder]") {
  fixtures::TempDir dir;
  const std::string root = dir / "root";
  write_pnm(root + "/0/a.pgm", 1, 5, 7, 1);
  write_pnm(root + "/1/b.pgm", 2, 5, 7, 1);
  const Dataset gray = read_image_folder(root, ImageFolderOptions().channels(1));
  REQUIRE(gray.images.sizes() == at::IntArrayRef({2, 1, 5, 7}));
  check_image(gray.images[1], 2, 1);

  // A gray image read with channels = 3 has three equal channels.
  const Dataset rgb = read_image_folder(root);
  REQUIRE(rgb.images.sizes() == at::IntArrayRef({2, 3, 5, 7}));
  REQUIRE(at::equal(rgb.images[0][0], gray.images[0][0]));
  REQUIRE(at::equal(rgb.images[0][2], gray.images[0][0]));

  // Different sizes are resized when height and width are set; INTER_AREA keeps a flat image flat.
  Bytes flat;
  fixtures::append(flat, "P5\n8 6\n255\n");
  flat.resize(flat.size() + 48, 200);
  fixtures::write_bytes(root + "/1/c.pgm", flat);
  const Dataset resized =
      read_image_folder(root, ImageFolderOptions().channels(1).height(3).width(4));
  REQUIRE(resized.images.sizes() == at::IntArrayRef({3, 1, 3, 4}));
  REQUIRE(at::equal(resized.images[2], at::full({1, 3, 4}, 200.0f / 255.0f)));
}

TEST_CASE("read_image_folder rejects bad folders and images", "[image_folder]") {
  fixtures::TempDir dir;
  const std::string root = dir / "root";

  REQUIRE_THROWS_MATCHES(read_image_folder(root), DataError,
                         MessageContains({root, "no such folder"}));
  fixtures::write_text(dir / "file", "x");
  REQUIRE_THROWS_MATCHES(read_image_folder(dir / "file"), DataError,
                         MessageContains({dir / "file", "is not a folder"}));
  std::filesystem::create_directories(root);
  fixtures::write_text(root + "/loose.png", "x");
  REQUIRE_THROWS_MATCHES(read_image_folder(root), DataError,
                         MessageContains({root, "no class subfolders"}));

  std::filesystem::create_directories(root + "/empty");
  write_pnm(root + "/full/a.ppm", 1, 4, 4, 3);
  fixtures::write_text(root + "/empty/readme.txt", "no images here");
  REQUIRE_THROWS_MATCHES(read_image_folder(root), DataError,
                         MessageContains({root + "/empty", "holds no images"}));

  rampart::core::remove_tree(root + "/empty");
  write_pnm(root + "/full/b.ppm", 2, 5, 4, 3);
  REQUIRE_THROWS_MATCHES(
      read_image_folder(root), DataError,
      MessageContains({root + "/full/b.ppm", "5x4 (HxW)", root + "/full/a.ppm", "4x4 (HxW)"}));
  REQUIRE(read_image_folder(root, ImageFolderOptions().height(4).width(4)).size() == 2);

  fixtures::write_text(root + "/full/c.png", "garbage, not a PNG at all");
  REQUIRE_THROWS_MATCHES(read_image_folder(root, ImageFolderOptions().height(4).width(4)),
                         DataError, MessageContains({root + "/full/c.png", "cannot decode"}));
  std::filesystem::remove(root + "/full/c.png");

  write_pnm(root + "/other/a.ppm", 1, 4, 4, 3);
  write_pnm(root + "/third/a.ppm", 1, 4, 4, 3);
  REQUIRE_THROWS_MATCHES(
      read_image_folder(root, ImageFolderOptions().height(4).width(4).num_classes(2)), DataError,
      MessageContains({root, "found 3 class folders", "num_classes is 2"}));
}

TEST_CASE("ImageFolderOptions are validated", "[image_folder]") {
  REQUIRE_NOTHROW(validate(ImageFolderOptions()));
  REQUIRE_THROWS_MATCHES(validate(ImageFolderOptions().channels(2)), ConfigError,
                         MessageContains({"channels must be 1 or 3"}));
  REQUIRE_THROWS_MATCHES(validate(ImageFolderOptions().height(32)), ConfigError,
                         MessageContains({"height and width"}));
  REQUIRE_THROWS_MATCHES(validate(ImageFolderOptions().height(-1).width(-1)), ConfigError,
                         MessageContains({"height and width"}));
  REQUIRE_THROWS_AS(validate(ImageFolderOptions().num_classes(-1)), ConfigError);
}

#else

TEST_CASE("read_image_folder says this build has no OpenCV", "[image_folder]") {
  REQUIRE_FALSE(image_folder_available());
  REQUIRE_THROWS_MATCHES(read_image_folder("/tmp/anything"), ConfigError,
                         MessageContains({"image_folder", "no OpenCV"}));
}

#endif
