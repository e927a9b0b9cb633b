#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "models/model_scan.h"

namespace rampart::cli {
namespace {

using nlohmann::json;

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "none" : out;
}

// The arguments' own mistakes are usage errors (exit 2), before any file is read: they are
// not the model's fault, which exit 3 would say.
std::string checked_sha256(std::string pin) {
  bool hex = pin.size() == 64;
  for (char ch : pin) hex = hex && std::isxdigit(static_cast<unsigned char>(ch));
  if (!hex) throw ConfigError("--sha256 " + pin + ": must be 64 hexadecimal digits");
  for (auto& ch : pin) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return pin;
}

}  // namespace

int run_scan(const ScanCommand& command) {
  if (command.signature.empty() != command.public_key.empty()) {
    throw ConfigError(std::string(command.signature.empty() ? "--public-key" : "--signature") +
                      ": an Ed25519 signature needs both --signature and --public-key");
  }
  for (const int64_t d : command.input) {
    if (d < 1) throw ConfigError("--input: every dimension must be >= 1, got " + std::to_string(d));
  }
  models::ScanRequest request;
  request.path = command.model_path;
  request.sha256 = command.sha256.empty() ? "" : checked_sha256(command.sha256);
  request.signature = command.signature;
  request.public_key = command.public_key;
  request.allowlist = command.allowlist;
  request.input = command.input;
  const json report = models::scan_model(request);
  const std::string verdict_name = report["verdict"].get<std::string>();
  const bool accepted = verdict_name != "rejected";
  const bool not_run = verdict_name == "loaded_not_run";
  const bool ran = report.contains("probe") && report["probe"]["ran"].get<bool>();
  const json& reasons = report["reasons"];
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
                  report["pinned"].get<bool>()
                      ? ("pinned (" + joined(report["verified_by"].get<std::vector<std::string>>()) + ")").c_str()
                                : "unpinned (no --sha256, --allowlist entry or --signature)");
    }
    if (report.contains("archive")) {
      const json& a = report["archive"];
      std::printf("archive:   '%s/', %s records, %s bytes, version %s\n",
                  a["prefix"].get<std::string>().c_str(), a["records"].dump().c_str(),
                  a["bytes"].dump().c_str(), a["version"].dump().c_str());
      std::printf("pickles:   %s\n", joined(report["pickles"].get<std::vector<std::string>>()).c_str());
      std::printf("globals:   %s\n", joined(report["globals"].get<std::vector<std::string>>()).c_str());
      std::printf("tensors:   %s in %s storages\n", report["tensors"].dump().c_str(),
                  report["storages"].dump().c_str());
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
