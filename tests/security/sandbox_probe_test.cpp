// The sandboxed probe: a model whose forward allocates far past the memory limit and one whose
// forward never ends pass the static inspection (their code is legal TorchScript) and are
// rejected by the probe, within its time limit, while Rampart's process stays unharmed.
#include "security/sandbox_probe.h"

#include <torch/script.h>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>

#include "core/error.h"
#include "models/load_model.h"
#include "models/torchscript_loader.h"
#include "security/libtorch_policy.h"
#include "support/test_support.h"
#include "zip_builder.h"

using namespace rampart;

namespace {

std::string scripted(const std::string& forward) {
  torch::jit::Module module("__torch__.Probed");
  module.register_attribute("training", c10::BoolType::get(), false);
  module.define(forward);
  std::ostringstream out;
  module.save(out);
  return out.str();
}

const char* kMemoryHog = R"(
def forward(self, x: Tensor) -> Tensor:
    big = torch.ones([2147483648])
    return x + torch.sum(big)
)";

const char* kNeverEnds = R"(
def forward(self, x: Tensor) -> Tensor:
    i = 0
    while i >= 0:
        x = x + 1.0
        i = i + 1
    return x
)";

security::ProbeOptions options(double wall_seconds) {
  security::ProbeOptions o;
  o.input_shape = {1, 1, 28, 28};
  o.memory_bytes = int64_t{1} << 30;
  o.wall_seconds = wall_seconds;
  o.cpu_seconds = 30;
  return o;
}

// probe_model, and how long it took in `seconds`.
security::ProbeResult timed_probe(const std::string& model, const security::ProbeOptions& o,
                                  double& seconds) {
  const auto start = std::chrono::steady_clock::now();
  security::ProbeResult result = security::probe_model(model, o);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

TEST_CASE("probe: a valid model loads and runs, its output shape comes back", "[security][probe]") {
  const std::string model = test::small_cnn_archive();
  const auto result = security::probe_model(model, options(30));
  INFO(result.reason);
  REQUIRE(result.accepted);
  CHECK(result.output_shape == std::vector<int64_t>{1, 10});
  CHECK(result.finite);
  CHECK(result.load_seconds > 0);
  CHECK(result.forward_seconds > 0);
  // A wrong input shape fails the forward pass: rejected, with libtorch's reason.
  auto wrong = options(30);
  wrong.input_shape = {1, 3, 5, 5};
  const auto bad = security::probe_model(model, wrong);
  CHECK_FALSE(bad.accepted);
  CHECK(bad.reason.find("the forward pass failed") == 0);
}

TEST_CASE("probe: a forward pass allocating 8 GiB under a 1 GiB limit is rejected",
          "[security][probe]") {
  const std::string model = scripted(kMemoryHog);
  const auto inspection = security::inspect_torchscript(model, security::libtorch_limits());
  CHECK(inspection.accepted());  // legal code: only running it shows the problem
  double seconds = 0;
  const auto result = timed_probe(model, options(30), seconds);
  INFO(result.reason);
  CHECK_FALSE(result.accepted);
  CHECK(result.reason.find("the model ran out of its memory limit (1024 MiB)") == 0);
  CHECK(seconds < 30);
}

TEST_CASE("probe: a forward pass that never ends is killed at the wall-clock limit",
          "[security][probe]") {
  const std::string model = scripted(kNeverEnds);
  double seconds = 0;
  const auto result = timed_probe(model, options(3), seconds);
  INFO(result.reason);
  CHECK_FALSE(result.accepted);
  CHECK(result.reason.find("the probe did not finish within 3 s") == 0);
  CHECK(seconds < 6);
}

TEST_CASE("probe: rampart scan and the loader reject what the probe rejects", "[security][probe]") {
  const std::string dir = test::make_temp_dir("probe-cli");
  test::write_bytes(dir + "/hog.pt", scripted(kMemoryHog));
  const auto scan =
      test::run_process({test::rampart_binary(), "scan", dir + "/hog.pt", "--input", "1,28,28"});
  INFO(scan.output);
  CHECK(scan.exit_code == 3);
  CHECK(scan.output.find("reason:    probe:") != std::string::npos);
  security::IntakeOptions intake;
  intake.policy.allow_unpinned = true;
  intake.policy.probe_options = options(30);
  try {
    models::load_torchscript(dir + "/hog.pt", intake);
    FAIL("the memory hog was loaded");
  } catch (const ModelRejected& e) {
    CHECK(std::string(e.what()).find("rejected by the sandboxed probe") != std::string::npos);
  }
}

TEST_CASE("probe: a model whose output does not fit model.num_classes is rejected before use",
          "[security][probe]") {
  const std::string dir = test::make_temp_dir("probe-shape");
  test::write_bytes(dir + "/model.pt", test::small_cnn_archive());  // 10 classes
  models::ModelSpec spec;
  spec.path = dir + "/model.pt";
  spec.intake.sha256 = security::sha256_hex(test::small_cnn_archive());
  spec.num_classes = 10;
  CHECK_NOTHROW(models::load_model(spec, c10::Device(c10::kCPU)));
  spec.num_classes = 5;
  CHECK_THROWS_WITH(models::load_model(spec, c10::Device(c10::kCPU)),
                    Catch::Contains("model.pt: on one input of shape [1, 1, 28, 28] the model "
                                    "returns [1, 10], not [1, 5] (model.num_classes)"));
}

TEST_CASE("probe: a caller started with 1 and 2 closed still gets a clean answer",
          "[security][probe]") {
  // pipe() then hands out 1 and 2: the child's end of the pipe would be its stderr, where
  // libtorch prints a model's warnings. The child moves the pipe off the standard descriptors
  // and points those at /dev/null, so the warning cannot reach (or forge) the answer.
  const std::string model = scripted(R"(
def forward(self, x: Tensor) -> Tensor:
    torch.warn("a warning the model prints on every forward")
    return x.reshape([x.size(0), 784])[:, :10]
)");
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(1);
    close(2);
    const auto result = security::probe_model(model, options(30));
    _exit(result.accepted && result.output_shape == std::vector<int64_t>{1, 10} ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
