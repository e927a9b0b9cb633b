#include "core/config_node.h"

#include <catch2/catch.hpp>

#include "core/error.h"
#include "support/test_support.h"

using rampart::ConfigError;
using rampart::core::parse_config;

namespace {

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("expected a ConfigError");
  return "";
}

const char* kConfig =
    "seed: 1\n"
    "data:\n"
    "  batch_size: 64\n"
    "  format: idx\n"
    "  rate: 0.5\n"
    "  files: [a.bin, b.bin]\n";

}  // namespace

TEST_CASE("typed getters read values and fall back to defaults", "[config]") {
  auto root = parse_config(kConfig, "c.yaml");
  auto data = root.child("data");
  CHECK(root.get_int("seed") == 1);
  CHECK(data.get_int("batch_size", 128, 1) == 64);
  CHECK(data.get_int("limit", 7) == 7);
  CHECK(data.get_double("rate") == Approx(0.5));
  CHECK(data.get_choice("format", {"idx", "npy"}) == "idx");
  CHECK(data.get_string_list("files") == std::vector<std::string>{"a.bin", "b.bin"});
  CHECK(data.path() == "data");
}

TEST_CASE("unknown keys are named with file:line:column", "[config]") {
  auto root = parse_config(kConfig, "c.yaml");
  const std::string msg = message_of([&] {
    root.child("data").expect_keys({"batch_size", "format", "files"});
  });
  CHECK(msg.find("c.yaml:5:3: data.rate: unknown key 'rate'") != std::string::npos);
  // A key given twice: YAML read the first and dropped the second (epochs: 1, epochs: 3 trained
  // one epoch). The second is named where it is.
  auto twice = parse_config("train:\n  epochs: 1\n  lr: 0.1\n  epochs: 3\n", "t.yaml");
  CHECK(message_of([&] { twice.child("train").expect_keys({"epochs", "lr"}); }) ==
        "t.yaml:4:3: train.epochs: 'epochs' appears twice in this mapping");
}

TEST_CASE("wrong types and out-of-range values name the key and position", "[config]") {
  auto root = parse_config("data:\n  batch_size: many\n  limit: -3\n  rate: [1]\n", "t.yaml");
  auto data = root.child("data");
  CHECK(message_of([&] { data.get_int("batch_size", 1, 1); }) ==
        "t.yaml:2:15: data.batch_size: expected an integer, got 'many'");
  CHECK(message_of([&] { data.get_int("limit", 0, 0); }) ==
        "t.yaml:3:10: data.limit: must be >= 0, got -3");
  CHECK(message_of([&] {
          data.get_double("rate");
        }).find("t.yaml:4:9: data.rate: expected a number") == 0);
  CHECK(message_of([&] {
          data.get_choice("format", {"idx"});
        }).find("missing required key 'format'") != std::string::npos);
}

TEST_CASE("command-line overrides (--set) replace values and are named as such", "[config]") {
  auto root = parse_config(kConfig, "c.yaml", {"data.batch_size=-5", "model.arch=small_cnn"});
  auto data = root.child("data");
  CHECK(root.child("model").get_string("arch") == "small_cnn");
  CHECK(message_of([&] { data.get_int("batch_size", 1, 1); }) ==
        "--set data.batch_size: must be >= 1, got -5");
  CHECK_THROWS_AS(parse_config(kConfig, "c.yaml", {"novalue"}), ConfigError);
  CHECK_THROWS_AS(parse_config(kConfig, "c.yaml", {"seed.x=1"}), ConfigError);
}

TEST_CASE("a command-line KEY= with no value is refused, KEY=null removes the key", "[config]") {
  // `--set data.exclude=$AUDIT` with AUDIT unset must not read as "no exclude".
  CHECK(message_of([] { parse_config(kConfig, "c.yaml", {"data.exclude="}); }) ==
        "--set data.exclude=: no value (write data.exclude=null to remove the key)");
  CHECK_THROWS_AS(parse_config(kConfig, "c.yaml", {"data.exclude= "}), ConfigError);
  auto root = parse_config(kConfig, "c.yaml", {"data.rate=null", "data.absent=~"});
  const auto data = root.child("data");
  CHECK(!data.has("rate"));
  CHECK(!data.has("absent"));
  data.expect_keys({"batch_size", "format", "files"});  // removed, not left as null keys
  CHECK(data.get_int("batch_size", 0) == 64);
}

TEST_CASE("expect_no_empty_values names the first empty key, or only the keys given", "[config]") {
  auto root = parse_config("data: {exclude: , limit: , format: idx}\n", "e.yaml");
  const auto data = root.child("data");
  CHECK(message_of([&] { data.expect_no_empty_values("is empty", {"exclude"}); }) ==
        "e.yaml:1:8: data.exclude: is empty");
  data.expect_no_empty_values("is empty", {"format", "missing"});  // neither is empty
  CHECK_THROWS_AS(data.expect_no_empty_values("is empty"), ConfigError);
}

TEST_CASE("YAML syntax errors and missing files are ConfigErrors with a position", "[config]") {
  const std::string msg = message_of([] { parse_config("a: [1, 2\nb: 3\n", "bad.yaml"); });
  CHECK(msg.rfind("bad.yaml:", 0) == 0);
  CHECK(msg.find("invalid YAML") != std::string::npos);
  CHECK(message_of([] { rampart::core::load_config("/nonexistent/x.yaml"); }) ==
        "/nonexistent/x.yaml: config file not found");
  rampart::ConfigError e("x");
  CHECK(e.code() == rampart::ExitCode::kUsage);
}
