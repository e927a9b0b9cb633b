// Real-world-shaped models, saved from Python by tests/security/fixtures/real_models.py at test
// time (scripted and traced residual nets with batch norm and dropout, frozen modules, static
// and dynamic int8 quantization, LSTM, GRU, a transformer encoder, extra files, traced
// constants): each passes the graph allowlist and the behavioural checks in the sandbox, and
// Rampart's loaded model gives the logits Python computed unconfined.
#include <torch/script.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/remove_tree.h"
#include "models/torchscript_loader.h"
#include "security/sandbox_probe.h"
#include "support/fixtures.h"
#include "support/intake_options.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

struct RealModel {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<double> logits;  // Python's, on linspace(0, 1) of that shape
};

std::vector<RealModel> read_models(const std::string& file) {
  std::vector<RealModel> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    RealModel m;
    std::string shape;
    fields >> m.name >> shape;
    std::istringstream dims(shape);
    for (std::string d; std::getline(dims, d, ',');) m.shape.push_back(std::stoll(d));
    for (double v; fields >> v;) m.logits.push_back(v);
    out.push_back(m);
  }
  return out;
}

}  // namespace

TEST_CASE("real models: twelve kinds users export are accepted and evaluate as unconfined",
          "[security][python]") {
  const std::string python = test::python_with_torch();
  if (python.empty() &&
      test::skip_without_fixture("no python3 with torch (Debian package python3-torch)")) {
    return;
  }
  const std::string dir = test::make_temp_dir("real-models");
  const auto made = test::run_process(
      {python, std::string(RAMPART_SOURCE_DIR) + "/tests/security/fixtures/real_models.py", dir});
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  const auto models = read_models(dir + "/models.txt");
  REQUIRE(models.size() >= 10);
  for (const auto& m : models) {
    INFO(m.name);
    const std::string path = dir + "/" + m.name + ".pt";
    security::IntakeOptions intake = test::unpinned();
    intake.policy.probe_options.input_shape = m.shape;
    models::LoadedTorchScript loaded;
    try {
      loaded = models::load_torchscript(path, intake);
    } catch (const std::exception& e) {
      FAIL(e.what());
    }
    CHECK(loaded.probe.ran);
    CHECK(loaded.probe.output_shape == std::vector<int64_t>{1, 10});
    CHECK_FALSE(loaded.probe.operators.empty());
    loaded.module.eval();
    at::NoGradGuard no_grad;
    const at::Tensor x = at::linspace(0, 1, at::zeros(m.shape).numel()).reshape(m.shape);
    const at::Tensor logits =
        loaded.module.forward({x}).toTensor().flatten().to(at::kDouble).contiguous();
    REQUIRE(logits.numel() == static_cast<int64_t>(m.logits.size()));
    for (std::size_t i = 0; i < m.logits.size(); ++i) {
      CHECK(logits.data_ptr<double>()[i] == Approx(m.logits[i]).margin(1e-5));
    }
  }
  // Without --input, scan infers the input of the first convolution or linear layer, or says
  // honestly that it loaded and judged the model but never ran it (exit 6).
  const auto inferred = test::run_process(
      {test::rampart_binary(), "scan", "--json", dir + "/scripted_residual_bn_dropout.pt"});
  INFO(inferred.output);
  CHECK(inferred.exit_code == 0);
  CHECK_THAT(inferred.output, Catch::Contains("\"verdict\": \"accepted\"") &&
                                  Catch::Contains("\"input_inferred\": true") &&
                                  Catch::Contains("\"behaviour_checked\""));
  const auto not_run =
      test::run_process({test::rampart_binary(), "scan", dir + "/static_quantized_cnn.pt"});
  INFO(not_run.output);
  CHECK(not_run.exit_code == 6);
  CHECK_THAT(not_run.output, Catch::Contains("verdict:   LOADED, NOT RUN"));
  rampart::core::remove_tree(dir);
}
