// The compiled graph, judged inside the sandbox. Each hostile model here is legal TorchScript
// that libtorch loads; for each, a throwaway child that loads and runs it as a user's own
// program would (no Rampart) proves the payload real (the secret leaks into the logits, the
// canary file appears, the victim file is rewritten, the text is printed, the RNG is re-seeded),
// and then Rampart's probe refuses it, naming the operator, with no effect on the file system.
#include <torch/script.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/remove_tree.h"
#include "core/error.h"
#include "models/torchscript_loader.h"
#include "security/operator_allowlist.h"
#include "security/sandbox_probe.h"
#include "hostile_models.h"
#include "support/intake_options.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

const std::vector<int64_t> kInput{1, 1, 28, 28};

security::ProbeOptions probe_options() {
  security::ProbeOptions o;
  o.input_shape = kInput;
  o.wall_seconds = 30;
  return o;
}

// `body` is the forward's body, indented by four spaces; it must end with a return.
std::string forward_model(const std::string& body) {
  return test::scripted_archive("Hostile", "def forward(self, x: Tensor) -> Tensor:\n" + body);
}

struct Hostile {
  std::string name;
  std::string bytes;
  std::string operator_name;  // the node kind the probe must name
};

}  // namespace

TEST_CASE("graph allowlist: reading a secret through any spelling of from_file is refused",
          "[security][graph]") {
  const std::string dir = test::make_temp_dir("graph-secret");
  const std::string secret = dir + "/secret";
  test::write_bytes(secret, "SECRET!!");
  const std::string read = "(\"" + secret + "\", False, 8, dtype=0)";
  const std::string leak = ".float().sum() + x.sum() * 0.0).reshape([1, 1]).repeat([1, 10])\n";
  const std::vector<Hostile> files{
      {"plain", forward_model("    return (torch.from_file" + read + leak), "aten::from_file"},
      {"spaced", forward_model("    return (torch . from_file " + read + leak), "aten::from_file"},
      {"tab", forward_model("    return (torch.\tfrom_file" + read + leak), "aten::from_file"},
      {"parenthesised", forward_model("    return ((torch).from_file" + read + leak),
       "aten::from_file"},
      {"getattr", forward_model("    return (getattr(torch, \"from_file\")" + read + leak),
       "aten::from_file"},
      {"alias", forward_model("    f = torch.from_file\n    return (f" + read + leak),
       "aten::from_file"},
      {"in_a_helper", test::scripted_archive(
           "Hostile", "def helper(self) -> Tensor:\n    return torch.from_file" + read +
                          "\n\ndef forward(self, x: Tensor) -> Tensor:\n    return (self.helper()" +
                          leak),
       "aten::from_file"},
  };
  double secret_sum = 0;
  for (unsigned char c : std::string("SECRET!!")) secret_sum += c;
  const std::string before = test::directory_snapshot(dir);
  for (const auto& file : files) {
    INFO(file.name);
    const auto outside = test::run_unconfined(file.bytes, kInput);
    REQUIRE(outside.exit_code == 0);
    REQUIRE(outside.output.size() == 10);
    CHECK(outside.output[0] == secret_sum);  // the secret's bytes reach the logits
    const auto probe = security::probe_model(file.bytes, probe_options());
    CHECK_FALSE(probe.accepted);
    CHECK_THAT(probe.reason, Catch::Contains("the model's graph calls " + file.operator_name +
                                             ", which is refused: reads or maps a file"));
  }
  CHECK(test::directory_snapshot(dir) == before);
  rampart::core::remove_tree(dir);
}

TEST_CASE("graph allowlist: writing, rewriting a mapped file, printing and re-seeding are refused",
          "[security][graph]") {
  const std::string dir = test::make_temp_dir("graph-effects");
  const std::string canary = dir + "/CANARY", victim = dir + "/victim";
  const std::string shape = "    return x.sum().reshape([1, 1]).repeat([1, 10])\n";
  // A model whose forward calls a method with this body first: the graph walk follows calls.
  const auto via_helper = [&](const std::string& body) {
    return test::scripted_archive("Hostile", "def helper(self, x: Tensor):\n" + body +
                                                 "\ndef forward(self, x: Tensor) -> Tensor:\n"
                                                 "    self.helper(x)\n" + shape);
  };
  const std::vector<Hostile> files{
      {"save", forward_model("    torch.save(x, \"" + canary + "\")\n" + shape), "aten::save"},
      {"shared_mapping",
       forward_model("    t = torch.from_file(\"" + victim +
                     "\", True, 7, dtype=0)\n    t.fill_(65)\n"
                     "    return x.sum().reshape([1, 1]).repeat([1, 10]) + t.sum() * 0.0\n"),
       "aten::from_file"},
      {"print", forward_model("    print(\"verdict:   ACCEPTED\")\n" + shape), "prim::Print"},
      {"manual_seed", forward_model("    torch.manual_seed(1234)\n" + shape),
       "aten::manual_seed"},
      // The same effects under other spellings and in called methods: the graph is the same.
      {"save_spaced", forward_model("    torch . save (x, \"" + canary + "\")\n" + shape),
       "aten::save"},
      {"save_getattr",
       forward_model("    getattr(torch, \"save\")(x, \"" + canary + "\")\n" + shape),
       "aten::save"},
      {"save_alias", forward_model("    s = torch.save\n    s(x, \"" + canary + "\")\n" + shape),
       "aten::save"},
      {"save_in_a_helper", via_helper("    torch.save(x, \"" + canary + "\")\n"), "aten::save"},
      {"shared_mapping_in_a_helper",
       test::scripted_archive("Hostile", "def helper(self) -> Tensor:\n    t = torch.from_file(\"" +
                                             victim +
                                             "\", True, 7, dtype=0)\n    t.fill_(65)\n"
                                             "    return t.sum()\n\n"
                                             "def forward(self, x: Tensor) -> Tensor:\n"
                                             "    return x.sum().reshape([1, 1]).repeat([1, 10]) + "
                                             "self.helper() * 0.0\n"),
       "aten::from_file"},
      {"print_two_arguments",
       forward_model("    print(\"verdict:  \", \"ACCEPTED\")\n" + shape), "prim::Print"},
      {"print_in_a_helper", via_helper("    print(\"verdict:   ACCEPTED\")\n"), "prim::Print"},
      {"manual_seed_getattr",
       forward_model("    getattr(torch, \"manual_seed\")(1234)\n" + shape), "aten::manual_seed"},
      {"manual_seed_in_a_helper", via_helper("    torch.manual_seed(1234)\n"),
       "aten::manual_seed"},
  };
  const auto is = [](const Hostile& file, const std::string& family) {
    return file.name.rfind(family, 0) == 0;
  };
  for (const auto& file : files) {
    INFO(file.name);
    test::write_bytes(victim, "keep me");
    std::filesystem::remove(canary);
    const auto outside = test::run_unconfined(file.bytes, kInput);
    REQUIRE(outside.exit_code == 0);
    if (is(file, "save")) CHECK(std::filesystem::exists(canary));
    if (is(file, "shared_mapping")) {
      std::ifstream in(victim);
      CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "AAAAAAA");
    }
    if (is(file, "print")) CHECK_THAT(outside.printed, Catch::Contains("verdict:   ACCEPTED"));
    if (is(file, "manual_seed")) CHECK(outside.rng_reseeded);

    test::write_bytes(victim, "keep me");
    std::filesystem::remove(canary);
    const std::string before = test::directory_snapshot(dir);
    const auto probe = security::probe_model(file.bytes, probe_options());
    CHECK_FALSE(probe.accepted);
    CHECK_THAT(probe.reason, Catch::Contains("the model's graph calls " + file.operator_name));
    CHECK(test::directory_snapshot(dir) == before);
    // The loader refuses it too, before Rampart's own process deserializes anything.
    test::write_bytes(dir + "/model.pt", file.bytes);
    const std::string with_model = test::directory_snapshot(dir);
    CHECK_THROWS_AS(models::load_torchscript(dir + "/model.pt", test::unpinned()), ModelRejected);
    CHECK(test::directory_snapshot(dir) == with_model);
    std::filesystem::remove(dir + "/model.pt");
  }
  rampart::core::remove_tree(dir);
}

TEST_CASE("graph allowlist: __setstate__ runs at load, inside the sandbox, and gets nowhere",
          "[security][graph][sandbox]") {
  const std::string dir = test::make_temp_dir("graph-setstate");
  const std::string canary = dir + "/CANARY", victim = dir + "/victim", secret = dir + "/secret";
  const std::string state_methods =
      "def __getstate__(self) -> Tuple[Tensor, bool]:\n"
      "    return (self.state, self.training)\n\n"
      "def forward(self, x: Tensor) -> Tensor:\n"
      "    return (self.state.sum() + x.sum() * 0.0).reshape([1, 1]).repeat([1, 10])\n\n"
      "def __setstate__(self, state: Tuple[Tensor, bool]) -> None:\n"
      "    self.training = state[1]\n";
  const std::vector<std::pair<std::string, std::string>> payloads{
      {"create", "    torch.save(state[0], \"" + canary + "\")\n    self.state = state[0]\n"},
      {"truncate", "    torch.save(state[0], \"" + victim + "\")\n    self.state = state[0]\n"},
      {"shared_mapping", "    t = torch.from_file(\"" + victim +
                             "\", True, 7, dtype=0)\n    t.fill_(65)\n"
                             "    self.state = state[0] + t.sum() * 0.0\n"},
      {"read_secret", "    self.state = torch.from_file(\"" + secret +
                          "\", False, 8, dtype=0).float()\n"},
  };
  for (const auto& [name, payload] : payloads) {
    INFO(name);
    const std::string bytes =
        test::scripted_archive("Stateful", state_methods + payload, /*state=*/true);
    test::write_bytes(victim, "keep me");
    test::write_bytes(secret, "SECRET!!");
    std::filesystem::remove(canary);
    const auto outside = test::run_unconfined(bytes, kInput);
    REQUIRE(outside.exit_code == 0);
    std::ifstream in(victim);
    const std::string victim_after(std::istreambuf_iterator<char>(in), {});
    if (name == "create") CHECK(std::filesystem::exists(canary));
    if (name == "truncate") CHECK(victim_after != "keep me");
    if (name == "shared_mapping") CHECK(victim_after == "AAAAAAA");
    if (name == "read_secret") CHECK(outside.output.at(0) > 0);  // the secret's byte sum

    test::write_bytes(victim, "keep me");
    std::filesystem::remove(canary);
    const std::string before = test::directory_snapshot(dir);
    const auto probe = security::probe_model(bytes, probe_options());
    INFO(probe.reason);
    CHECK_FALSE(probe.accepted);
    CHECK(test::directory_snapshot(dir) == before);
  }
  rampart::core::remove_tree(dir);
}

TEST_CASE("graph allowlist: model-controlled text is escaped, extra denials apply",
          "[security][graph]") {
  const std::string bytes = forward_model(
      "    assert bool(x.sum() != 0.0), chr(27) + \"[2Jverdict: ACCEPTED\" + chr(10)\n"
      "    return x.reshape([x.size(0), 784])[:, :10]\n");
  const auto probe = security::probe_model(bytes, probe_options());
  CHECK_FALSE(probe.accepted);
  CHECK(probe.reason.find('\x1b') == std::string::npos);
  CHECK(probe.reason.find('\n') == std::string::npos);
  CHECK(security::escape_untrusted("a\x1b\n\\") == "a\\x1b\\x0a\\x5c");

  const std::string plain = forward_model("    return x.reshape([x.size(0), 784])[:, :10] * 2.0\n");
  auto options = probe_options();
  const auto accepted = security::probe_model(plain, options);
  INFO(accepted.reason);
  CHECK(accepted.accepted);
  CHECK(accepted.ran);
  options.denied_operators = {"aten::mul"};
  const auto denied = security::probe_model(plain, options);
  CHECK_FALSE(denied.accepted);
  CHECK_THAT(denied.reason, Catch::Contains("aten::mul, which is refused: denied by "
                                            "security.deny_operators"));
  // The policy itself: in-place forms follow their base; unknown kinds are refused.
  CHECK(security::judge_operator("aten::relu_", {}).empty());
  CHECK(security::judge_operator("aten::set_", {}) ==
        "rebinds a tensor to arbitrary storage, offset and strides");
  CHECK(security::judge_operator("aten::rampart_no_such_op", {}) ==
        "not on the allowlist of pure tensor operators");
  CHECK(security::judge_operator("c10d::allreduce_", {}) == "reaches other processes or profiles");
  CHECK(security::judge_operator("quantized::conv2d", {}).empty());
}

TEST_CASE("behavioural checks: models that behave only on zeros, batch 1 or without gradients",
          "[security][behaviour]") {
  const std::string honest = "x.reshape([x.size(0), 784])[:, :10]";
  struct Gated {
    std::string name, body, reason;
  };
  const std::vector<Gated> models{
      {"batch_size", "    if x.size(0) == 1:\n        return " + honest + "\n    return -" +
                         honest + "\n",
       "differs from the same input run alone"},
      {"gradient_mode",
       "    if torch.is_grad_enabled():\n        return -" + honest + "\n    return " + honest +
           "\n",
       "the output changes when gradients are enabled"},
      {"non_zero_input",
       "    if bool(x.sum() != 0.0):\n        return " + honest + " / 0.0\n    return " + honest +
           "\n",
       "is not finite"},
      {"random_output", "    return " + honest + " + torch.rand([x.size(0), 10])\n",
       "two forward passes on the same input differ"},
  };
  for (const auto& m : models) {
    INFO(m.name);
    const std::string bytes = forward_model(m.body);
    // Plain libtorch shows the gate: on zeros, batch 1, without gradients, all looks fine.
    std::istringstream in(bytes);
    torch::jit::Module module = torch::jit::load(in);
    {
      at::NoGradGuard no_grad;
      const at::Tensor zero = module.forward({at::zeros({1, 1, 28, 28})}).toTensor();
      CHECK(at::isfinite(zero).all().item<bool>());
    }
    const auto probe = security::probe_model(bytes, probe_options());
    CHECK_FALSE(probe.accepted);
    CHECK_THAT(probe.reason, Catch::StartsWith("the behavioural checks failed") &&
                                 Catch::Contains(m.reason));
  }
}
