#include "models/torchscript_loader.h"

#include <sstream>

#include "core/error.h"

namespace rampart::models {

LoadedTorchScript load_torchscript(const std::string& path, const security::IntakeOptions& intake,
                                   const c10::Device& device) {
  LoadedTorchScript out{torch::jit::Module(), security::read_model_file(path, intake)};
  std::istringstream stream(out.file.bytes);
  try {
    out.module = torch::jit::load(stream, device);
  } catch (const c10::Error& e) {
    std::string why = e.what_without_backtrace();
    why = why.substr(0, why.find('\n'));
    throw ModelRejected(path + ": not a loadable TorchScript archive: " + why);
  }
  out.module.eval();
  return out;
}

}  // namespace rampart::models
