#include "hostile_models.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <ATen/Parallel.h>
#include <torch/script.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/remove_tree.h"
#include "support/test_support.h"

namespace rampart::test {

std::string scripted_archive(const std::string& name, const std::string& methods, bool state) {
  torch::jit::Module module("__torch__." + name);
  module.register_attribute("training", c10::BoolType::get(), false);
  if (state) module.register_attribute("state", c10::TensorType::get(), at::zeros({1}));
  module.define(methods);
  std::ostringstream out;
  module.save(out);
  return out.str();
}

Unconfined run_unconfined(const std::string& bytes, const std::vector<int64_t>& input_shape) {
  const std::string dir = make_temp_dir("unconfined");
  const std::string result_file = dir + "/output", stdout_file = dir + "/stdout";
  constexpr uint64_t kSeed = 987654321;
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) dup2(fd, 1);
    at::set_num_threads(1);  // the parent's thread pool does not survive fork
    torch::manual_seed(kSeed);
    try {
      std::istringstream in(bytes);
      torch::jit::Module module = torch::jit::load(in);
      const at::Tensor out = module.forward({at::zeros(input_shape)}).toTensor();
      std::ofstream file(result_file);
      file.precision(17);
      file << (at::detail::getDefaultCPUGenerator().current_seed() != kSeed) << "\n";
      const at::Tensor flat = out.flatten().to(at::kDouble).contiguous();
      for (int64_t i = 0; i < flat.numel(); ++i) file << flat.data_ptr<double>()[i] << "\n";
    } catch (const std::exception&) {
      std::fflush(stdout);
      _exit(1);
    }
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Unconfined out;
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream result(result_file);
  int reseeded = 0;
  if (result >> reseeded) out.rng_reseeded = reseeded != 0;
  for (double v; result >> v;) out.output.push_back(v);
  std::ifstream printed(stdout_file);
  out.printed.assign(std::istreambuf_iterator<char>(printed), {});
  rampart::core::remove_tree(dir);
  return out;
}

}  // namespace rampart::test
