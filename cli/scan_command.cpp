#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "models/safetensors.h"
#include "security/libtorch_policy.h"
#include "security/model_intake.h"
#include "security/sandbox_probe.h"

namespace rampart::cli {
namespace {

using nlohmann::json;

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "none" : out;
}

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

int run_scan(const ScanCommand& command) {
  security::IntakeOptions intake;
  intake.sha256 = command.sha256;
  intake.signature = command.signature;
  intake.public_key = command.public_key;
  // scan inspects files nobody vouches for yet: it reports whether one is pinned, and rejects
  // only a pin or a signature that does not hold.
  intake.policy.allow_unpinned = true;
  if (!command.allowlist.empty()) {
    intake.policy.allowlist =
        std::make_shared<const security::Allowlist>(security::read_allowlist(command.allowlist));
  }
  json report{{"path", command.model_path}};
  json reasons = json::array();
  security::ModelFile file;
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  Clock::time_point t = Clock::now();
  json seconds;
  try {
    file = security::read_model_file(command.model_path, intake);
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
        const auto weights = models::parse_safetensors(file.bytes, command.model_path);
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
        if (!command.input.empty()) {
          probe_options.input_shape = {1};
          probe_options.input_shape.insert(probe_options.input_shape.end(), command.input.begin(),
                                           command.input.end());
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
  if (command.json) {
    // Names in a hostile archive need not be UTF-8: replaced, never an exception.
    std::printf("%s\n", report.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  } else {
    std::printf("model:     %s\n", command.model_path.c_str());
    std::printf("verdict:   %s\n",
                !accepted ? "REJECTED"
                : not_run ? "LOADED, NOT RUN (graph judged; no input shape given or inferred: "
                            "pass --input C,H,W to run the behavioural checks)"
                          : "ACCEPTED");
    if (report.contains("sha256")) {
      std::printf("sha256:    %s\nbytes:     %s\nformat:    %s\n",
                  report["sha256"].get<std::string>().c_str(), report["bytes"].dump().c_str(),
                  report["format"].get<std::string>().c_str());
    }
    if (report.contains("pinned")) {
      std::printf("integrity: %s\n",
                  file.pinned() ? ("pinned (" + joined(file.verified_by) + ")").c_str()
                                : "unpinned (no --sha256, --allowlist entry or --signature)");
    }
    if (report.contains("archive")) {
      std::printf("archive:   '%s/', %lld records, %llu bytes, version %llu\n",
                  inspection.prefix.c_str(), static_cast<long long>(inspection.records),
                  static_cast<unsigned long long>(inspection.bytes),
                  static_cast<unsigned long long>(inspection.version));
      std::printf("pickles:   %s\n", joined(inspection.pickles).c_str());
      std::printf("globals:   %s\n", joined(inspection.globals).c_str());
      std::printf("tensors:   %lld in %lld storages\n", static_cast<long long>(inspection.tensors),
                  static_cast<long long>(inspection.storages));
    }
    if (report.contains("operators")) {
      std::printf("operators: %s\n",
                  joined(report["operators"].get<std::vector<std::string>>()).c_str());
    }
    if (report.contains("probe") && report["probe"]["accepted"].get<bool>()) {
      const json& p = report["probe"];
      std::printf("probe:     loaded in %.3f s%s\n", p["load_seconds"].get<double>(),
                  !ran ? (", not run: " + p["not_run_reason"].get<std::string>()).c_str()
                       : (", behavioural checks passed on input " + p["input_shape"].dump() +
                          (p["input_inferred"].get<bool>() ? " (inferred from the graph)" : "") +
                          ", output " + p["output_shape"].dump() + ", in " +
                          std::to_string(p["forward_seconds"].get<double>()) + " s")
                             .c_str());
    }
    for (const auto& r : reasons) {
      std::printf("reason:    %s: %s\n", r["code"].get<std::string>().c_str(),
                  r["message"].get<std::string>().c_str());
    }
  }
  std::fflush(stdout);
  if (!accepted) return static_cast<int>(ExitCode::kModelRejected);
  return not_run ? static_cast<int>(ExitCode::kLoadedNotRun) : 0;
}

}  // namespace rampart::cli
