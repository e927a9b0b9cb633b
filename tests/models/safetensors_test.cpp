#include "models/safetensors.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/remove_tree.h"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using rampart::ModelRejected;
using rampart::models::parse_safetensors;
using rampart::models::SafetensorsFile;
using rampart::models::save_safetensors;
using rampart::models::serialize_safetensors;

namespace {

using Named = std::vector<std::pair<std::string, at::Tensor>>;

std::string le64(std::uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

std::string file_with(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  std::uint64_t begin, std::uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// The ModelRejected message for `bytes`; fails the test when parsing succeeds (any other
// exception type escapes and fails the test too).
std::string rejection(const std::string& bytes) {
  try {
    parse_safetensors(bytes, "m.safetensors");
  } catch (const ModelRejected& e) {
    return e.what();
  }
  FAIL("parse_safetensors accepted a malformed file");
  return {};
}

void check_rejected(const std::string& bytes, const std::string& phrase) {
  const std::string message = rejection(bytes);
  INFO("message: " << message);
  CHECK_THAT(message, StartsWith("m.safetensors: "));
  CHECK_THAT(message, Contains(phrase));
}

bool same_bytes(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.contiguous();
  const at::Tensor cb = b.contiguous();
  const auto n = static_cast<std::size_t>(ca.numel()) * ca.element_size();
  return n == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), n) == 0;
}

// Several tensors of every supported dtype, a 0-d scalar, empty tensors and special floats.
Named sample_tensors() {
  at::manual_seed(7);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  Named t;
  t.emplace_back("f64", at::randn({3, 4}, f32.dtype(at::kDouble)));
  at::Tensor special = at::randn({8}, f32);
  special[0] = std::numeric_limits<float>::quiet_NaN();
  special[1] = std::numeric_limits<float>::infinity();
  special[2] = -std::numeric_limits<float>::infinity();
  special[3] = -0.0f;
  special[4] = std::numeric_limits<float>::denorm_min();
  t.emplace_back("f32.special", special);
  t.emplace_back("f32.transposed", at::randn({3, 5}, f32).t());  // non-contiguous input
  t.emplace_back("f16", at::randn({2, 3, 2}, f32).to(at::kHalf));
  t.emplace_back("bf16", at::randn({5}, f32).to(at::kBFloat16));
  t.emplace_back("i64",
                 at::randint(-1'000'000'000'000LL, 1'000'000'000'000LL, {6}, f32.dtype(at::kLong)));
  t.emplace_back("i32", at::randint(-100000, 100000, {2, 2}, f32.dtype(at::kInt)));
  t.emplace_back("i16", at::randint(-30000, 30000, {7}, f32.dtype(at::kShort)));
  t.emplace_back("i8", at::randint(-128, 128, {3}, f32.dtype(at::kChar)));
  t.emplace_back("u8", at::randint(0, 256, {9}, f32.dtype(at::kByte)));
  t.emplace_back("bool", at::randint(0, 2, {4, 2}, f32.dtype(at::kLong)).to(at::kBool));
  t.emplace_back("scalar", at::scalar_tensor(3.5, f32.dtype(at::kDouble)));
  t.emplace_back("empty", at::empty({0}, f32));
  t.emplace_back("empty.2d", at::empty({3, 0}, f32.dtype(at::kShort)));
  t.emplace_back("layer.0.weight", at::randn({4, 3}, f32));
  return t;
}

std::uint64_t header_length(const std::string& bytes) {
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) {
    n |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return n;
}

}  // namespace

TEST_CASE("safetensors round trip is bit-exact for every dtype", "[safetensors]") {
  const Named tensors = sample_tensors();
  const std::string bytes = serialize_safetensors(tensors);
  const SafetensorsFile file = parse_safetensors(bytes, "rt.safetensors");

  REQUIRE(file.tensors.size() == tensors.size());
  CHECK(file.metadata.empty());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    INFO("tensor " << tensors[i].first);
    CHECK(file.tensors[i].first == tensors[i].first);  // written and read in the given order
    CHECK(same_bytes(file.tensors[i].second, tensors[i].second));
    CHECK(file.tensors[i].second.is_contiguous());
    CHECK(file.tensors[i].second.device().is_cpu());
  }
  const at::Tensor* scalar = file.find("scalar");
  REQUIRE(scalar != nullptr);
  CHECK(scalar->dim() == 0);
  CHECK(scalar->item<double>() == 3.5);
  CHECK(file.find("empty")->sizes() == at::IntArrayRef{0});
  CHECK(std::isnan(file.find("f32.special")->data_ptr<float>()[0]));
  CHECK(std::signbit(file.find("f32.special")->data_ptr<float>()[3]));
  CHECK(file.find("missing") == nullptr);
}

TEST_CASE("safetensors parsed tensors own their data", "[safetensors]") {
  std::string bytes = serialize_safetensors({{"x", at::ones({4})}});
  const SafetensorsFile file = parse_safetensors(bytes, "own.safetensors");
  std::fill(bytes.begin() + 8, bytes.end(), '\0');  // clobber the source buffer
  CHECK(file.find("x")->sum().item<float>() == 4.0f);
}

TEST_CASE("safetensors metadata round trip and aligned header", "[safetensors]") {
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"epoch", "12"}, {"note", "quote \" and unicode \xc3\xa9"}, {"", ""}};
  for (int extra = 0; extra < 9; ++extra) {  // vary the header length across all paddings
    const std::string name(static_cast<std::size_t>(extra) + 1, 'w');
    const std::string bytes = serialize_safetensors({{name, at::arange(3)}}, metadata);
    const std::uint64_t n = header_length(bytes);
    INFO("header length " << n);
    CHECK((8 + n) % 8 == 0);
    CHECK(bytes.size() == 8 + n + 3 * 8);
    const SafetensorsFile file = parse_safetensors(bytes, "meta.safetensors");
    CHECK(file.metadata == metadata);
    CHECK(at::equal(*file.find(name), at::arange(3)));
  }
}

TEST_CASE("safetensors writer lays tensors out in the given order", "[safetensors]") {
  const std::string bytes =
      serialize_safetensors({{"z", at::zeros({2})}, {"a", at::zeros({3}, at::kDouble)}});
  const auto header = nlohmann::json::parse(bytes.substr(8, header_length(bytes)));
  CHECK(header["z"]["dtype"] == "F32");
  CHECK(header["z"]["data_offsets"] == nlohmann::json::array({0, 8}));
  CHECK(header["a"]["dtype"] == "F64");
  CHECK(header["a"]["shape"] == nlohmann::json::array({3}));
  CHECK(header["a"]["data_offsets"] == nlohmann::json::array({8, 32}));
  CHECK_FALSE(header.contains("__metadata__"));
}

TEST_CASE("safetensors reader matches hand-written bytes", "[safetensors]") {
  SECTION("one F32 tensor") {
    const std::string header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);  // 1.0f, -2.0f
    const SafetensorsFile f = parse_safetensors(file_with(header, data), "hand.safetensors");
    REQUIRE(f.tensors.size() == 1);
    const at::Tensor& x = f.tensors[0].second;
    CHECK(x.scalar_type() == at::kFloat);
    CHECK(x.sizes() == at::IntArrayRef{2});
    CHECK(x.data_ptr<float>()[0] == 1.0f);
    CHECK(x.data_ptr<float>()[1] == -2.0f);
  }
  SECTION("header order differs from buffer order, metadata, padding, several dtypes") {
    const std::string header =
        "{\"__metadata__\":{\"format\":\"pt\"}," + entry("b", "I16", "[2,2]", 2, 10) + "," +
        entry("e", "F64", "[0,4]", 10, 10) + "," + entry("a", "BOOL", "[2]", 0, 2) + "," +
        entry("s", "BF16", "[]", 10, 12) + "}    ";
    std::string data;
    data += std::string("\x01\x00", 2);                          // a = {true, false}
    data += std::string("\x01\x00\xff\xff\x00\x80\xff\x7f", 8);  // b = {1, -1, -32768, 32767}
    data += std::string("\xc0\x3f", 2);                          // s = bf16 1.5
    const SafetensorsFile f = parse_safetensors(file_with(header, data), "hand.safetensors");
    REQUIRE(f.tensors.size() == 4);
    CHECK(f.tensors[0].first == "a");  // buffer order; the empty tensor sorts before "s"
    CHECK(f.tensors[1].first == "b");
    CHECK(f.tensors[2].first == "e");
    CHECK(f.tensors[3].first == "s");
    CHECK(f.metadata.at("format") == "pt");
    const at::Tensor& b = *f.find("b");
    CHECK(b.sizes() == at::IntArrayRef{2, 2});
    CHECK(at::equal(b, at::tensor(std::vector<int16_t>{1, -1, -32768, 32767}).view({2, 2})));
    CHECK(f.find("a")->data_ptr<bool>()[0]);
    CHECK_FALSE(f.find("a")->data_ptr<bool>()[1]);
    CHECK(f.find("e")->sizes() == at::IntArrayRef{0, 4});
    CHECK(f.find("s")->dim() == 0);
    CHECK(f.find("s")->to(at::kFloat).item<float>() == 1.5f);
  }
  SECTION("no tensors at all") {
    const SafetensorsFile f = parse_safetensors(file_with("{}      "), "empty.safetensors");
    CHECK(f.tensors.empty());
    CHECK(f.metadata.empty());
  }
}

TEST_CASE("safetensors rejects a bad length prefix", "[safetensors]") {
  check_rejected("", "shorter than the 8-byte");
  check_rejected(std::string("\x02\x00\x00", 3), "3 bytes long");
  check_rejected(le64(100'000'001) + "{}",
                 "header length 100000001 exceeds the limit of 100000000");
  check_rejected(le64(std::numeric_limits<std::uint64_t>::max()) + "{}", "exceeds the limit");
  check_rejected(le64(100) + "{\"x\":1}", "header length 100 exceeds the 7 bytes");
}

TEST_CASE("safetensors rejects a malformed header", "[safetensors]") {
  check_rejected(file_with("{\"a\":"), "not valid JSON");
  check_rejected(file_with("{\"a\":{}} x"), "not valid JSON");
  check_rejected(file_with("[1, 2]"), "not a JSON object");
  check_rejected(file_with(" {}"), "must start with '{'");
  check_rejected(file_with(""), "is empty");
  check_rejected(
      file_with("{" + entry("a", "U8", "[1]", 0, 1) + "," + entry("a", "U8", "[1]", 1, 2) + "}",
                "xy"),
      "duplicate key 'a'");
  check_rejected(file_with("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],"
                           "\"data_offsets\":[0,1]}}",
                           "x"),
                 "duplicate key 'dtype'");
  check_rejected(file_with("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"), "duplicate key 'k'");
  std::string many_keys = "{\"__metadata__\":{";
  for (std::size_t i = 0; i <= rampart::models::kSafetensorsMaxTensors + 1; ++i) {
    many_keys += (i ? ",\"" : "\"") + std::to_string(i) + "\":\"\"";
  }
  check_rejected(file_with(many_keys + "}}"), "an object of more than 131073 keys");
  check_rejected(file_with("{\"\xff\":1}"), "UTF-8");
  check_rejected(file_with("{\"a\":" + std::string(40, '[') + std::string(40, ']') + "}"),
                 "nested more than");
  check_rejected(
      file_with("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}} // c", "x"),
      "not valid JSON");
}

TEST_CASE("safetensors rejects malformed tensor entries", "[safetensors]") {
  const std::string eight(8, '\0');
  check_rejected(
      file_with("{" + entry("fc.weight", "F32", "[5,6]", 0, 100) + "}", std::string(100, '\0')),
      "m.safetensors: tensor 'fc.weight' has data_offsets [0, 100] but dtype F32 and "
      "shape [5, 6] need 120 bytes");
  check_rejected(file_with("{" + entry("x", "F128", "[1]", 0, 8) + "}", eight),
                 "unknown dtype 'F128'");
  check_rejected(file_with("{" + entry("x", "U32", "[2]", 0, 8) + "}", eight), "does not support");
  check_rejected(file_with("{" + entry("x", "U8", "[-1]", 0, 8) + "}", eight),
                 "shape[0] is negative");
  check_rejected(file_with("{" + entry("x", "U8", "[2,1.5]", 0, 8) + "}", eight),
                 "shape[1] must be a non-negative integer");
  check_rejected(file_with("{" + entry("x", "U8", "[\"8\"]", 0, 8) + "}", eight),
                 "non-negative integer");
  check_rejected(file_with("{" + entry("x", "U8", "8", 0, 8) + "}", eight), "not an array");
  check_rejected(file_with("{" + entry("x", "U8", "[8]", 8, 0) + "}", eight),
                 "begin is after its end");
  check_rejected(
      file_with("{" + entry("x", "U8", "[8]", 0, 8) + "," + entry("", "U8", "[0]", 8, 8) + "}",
                eight),
      "empty name");
  check_rejected(
      file_with("{" + entry("x", "F64", "[4294967296,4294967296,4294967296]", 0, 8) + "}", eight),
      "overflows");
  check_rejected(file_with("{\"x\":{\"dtype\":\"U8\",\"shape\":[8]}}", eight),
                 "lacks the \"data_offsets\"");
  check_rejected(
      file_with("{\"x\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8],\"y\":1}}", eight),
      "unexpected field 'y'");
  check_rejected(file_with("{\"x\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0]}}", eight),
                 "data_offsets must be an array [begin, end]");
  check_rejected(file_with("{\"x\":[1,2]}", eight), "not an object");
  check_rejected(file_with("{\"x\":{\"dtype\":8,\"shape\":[8],\"data_offsets\":[0,8]}}", eight),
                 "not a string");
  check_rejected(
      file_with("{" + entry("x", "U8", "[" + std::string(129, '1') + "]", 0, 1) + "}", "x"),
      "non-negative integer");  // a 129-digit number is no integer nlohmann can hold
  std::string many_dims = "[";
  for (int i = 0; i < 65; ++i) many_dims += (i ? ",1" : "1");
  // Refused by the strictness pass, before the full parse holds the array (a 100 MB header of
  // one shape of 50 million zeros cost over a gigabyte before its rejection).
  check_rejected(file_with("{" + entry("x", "U8", many_dims + "]", 0, 1) + "}", "x"),
                 "array of more than 64 values (a shape has at most 64 dimensions)");
  check_rejected(file_with("{" + entry("x", "BOOL", "[2]", 0, 2) + "}", std::string("\x01\x02", 2)),
                 "BOOL holds byte value 2");
  check_rejected(file_with("{" + entry("x\\u001b[31m", "F128", "[1]", 0, 8) + "}", eight),
                 "tensor 'x\\x1b[31m' has unknown dtype");  // escapes reach the message inert
}

TEST_CASE("safetensors rejects offsets that do not tile the data", "[safetensors]") {
  const std::string a = entry("a", "F32", "[2]", 0, 8);
  check_rejected(
      file_with("{" + a + "," + entry("b", "F32", "[2]", 4, 12) + "}", std::string(12, '\0')),
      "tensors 'a' [0, 8] and 'b' [4, 12] overlap");
  check_rejected(
      file_with("{" + a + "," + entry("b", "F32", "[2]", 12, 20) + "}", std::string(20, '\0')),
      "gap of 4 bytes between tensor 'a' (ends at 8) and tensor 'b' (begins at 12)");
  check_rejected(file_with("{" + entry("a", "F32", "[2]", 4, 12) + "}", std::string(12, '\0')),
                 "begins at byte 4");
  check_rejected(file_with("{" + a + "}", std::string(4, '\0')),
                 "truncated: tensor 'a' ends at byte 8 but the file holds 4 bytes of data");
  check_rejected(file_with("{" + a + "}", std::string(12, '\0')),
                 "4 bytes after the last tensor 'a'");
  check_rejected(file_with("{}", "abc"), "declares no tensors but 3 bytes");
  check_rejected(file_with("{" + entry("a", "F32", "[4611686018427387904]", 0, 0) + "}"),
                 "overflows");
  check_rejected(file_with("{" + entry("a", "U8", "[0,4611686018427387904,4]", 0, 0) + "}"),
                 "overflows");
  check_rejected(file_with("{" + entry("a", "U8", "[0,9223372036854775808]", 0, 0) + "}"),
                 "too large");
  const SafetensorsFile empty_big = parse_safetensors(
      file_with("{" + entry("a", "U8", "[0,4611686018427387904]", 0, 0) + "}"), "m");
  CHECK(empty_big.find("a")->numel() == 0);
}

TEST_CASE("safetensors rejects malformed metadata", "[safetensors]") {
  check_rejected(file_with("{\"__metadata__\":{\"k\":1}}"),
                 "\"__metadata__\" value for key 'k' must be a string but is a number");
  check_rejected(file_with("{\"__metadata__\":{\"k\":null}}"), "must be a string");
  check_rejected(file_with("{\"__metadata__\":[\"k\"]}"), "\"__metadata__\" must be an object");
}

TEST_CASE("safetensors writer rejects bad input", "[safetensors]") {
  const at::Tensor x = at::zeros({2});
  CHECK_THROWS_AS(serialize_safetensors({{"a", x}, {"a", x}}), std::invalid_argument);
  CHECK_THROWS_AS(serialize_safetensors({{"", x}}), std::invalid_argument);
  CHECK_THROWS_AS(serialize_safetensors({{"__metadata__", x}}), std::invalid_argument);
  CHECK_THROWS_AS(serialize_safetensors({{"u", at::Tensor()}}), std::invalid_argument);
  CHECK_THROWS_AS(serialize_safetensors({{"c", at::zeros({2}, at::kComplexFloat)}}),
                  std::invalid_argument);
  CHECK_THROWS_WITH(serialize_safetensors({{"a", x}, {"a", x}}),
                    Contains("duplicate tensor name 'a'"));
}

TEST_CASE("safetensors save writes a file that parses back", "[safetensors]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() /
                       ("rampart_safetensors_test_" + std::to_string(std::random_device{}()));
  const std::string path = (dir / "sub" / "ckpt.safetensors").string();
  const Named tensors = {{"w", at::arange(6, at::kFloat).view({2, 3})},
                         {"step", at::scalar_tensor(4, at::kLong)}};
  save_safetensors(path, tensors, {{"epoch", "3"}});
  const std::string bytes = rampart::core::read_file(path);
  rampart::core::remove_tree(dir);
  CHECK(bytes == serialize_safetensors(tensors, {{"epoch", "3"}}));
  const SafetensorsFile f = parse_safetensors(bytes, path);
  CHECK(at::equal(*f.find("w"), tensors[0].second));
  CHECK(f.find("step")->item<int64_t>() == 4);
  CHECK(f.metadata.at("epoch") == "3");
}

TEST_CASE("safetensors reader survives random corruption", "[safetensors]") {
  const std::string valid = serialize_safetensors({{"a", at::arange(3, at::kFloat)},
                                                   {"b.mask", at::ones({2, 2}, at::kBool)},
                                                   {"c", at::arange(4, at::kShort)},
                                                   {"d", at::empty({0}, at::kDouble)}},
                                                  {{"k", "v"}});
  const std::size_t header_end = 8 + header_length(valid);
  std::mt19937 rng(1234);
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  const std::string alphabet = "{}[]\",:0123456789-.eE \\u";
  int accepted = 0;
  int rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = valid;
    const int edits = 1 + static_cast<int>(pick(3));
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const std::size_t kind = pick(6);
      // Most edits land in the header, where the parser does its work.
      const std::size_t pos =
          kind < 4 ? pick(std::min(bytes.size(), header_end)) : pick(bytes.size());
      if (kind == 0) bytes[pos] = static_cast<char>(bytes[pos] ^ (1 << pick(8)));
      if (kind == 1) bytes[pos] = alphabet[pick(alphabet.size())];
      if (kind == 2) bytes.erase(pos, 1);
      if (kind == 3) bytes.insert(pos, 1, alphabet[pick(alphabet.size())]);
      if (kind == 4) bytes.resize(pos);
      if (kind == 5) bytes[pos] = static_cast<char>(pick(256));
    }
    try {
      const SafetensorsFile f = parse_safetensors(bytes, "fuzz.safetensors");
      std::size_t total = 0;
      for (const auto& [name, t] : f.tensors)
        total += static_cast<std::size_t>(t.numel()) * t.element_size();
      CHECK(total + 8 + header_length(bytes) == bytes.size());
      ++accepted;
    } catch (const ModelRejected& e) {
      CHECK_THAT(std::string(e.what()), StartsWith("fuzz.safetensors: "));
      ++rejected;
    }
  }
  CHECK(rejected > 1000);
  CHECK(accepted > 0);
}
