#include "models/torchscript_loader.h"

#include <sstream>

#include "core/error.h"
#include "security/libtorch_policy.h"

namespace rampart::models {
namespace {

[[noreturn]] void reject(const std::string& path, const std::string& what) {
  throw ModelRejected(path +
                      ": not a loadable TorchScript archive: " + what.substr(0, what.find('\n')));
}

}  // namespace

AdmittedTorchScript admit_torchscript(const std::string& path,
                                      const security::IntakeOptions& intake) {
  AdmittedTorchScript out{security::read_model_file(path, intake), {}};
  if (out.file.format == security::ModelFormat::kSafetensors) {
    throw ModelRejected(path + ": is a safetensors checkpoint, not a TorchScript archive (name "
                               "it as model.checkpoint with model.arch)");
  }
  const security::TorchScriptInspection inspection =
      security::inspect_torchscript(out.file.bytes, security::libtorch_limits());
  if (!inspection.accepted()) {
    const security::InspectionError& first = inspection.problems.front();
    const std::size_t more = inspection.problems.size() - 1;
    throw ModelRejected(
        path + ": rejected by the model intake (" + first.code() + "): " + first.what() +
        (more ? " (and " + std::to_string(more) + " more problems: run 'rampart scan " + path + "')"
              : std::string()));
  }
  // Always: the probe is where the compiled graph is judged, so no load skips it.
  security::ProbeOptions probe = intake.policy.probe_options;
  probe.denied_operators = intake.policy.denied_operators;
  out.probe = security::probe_model(out.file.bytes, probe);
  if (!out.probe.accepted) {
    throw ModelRejected(path + ": rejected by the sandboxed probe: " + out.probe.reason);
  }
  return out;
}

torch::jit::Module deserialize_torchscript(const security::ModelFile& file,
                                          const c10::Device& device) {
  std::istringstream stream(file.bytes);
  try {
    return torch::jit::load(stream, device);
  } catch (const c10::Error& e) {
    reject(file.path, e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {  // torch::jit::ErrorReport and friends: bad code inside
    reject(file.path, e.what());
  }
}

LoadedTorchScript load_torchscript(const std::string& path, const security::IntakeOptions& intake,
                                   const c10::Device& device) {
  AdmittedTorchScript admitted = admit_torchscript(path, intake);
  torch::jit::Module module = deserialize_torchscript(admitted.file, device);
  // train/eval mode as saved: the evaluation reports a model left in training mode
  return {std::move(module), std::move(admitted.file), std::move(admitted.probe)};
}

}  // namespace rampart::models
