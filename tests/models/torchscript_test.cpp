#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "core/remove_tree.h"
#include "core/error.h"
#include "models/mlp.h"
#include "models/model.h"
#include "models/preact_resnet18.h"
#include "models/small_cnn.h"
#include "models/torchscript_export.h"
#include "models/torchscript_loader.h"
#include "support/fixtures.h"
#include "support/intake_options.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

at::Tensor run(torch::jit::Module& m, const at::Tensor& x) { return m.forward({x}).toTensor(); }

// Parses whitespace-separated floats that a Python fixture printed.
std::vector<double> parse_numbers(const std::string& text) {
  std::vector<double> out;
  std::istringstream in(text);
  for (double v; in >> v;) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("built-in models export to TorchScript that computes the same logits", "[torchscript]") {
  const std::string dir = test::make_temp_dir("export");
  torch::manual_seed(3);
  models::SmallCNN cnn(models::InputSpec{}, 10);
  models::PreActResNet18 resnet(models::InputSpec{{3, 32, 32}, 0, 1}, 10);
  {
    torch::NoGradGuard no_grad;
    for (auto& b : resnet.buffers()) {
      if (b.is_floating_point()) b.uniform_(0.5, 1.5);
    }
  }
  resnet.eval();
  models::export_torchscript(cnn, dir + "/cnn.pt");
  models::export_torchscript(resnet, dir + "/resnet.pt");

  auto loaded_cnn = models::load_torchscript(dir + "/cnn.pt", test::unpinned());
  const at::Tensor x = torch::rand({3, 1, 28, 28});
  CHECK(torch::allclose(run(loaded_cnn.module, x), cnn.forward(x), 1e-5, 1e-6));
  CHECK(loaded_cnn.file.sha256.size() == 64);
  // Saved in eval mode with a real `training` flag on every module, so train()/eval() work.
  models::TorchScriptModel as_model(loaded_cnn.module);
  for (bool mode : as_model.module_modes()) CHECK_FALSE(mode);
  loaded_cnn.module.train(true);
  for (bool mode : as_model.module_modes()) CHECK(mode);

  auto loaded_resnet = models::load_torchscript(dir + "/resnet.pt", test::unpinned());
  const at::Tensor y = torch::rand({2, 3, 32, 32});
  CHECK(torch::allclose(run(loaded_resnet.module, y), resnet.forward(y), 1e-4, 1e-5));
  // Same state_dict names as the C++ module.
  std::set<std::string> names;
  for (const auto& p : loaded_resnet.module.named_parameters()) names.insert(p.name);
  CHECK(names.count("layer3.0.shortcut.0.weight") == 1);
  CHECK(names.size() == resnet.parameters().size());

  models::MLP mlp(models::InputSpec{}, 10, 16);
  models::export_torchscript(mlp, dir + "/mlp.pt");
  auto loaded_mlp = models::load_torchscript(dir + "/mlp.pt", test::unpinned());
  CHECK(torch::allclose(run(loaded_mlp.module, x), mlp.forward(x), 1e-5, 1e-6));
  rampart::core::remove_tree(dir);
}

TEST_CASE("Python's torch.jit.load reads an exported model and agrees", "[torchscript][python]") {
  const std::string python = test::python_with_torch();
  if (python.empty() &&
      test::skip_without_fixture("no python3 with torch (Debian package python3-torch)")) {
    return;
  }
  const std::string dir = test::make_temp_dir("export-py");
  torch::manual_seed(4);
  models::SmallCNN cnn(models::InputSpec{}, 10);
  models::export_torchscript(cnn, dir + "/cnn.pt");
  auto result = test::run_process({python, "-c",
                                   "import sys, torch\n"
                                   "m = torch.jit.load(sys.argv[1])\n"
                                   "assert not any(s.training for s in m.modules())\n"
                                   "x = torch.linspace(0, 1, 2 * 784).reshape(2, 1, 28, 28)\n"
                                   "print(' '.join(repr(v) for v in m(x).flatten().tolist()))\n",
                                   dir + "/cnn.pt"});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto from_python = parse_numbers(result.output);
  const at::Tensor expected = cnn.forward(torch::linspace(0, 1, 2 * 784).reshape({2, 1, 28, 28}));
  REQUIRE(from_python.size() == 20);
  for (int i = 0; i < 20; ++i)
    CHECK(from_python[i] == Approx(expected.view(-1)[i].item<double>()).margin(1e-5));
  rampart::core::remove_tree(dir);
}

TEST_CASE("a TorchScript model saved from Python loads through the intake",
          "[torchscript][python]") {
  const std::string python = test::python_with_torch();
  if (python.empty() &&
      test::skip_without_fixture("no python3 with torch (Debian package python3-torch)")) {
    return;
  }
  const std::string dir = test::make_temp_dir("from-py");
  test::write_bytes(dir + "/make_model.py",
                    "import sys, torch\n"
                    "class Net(torch.nn.Module):\n"
                    "    def __init__(self):\n"
                    "        super().__init__()\n"
                    "        self.conv = torch.nn.Conv2d(1, 4, 3)\n"
                    "        self.fc = torch.nn.Linear(4 * 26 * 26, 10)\n"
                    "    def forward(self, x):\n"
                    "        return self.fc(torch.relu(self.conv(x)).flatten(1))\n"
                    "torch.manual_seed(0)\n"
                    "m = torch.jit.script(Net().eval())\n"
                    "m.save(sys.argv[1])\n"
                    "x = torch.linspace(0, 1, 784).reshape(1, 1, 28, 28)\n"
                    "print(' '.join(repr(v) for v in m(x).flatten().tolist()))\n");
  // torch.jit.script needs the class's source, so the fixture is a file, not `python -c`.
  auto result = test::run_process({python, dir + "/make_model.py", dir + "/user.pt"});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const auto expected = parse_numbers(result.output);
  REQUIRE(expected.size() == 10);
  auto loaded = models::load_torchscript(dir + "/user.pt", test::unpinned());
  const at::Tensor logits = run(loaded.module, torch::linspace(0, 1, 784).reshape({1, 1, 28, 28}));
  for (int i = 0; i < 10; ++i)
    CHECK(logits.view(-1)[i].item<double>() == Approx(expected[i]).margin(1e-5));

  security::IntakeOptions pinned;
  pinned.sha256 = loaded.file.sha256;
  CHECK_NOTHROW(models::load_torchscript(dir + "/user.pt", pinned));
  rampart::core::remove_tree(dir);
}

TEST_CASE("broken TorchScript files are rejected with one clear line", "[torchscript]") {
  const std::string dir = test::make_temp_dir("ts-bad");
  test::write_bytes(dir + "/garbage.pt", std::string(4096, '\x7f'));
  CHECK_THROWS_AS(models::load_torchscript(dir + "/garbage.pt", test::unpinned()), ModelRejected);
  try {
    models::load_torchscript(dir + "/garbage.pt", test::unpinned());
  } catch (const ModelRejected& e) {
    const std::string msg = e.what();
    CHECK(msg == dir +
                     "/garbage.pt: rejected by the model intake (not_an_archive): does not "
                     "start with a zip header");
    CHECK(msg.find('\n') == std::string::npos);
  }
  models::SmallCNN cnn(models::InputSpec{}, 10);
  models::export_torchscript(cnn, dir + "/ok.pt");
  std::string bytes;
  {
    std::ifstream in(dir + "/ok.pt", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  test::write_bytes(dir + "/truncated.pt", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(models::load_torchscript(dir + "/truncated.pt", test::unpinned()), ModelRejected);
  security::IntakeOptions tiny;
  tiny.policy.max_model_bytes = 1024;
  CHECK_THROWS_WITH(models::load_torchscript(dir + "/ok.pt", tiny),
                    Catch::Contains("larger than security.max_model_bytes"));
  CHECK_THROWS_AS(models::load_torchscript(dir + "/none.pt", test::unpinned()), DataError);
  rampart::core::remove_tree(dir);
}
