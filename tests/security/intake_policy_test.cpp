// Integrity and policy of the model intake: pins, the allowlist file, signatures, unpinned
// files (rejected unless the policy allows them), the `security:` config section, and the
// operator deny-list it extends.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>

#include "core/remove_tree.h"
#include "core/config_node.h"
#include "core/error.h"
#include "models/model_spec.h"
#include "models/torchscript_loader.h"
#include "security/allowlist.h"
#include "security/libtorch_policy.h"
#include "security/sandbox_probe.h"
#include "security/model_intake.h"
#include "security/security_config.h"
#include "security/torchscript_inspection.h"
#include "support/test_support.h"
#include "zip_builder.h"

using namespace rampart;

namespace {

std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("allowlist: sha256sum's format, comments, and one error per bad line",
          "[security][allowlist]") {
  const std::string dir = test::make_temp_dir("allowlist");
  const std::string a(64, 'a'), b = std::string(63, 'B') + "0";
  test::write_bytes(dir + "/pins", "# pinned models\n\n" + a + "  models/a.pt\n" + b +
                                       " *b.pt\r\n  " + std::string(64, 'c') + "\n");
  const security::Allowlist list = security::read_allowlist(dir + "/pins");
  CHECK(list.sha256.size() == 3);
  CHECK(list.contains(a));
  CHECK(list.contains(std::string(63, 'b') + "0"));  // matched lower-case
  CHECK_FALSE(list.contains(std::string(64, 'd')));

  const std::vector<std::pair<std::string, std::string>> bad{
      {a + "\n" + std::string(63, 'a') + "  short.pt\n", ":2: not a SHA-256 line"},
      {std::string(65, 'a') + "\n", ":1: not a SHA-256 line"},
      {std::string(63, 'a') + "g  x.pt\n", ":1: not a SHA-256 line"},
      {"sha256:" + a + "\n", ":1: not a SHA-256 line"}};
  for (const auto& [text, error] : bad) {
    INFO(text);
    test::write_bytes(dir + "/bad", text);
    CHECK_THROWS_AS(security::read_allowlist(dir + "/bad"), ConfigError);
    CHECK_THAT(what_of([&] { security::read_allowlist(dir + "/bad"); }),
               Catch::StartsWith(dir + "/bad" + error));
  }
  CHECK_THROWS_AS(security::read_allowlist(dir + "/absent"), DataError);
  rampart::core::remove_tree(dir);
}

TEST_CASE("intake: a file is accepted when a pin, the allowlist or its own run vouches for it",
          "[security][pin]") {
  const std::string dir = test::make_temp_dir("intake-pin");
  test::write_bytes(dir + "/m.bin", "model bytes");
  const std::string path = dir + "/m.bin";
  const std::string hash = security::sha256_hex("model bytes");

  // Unpinned by default: rejected, and the message gives the hash and the three ways out.
  security::IntakeOptions none;
  CHECK_THROWS_AS(security::read_model_file(path, none), ModelRejected);
  CHECK(what_of([&] { security::read_model_file(path, none); }) ==
        path + ": model file is not pinned (its SHA-256 is " + hash +
            "); pin it with 'sha256: " + hash +
            "', sign it, or accept it unpinned with security.allow_unpinned: true "
            "(--allow-unpinned)");

  security::IntakeOptions allowed;
  allowed.policy.allow_unpinned = true;
  const auto unpinned = security::read_model_file(path, allowed);
  CHECK_FALSE(unpinned.pinned());
  CHECK(unpinned.sha256 == hash);

  security::IntakeOptions pinned;
  pinned.sha256 = hash;
  CHECK(security::read_model_file(path, pinned).verified_by ==
        std::vector<std::string>{"sha256_pin"});

  auto list = std::make_shared<security::Allowlist>();
  list->file = dir + "/pins";
  list->sha256.insert(hash);
  security::IntakeOptions listed;
  listed.policy.allowlist = list;
  CHECK(security::read_model_file(path, listed).verified_by ==
        std::vector<std::string>{"allowlist"});
  // The config's own pin wins over the allowlist: a mismatch rejects.
  listed.sha256 = std::string(64, '0');
  CHECK_THAT(what_of([&] { security::read_model_file(path, listed); }),
             Catch::Contains("but the pin is " + std::string(64, '0')));
  // An allowlist that does not list the file: the message names it.
  security::IntakeOptions other_list;
  other_list.policy.allowlist =
      std::make_shared<security::Allowlist>(security::Allowlist{dir + "/pins", {}});
  CHECK_THAT(what_of([&] { security::read_model_file(path, other_list); }),
             Catch::Contains(", add it to " + dir + "/pins,"));

  security::IntakeOptions own;
  own.own_output = true;
  CHECK(security::read_model_file(path, own).verified_by == std::vector<std::string>{"own_output"});
  rampart::core::remove_tree(dir);
}

TEST_CASE("security config: every key, its range, and the defaults", "[security][config]") {
  const std::string dir = test::make_temp_dir("security-config");
  const std::string hash(64, 'e');
  test::write_bytes(dir + "/pins", hash + "  m.pt\n");
  const auto policy = security::parse_security_config(
      core::parse_config("security:\n"
                         "  allow_unpinned: true\n"
                         "  allowlist: " +
                             dir +
                             "/pins\n"
                             "  max_model_bytes: 1048576\n"
                             "  probe: {memory_mib: 512, cpu_seconds: 5, timeout_seconds: 2.5}\n"
                             "  deny_operators: [aten::relu, prim::RaiseException]\n",
                         "eval.yaml"));
  CHECK(policy.allow_unpinned);
  REQUIRE(policy.allowlist);
  CHECK(policy.allowlist->contains(hash));
  CHECK(policy.max_model_bytes == 1048576);
  CHECK(policy.probe_options.memory_bytes == int64_t{512} << 20);
  CHECK(policy.probe_options.cpu_seconds == 5);
  CHECK(policy.probe_options.wall_seconds == 2.5);
  CHECK(policy.denied_operators == std::vector<std::string>{"aten::relu", "prim::RaiseException"});

  const auto defaults = security::parse_security_config(core::parse_config("seed: 0\n", "e.yaml"));
  CHECK_FALSE(defaults.allow_unpinned);
  CHECK_FALSE(defaults.allowlist);
  CHECK(defaults.max_model_bytes == int64_t{2} << 30);

  auto error_of = [](const std::string& yaml) {
    return what_of([&] { security::parse_security_config(core::parse_config(yaml, "e.yaml")); });
  };
  CHECK_THAT(error_of("security: {allow_unpined: true}\n"),
             Catch::StartsWith("e.yaml:1:12: security.allow_unpined: unknown key"));
  CHECK_THAT(error_of("security: {allow_unpinned: maybe}\n"), Catch::Contains("allow_unpinned"));
  CHECK_THAT(error_of("security: {max_model_bytes: 10}\n"),
             Catch::Contains("security.max_model_bytes: must be >= 1024"));
  CHECK_THAT(error_of("security: {probe: {memory_mb: 10}}\n"),
             Catch::Contains("security.probe.memory_mb: unknown key"));
  CHECK_THAT(error_of("security: {deny_operators: [from_file]}\n"),
             Catch::Contains("'from_file' is not an operator name such as aten::from_file"));
  CHECK_THAT(error_of("security: {allowlist: " + dir + "/none}\n"),
             Catch::Contains(dir + "/none: cannot open the allowlist"));
  rampart::core::remove_tree(dir);
}

TEST_CASE("security config reaches every model of an eval config, and a denied operator rejects",
          "[security][config]") {
  const std::string dir = test::make_temp_dir("security-ops");
  test::write_bytes(dir + "/model.pt", test::small_cnn_archive());
  security::ProbeOptions probe;
  probe.input_shape = {1, 1, 28, 28};
  const auto judged = security::probe_model(test::small_cnn_archive(), probe);
  REQUIRE(judged.accepted);
  const std::string used = "aten::conv2d";  // small_cnn's graph has it
  REQUIRE(std::count(judged.operators.begin(), judged.operators.end(), used) == 1);

  const auto root = core::parse_config(
      "model: {ensemble: {members: [{path: " + dir + "/model.pt}, {path: " + dir +
          "/model.pt}]}}\n"
          "security: {allow_unpinned: true, max_model_bytes: 4096, deny_operators: [" +
          used + "]}\n",
      "eval.yaml");
  models::ModelSpec spec = models::parse_model_spec(root.child("model"), false);
  models::set_intake_policy(spec, security::parse_security_config(root));
  for (const auto& member : spec.members) {
    CHECK(member.intake.policy.allow_unpinned);
    CHECK(member.intake.policy.max_model_bytes == 4096);
  }
  security::IntakeOptions intake = spec.members[0].intake;
  intake.policy.max_model_bytes = int64_t{1} << 30;
  CHECK_THAT(what_of([&] { models::load_torchscript(dir + "/model.pt", intake); }),
             Catch::Contains("rejected by the sandboxed probe: the model's graph calls " + used +
                             ", which is refused: denied by security.deny_operators"));
  intake.policy.denied_operators.clear();
  CHECK_NOTHROW(models::load_torchscript(dir + "/model.pt", intake));
  rampart::core::remove_tree(dir);
}

TEST_CASE("scan reports whether a file is pinned and rejects only a pin that does not hold",
          "[security][scan]") {
  const std::string dir = test::make_temp_dir("scan-pin");
  const std::string model = dir + "/model.pt";
  test::write_bytes(model, test::small_cnn_archive());
  const std::string hash = security::sha256_hex(test::small_cnn_archive());
  const auto plain = test::run_process({test::rampart_binary(), "scan", model});
  INFO(plain.output);
  CHECK(plain.exit_code == 0);
  CHECK_THAT(plain.output, Catch::Contains("integrity: unpinned"));
  test::write_bytes(dir + "/pins", hash + "  model.pt\n");
  const auto listed = test::run_process(
      {test::rampart_binary(), "scan", model, "--allowlist", dir + "/pins", "--json"});
  INFO(listed.output);
  CHECK(listed.exit_code == 0);
  CHECK_THAT(listed.output, Catch::Contains("\"pinned\": true") &&
                                Catch::Contains("\"verified_by\": [\n    \"allowlist\"\n  ]"));
  const auto wrong =
      test::run_process({test::rampart_binary(), "scan", model, "--sha256", std::string(64, '1')});
  CHECK(wrong.exit_code == 3);
  CHECK_THAT(wrong.output, Catch::Contains("but the pin is"));
  // A pin in capitals is the same pin (it was a mismatch, exit 3); the arguments' own mistakes
  // are usage errors (exit 2), not the model's (they were exit 3, or 4 with an empty file name).
  std::string upper = hash;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  const auto capitals = test::run_process({test::rampart_binary(), "scan", model, "--sha256", upper});
  INFO(capitals.output);
  CHECK(capitals.exit_code == 0);
  CHECK_THAT(capitals.output, Catch::Contains("integrity: pinned"));
  const std::vector<std::pair<std::vector<std::string>, std::string>> usage{
      {{"--sha256", "sha256:" + hash}, "--sha256 sha256:"},
      {{"--signature", dir + "/model.sig"}, "--signature: an Ed25519 signature needs both"},
      {{"--input", "0,28,28"}, "--input: every dimension must be >= 1"},
  };
  for (const auto& [args, expected] : usage) {
    std::vector<std::string> command{test::rampart_binary(), "scan", model};
    command.insert(command.end(), args.begin(), args.end());
    const auto result = test::run_process(command);
    INFO(result.output);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.output, Catch::Contains(expected));
  }
  // A storage record is raw tensor bytes: one that starts like a zip archive (an int32 buffer
  // holding 67324752) was rejected as a nested archive.
  auto records = test::read_zip(test::small_cnn_archive());
  bool patched = false;
  for (auto& r : records) {
    if (!patched && r.name.find("/data/") != std::string::npos && r.data.size() >= 4) {
      r.data.replace(0, 4, std::string("PK\x03\x04", 4));
      patched = true;
    }
  }
  REQUIRE(patched);
  test::write_bytes(dir + "/pk.pt", test::build_zip(records));
  const auto pk = test::run_process({test::rampart_binary(), "scan", dir + "/pk.pt"});
  INFO(pk.output);
  CHECK(pk.exit_code == 0);
  rampart::core::remove_tree(dir);
}
