#include "models/model_scan.h"

#include <chrono>

#include "core/error.h"
#include "models/safetensors.h"
#include "security/allowlist.h"
#include "security/libtorch_policy.h"
#include "security/model_intake.h"
#include "security/sandbox_probe.h"
#include "security/torchscript_inspection.h"

namespace rampart::models {
namespace {

using nlohmann::json;

// What the verdict rests on, in words a script can match.
json checked_list(const json& report, bool is_code, bool ran) {
  json out = json::array();
  if (report.contains("sha256")) out.push_back("read_and_hashed");
  if (report.contains("pinned") && report["pinned"].get<bool>()) out.push_back("pinned");
  if (!report.contains("format")) return out;
  if (!is_code) {
    out.push_back("safetensors_parsed");
    return out;
  }
  out.push_back("archive_and_pickles_inspected");
  if (report.contains("operators")) out.push_back("graph_judged");
  if (ran) out.push_back("behaviour_checked");
  return out;
}

}  // namespace

json scan_model(const ScanRequest& request) {
  security::IntakeOptions intake;
  intake.sha256 = request.sha256;
  intake.signature = request.signature;
  intake.public_key = request.public_key;
  // scan inspects files nobody vouches for yet: it reports whether one is pinned, and rejects
  // only a pin or a signature that does not hold.
  intake.policy.allow_unpinned = true;
  if (!request.allowlist.empty()) {
    intake.policy.allowlist =
        std::make_shared<const security::Allowlist>(security::read_allowlist(request.allowlist));
  }
  json report{{"path", request.path}};
  json reasons = json::array();
  security::ModelFile file;
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  Clock::time_point t = Clock::now();
  json seconds;
  try {
    file = security::read_model_file(request.path, intake);
    seconds["read_and_hash"] = since(t);
  } catch (const ModelRejected& e) {
    reasons.push_back({{"code", "intake"}, {"message", e.what()}});
  }
  security::TorchScriptInspection inspection;
  bool ran = false;  // a TorchScript model that passed the behavioural checks
  bool is_code = false;
  if (reasons.empty()) {
    report["sha256"] = file.sha256;
    report["bytes"] = file.bytes.size();
    report["pinned"] = file.pinned();
    report["verified_by"] = file.verified_by;
    if (file.format == security::ModelFormat::kSafetensors) {
      report["format"] = "safetensors";
      try {
        const auto weights = models::parse_safetensors(file.bytes, request.path);
        report["tensors"] = weights.tensors.size();
      } catch (const Error& e) {
        reasons.push_back({{"code", "bad_safetensors"}, {"message", e.what()}});
      }
    } else {
      report["format"] = "torchscript";
      is_code = true;
      t = Clock::now();
      inspection = security::inspect_torchscript(file.bytes, security::libtorch_limits());
      seconds["inspection"] = since(t);
      for (const auto& p : inspection.problems) {
        reasons.push_back({{"code", p.code()}, {"message", p.what()}});
      }
      report["archive"] = {{"prefix", inspection.prefix},
                           {"records", inspection.records},
                           {"bytes", inspection.bytes},
                           {"version", inspection.version}};
      report["pickles"] = inspection.pickles;
      report["globals"] = inspection.globals;
      report["storages"] = inspection.storages;
      report["tensors"] = inspection.tensors;
      if (inspection.accepted()) {
        security::ProbeOptions probe_options;
        if (!request.input.empty()) {
          probe_options.input_shape = {1};
          probe_options.input_shape.insert(probe_options.input_shape.end(), request.input.begin(),
                                           request.input.end());
        }
        t = Clock::now();
        const security::ProbeResult probe = security::probe_model(file.bytes, probe_options);
        seconds["probe"] = since(t);
        ran = probe.ran;
        report["operators"] = probe.operators;
        report["probe"] = {{"accepted", probe.accepted},
                           {"ran", probe.ran},
                           {"reason", probe.reason},
                           {"not_run_reason", probe.not_run_reason},
                           {"input_shape", probe.input_shape},
                           {"input_inferred", probe.input_inferred},
                           {"output_shape", probe.output_shape},
                           {"load_seconds", probe.load_seconds},
                           {"forward_seconds", probe.forward_seconds}};
        if (!probe.accepted) reasons.push_back({{"code", "probe"}, {"message", probe.reason}});
      }
    }
  }
  const bool accepted = reasons.empty();
  // A program that was never run is not "accepted": its forward pass is unchecked.
  const bool not_run = accepted && is_code && !ran;
  const char* verdict = !accepted ? "rejected" : not_run ? "loaded_not_run" : "accepted";
  report["verdict"] = verdict;
  report["checked"] = checked_list(report, is_code, ran);
  report["reasons"] = reasons;
  report["seconds"] = seconds;
  return report;
}

}  // namespace rampart::models
