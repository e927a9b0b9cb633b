#include "datasets/npy.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "test_util.h"

using namespace rampart;
using namespace rampart::datasets;
using fixtures::Bytes;
using fixtures::MessageContains;

namespace {

bool bit_equal(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(),
                     static_cast<std::size_t>(a.numel() * a.element_size())) == 0;
}

/// A .npy file with the given version, header dict text and raw data; the header is padded
/// to 64 bytes and ends in a newline, as NumPy writes it.
Bytes npy_file(int major, const std::string& dict, const Bytes& data, bool pad = true) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  if (pad) header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
  fixtures::append_le(b, header.size(), static_cast<int>(prefix - 8));
  fixtures::append(b, header);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes le_i64(std::initializer_list<int64_t> values) {
  Bytes b;
  for (int64_t v : values) fixtures::append_le(b, static_cast<uint64_t>(v), 8);
  return b;
}

}  // namespace

TEST_CASE("write_npy then read_npy round-trips every dtype bit-exactly", "[npy]") {
  fixtures::TempDir dir;
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<at::Tensor> tensors = {
      at::tensor({0.0f, -0.0f, 1.5f, -inf, inf, std::numeric_limits<float>::quiet_NaN(),
                  std::numeric_limits<float>::denorm_min(), 3.14159f})
          .reshape({2, 4}),
      at::arange(24, at::kFloat).div_(7).reshape({2, 3, 4}),
      at::arange(256, at::kInt).to(at::kByte).reshape({16, 16}),
      at::tensor({std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0},
                  std::numeric_limits<int64_t>::max()}),
      at::tensor({std::numeric_limits<int32_t>::min(), -7, 0, std::numeric_limits<int32_t>::max()}),
      at::tensor({-128, -1, 0, 127}, at::kInt).to(at::kChar),
      at::tensor({0.1, -2.5e300}, at::kDouble),
      at::scalar_tensor(2.5f, at::kFloat),  // 0-d: shape ()
      at::empty({0, 3}, at::kFloat),
      at::arange(12, at::kLong).reshape({3, 4}).t(),  // non-contiguous: written in C order
  };
  int i = 0;
  for (const at::Tensor& t : tensors) {
    const std::string path = dir / ("t" + std::to_string(i++) + ".npy");
    write_npy(path, t);
    const at::Tensor back = read_npy(path);
    INFO(path << " dtype " << t.scalar_type() << " sizes " << t.sizes());
    REQUIRE(bit_equal(back, t));
    const Bytes bytes = fixtures::read_bytes(path);
    REQUIRE((bytes.size() - static_cast<std::size_t>(t.numel() * t.element_size())) % 64 == 0);
  }
}

TEST_CASE("write_npy writes the header NumPy writes", "[npy]") {
  fixtures::TempDir dir;
  write_npy(dir / "a.npy", at::zeros({2, 3}, at::kFloat));
  const Bytes b = fixtures::read_bytes(dir / "a.npy");
  const std::string s(b.begin(), b.end());
  REQUIRE(s.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t len = b[8] | (b[9] << 8);
  REQUIRE((10 + len) % 64 == 0);
  REQUIRE(s.substr(10, len) == "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
                                   std::string(len - 60, ' ') + "\n");
  REQUIRE(b.size() == 10 + len + 24);

  write_npy(dir / "b.npy", at::zeros({5}, at::kByte));
  const Bytes c = fixtures::read_bytes(dir / "b.npy");
  const std::string u1 = "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }";
  REQUIRE(std::string(c.begin() + 10, c.begin() + 10 + static_cast<std::ptrdiff_t>(u1.size())) ==
          u1);

  REQUIRE_THROWS_MATCHES(write_npy(dir / "c.npy", at::zeros({2}, at::kBool)), ConfigError,
                         MessageContains({"c.npy", "Bool"}));
}

TEST_CASE("read_npy reads hand-written headers of versions 1.0, 2.0 and 3.0", "[npy]") {
  fixtures::TempDir dir;
  const std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
  for (int major : {1, 2, 3}) {
    const std::string path = dir / ("v" + std::to_string(major) + ".npy");
    fixtures::write_bytes(path, npy_file(major, dict, le_i64({7, -8, 1LL << 40})));
    const at::Tensor t = read_npy(path);
    REQUIRE(t.scalar_type() == at::kLong);
    REQUIRE(at::equal(t, at::tensor({int64_t{7}, int64_t{-8}, int64_t{1} << 40})));
  }
  // Other key orders, double quotes, no trailing comma, no padding, a 3-D shape.
  fixtures::write_bytes(
      dir / "x.npy",
      npy_file(1, "{\"shape\": (1, 2, 1), \"fortran_order\": False, \"descr\": \"<i4\"}",
               Bytes{1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF}, /*pad=*/false));
  REQUIRE(at::equal(read_npy(dir / "x.npy"), at::tensor({1, -2}, at::kInt).reshape({1, 2, 1})));
  // One-byte dtypes written with '<' are accepted.
  fixtures::write_bytes(
      dir / "y.npy",
      npy_file(1, "{'descr': '<u1', 'fortran_order': False, 'shape': (2,), }", Bytes{3, 250}));
  REQUIRE(at::equal(read_npy(dir / "y.npy"), at::tensor({3, 250}, at::kInt).to(at::kByte)));
}

TEST_CASE("read_npy rejects malformed files with a clear message", "[npy]") {
  fixtures::TempDir dir;
  const std::string f = dir / "bad.npy";
  const Bytes data = le_i64({1, 2, 3});
  auto expect = [&](const Bytes& bytes, std::initializer_list<std::string> parts) {
    fixtures::write_bytes(f, bytes);
    REQUIRE_THROWS_MATCHES(read_npy(f), DataError, MessageContains(parts));
  };
  auto dict = [](const std::string& descr, const std::string& fortran, const std::string& shape) {
    return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  };
  expect(npy_file(1, dict("<i8", "True", "(3,)"), data), {f, "Fortran order"});
  expect(npy_file(1, dict(">i8", "False", "(3,)"), data), {f, "'>i8'", "big-endian"});
  expect(npy_file(1, dict("<f2", "False", "(3,)"), data), {f, "'<f2' is not supported"});
  expect(npy_file(1, dict("<i8", "False", "(3,)"), le_i64({1, 2})),
         {f, "needs 24 data bytes", "holds 16", "truncated"});
  expect(npy_file(1, dict("<i8", "False", "(3,)"), le_i64({1, 2, 3, 4})),
         {f, "holds 32", "8 trailing bytes"});
  expect(npy_file(1, dict("<i8", "False", "(4294967296, 4294967296, 16)"), data),
         {f, "too many elements"});
  // Holds no data, but its strides would overflow: refused before any allocation.
  expect(npy_file(1, dict("<f4", "False", "(0, 4611686018427387904, 4)"), {}),
         {f, "too many elements"});
  expect(npy_file(1, dict("<i8", "False", "(99999999999999999999,)"), data),
         {f, "dimension too large"});
  expect(npy_file(1, dict("<i8", "False", "(3)"), data), {f, "must be written (n,)"});
  expect(npy_file(1, dict("<i8", "Nope", "(3,)"), data), {f, "expected True or False"});
  expect(npy_file(1, "{'descr': '<i8', 'shape': (3,), }", data),
         {f, "missing key 'fortran_order'"});
  expect(npy_file(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), 'extra': 1}", data),
         {f, "unexpected or repeated key 'extra'"});
  expect(
      npy_file(1, "{'descr': '<i8', 'descr': '<i8', 'fortran_order': False, 'shape': (3,)}", data),
      {f, "repeated key 'descr'"});
  expect(npy_file(1, dict("<i8", "False", "(3,)") + " x", data), {f, "after the closing"});
  expect(npy_file(1, "[1, 2]", data), {f, "malformed .npy header", "expected '{'"});
  expect(npy_file(4, dict("<i8", "False", "(3,)"), data), {f, "version 4.0 is not supported"});

  Bytes no_newline = npy_file(1, dict("<i8", "False", "(3,)"), data);
  no_newline[no_newline.size() - data.size() - 1] = ' ';
  expect(no_newline, {f, "newline"});
  Bytes bad_magic = npy_file(1, dict("<i8", "False", "(3,)"), data);
  bad_magic[1] = 'X';
  expect(bad_magic, {f, "not a .npy file"});
  Bytes long_header = npy_file(1, dict("<i8", "False", "(3,)"), {});
  long_header[8] = 0xFF;
  long_header[9] = 0xFF;
  expect(long_header, {f, "header length 65535"});
  expect(Bytes{0x93, 'N', 'U'}, {f, "too short"});
  REQUIRE_THROWS_MATCHES(read_npy(dir / "none.npy"), DataError,
                         MessageContains({dir / "none.npy", "no such file"}));
}

TEST_CASE("read_npy_dataset handles layouts, dtypes and checks its inputs", "[npy]") {
  fixtures::TempDir dir;
  const std::string x = dir / "x.npy", y = dir / "y.npy";
  const at::Tensor nchw = at::arange(2 * 3 * 4 * 5, at::kFloat).div_(200).reshape({2, 3, 4, 5});
  write_npy(y, at::tensor({1, 0}, at::kLong));

  SECTION("float32 NCHW, kept as is") {
    write_npy(x, nchw);
    const Dataset d = read_npy_dataset(x, y, 2);
    REQUIRE(bit_equal(d.images, nchw));
    REQUIRE(at::equal(d.labels, at::tensor({1, 0}, at::kLong)));
    REQUIRE(d.num_classes == 2);
    REQUIRE(d.source == x);
  }
  SECTION("uint8 NHWC detected automatically, divided by 255") {
    const at::Tensor u8 = at::arange(2 * 4 * 5 * 3, at::kInt).to(at::kByte).reshape({2, 4, 5, 3});
    write_npy(x, u8);
    const Dataset d = read_npy_dataset(x, y, 2);
    REQUIRE(d.images.sizes() == at::IntArrayRef({2, 3, 4, 5}));
    REQUIRE(d.images.is_contiguous());
    REQUIRE(bit_equal(d.images, u8.permute({0, 3, 1, 2}).to(at::kFloat).div(255.0).contiguous()));
    // Forcing NCHW keeps the stored order.
    REQUIRE(read_npy_dataset(x, y, 2, Layout::kNCHW).images.sizes() ==
            at::IntArrayRef({2, 4, 5, 3}));
  }
  SECTION("explicit NHWC and 3-D [N, H, W]") {
    write_npy(x, nchw);
    REQUIRE(read_npy_dataset(x, y, 2, Layout::kNHWC).images.sizes() ==
            at::IntArrayRef({2, 5, 3, 4}));
    write_npy(x, nchw.reshape({2, 12, 5}));
    const Dataset d = read_npy_dataset(x, y, 2);
    REQUIRE(d.images.sizes() == at::IntArrayRef({2, 1, 12, 5}));
    REQUIRE(bit_equal(d.images, nchw.reshape({2, 1, 12, 5})));
  }
  SECTION("int32 and uint8 labels") {
    write_npy(x, nchw);
    write_npy(y, at::tensor({1, 0}, at::kInt));
    REQUIRE(at::equal(read_npy_dataset(x, y, 2).labels, at::tensor({1, 0}, at::kLong)));
    write_npy(y, at::tensor({1, 0}, at::kInt).to(at::kByte));
    REQUIRE(read_npy_dataset(x, y, 2).labels.scalar_type() == at::kLong);
  }
  SECTION("errors") {
    at::Tensor bad = nchw.clone();
    bad.view({-1})[37] = 1.25f;
    write_npy(x, bad);
    REQUIRE_THROWS_MATCHES(read_npy_dataset(x, y, 2), DataError,
                           MessageContains({x, "[0, 1]", "element 37", "image 0", "1.25"}));
    bad.view({-1})[37] = std::numeric_limits<float>::quiet_NaN();
    write_npy(x, bad);
    REQUIRE_THROWS_MATCHES(read_npy_dataset(x, y, 2), DataError,
                           MessageContains({x, "element 37"}));
    write_npy(x, at::zeros({2, 3, 4, 5}, at::kLong));
    REQUIRE_THROWS_MATCHES(read_npy_dataset(x, y, 2), DataError,
                           MessageContains({x, "float32 or uint8", "Long"}));
    write_npy(x, at::zeros({2, 60}, at::kFloat));
    REQUIRE_THROWS_MATCHES(read_npy_dataset(x, y, 2), DataError, MessageContains({x, "(2, 60)"}));

    write_npy(x, nchw);
    write_npy(y, at::tensor({0, 1, 1}, at::kLong));
    REQUIRE_THROWS_MATCHES(read_npy_dataset(x, y, 2), DataError,
                           MessageContains({y, "holds 3 labels", x, "holds 2 images"}));
    write_npy(y, at::tensor({0, 2}, at::kLong));
    REQUIRE_THROWS_MATCHES(read_npy_dataset(x, y, 2), DataError,
                           MessageContains({y, "label 2 at index 1"}));
    write_npy(y, at::tensor({0.0f, 1.0f}));
    REQUIRE_THROWS_MATCHES(read_npy_dataset(x, y, 2), DataError,
                           MessageContains({y, "int64, int32 or uint8"}));
    write_npy(y, at::zeros({2, 1}, at::kLong));
    REQUIRE_THROWS_MATCHES(read_npy_dataset(x, y, 2), DataError,
                           MessageContains({y, "expected 1-D"}));
    write_npy(x, at::zeros({0, 3, 4, 5}, at::kFloat));
    REQUIRE_THROWS_MATCHES(read_npy_dataset(x, y, 2), DataError,
                           MessageContains({x, "holds no images"}));
  }
}
