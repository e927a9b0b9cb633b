// The `rampart` executable: thin subcommands over the library, and the one place where
// errors become exit codes (DESIGN.md).
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <new>

#include "cli/commands.h"
#include "core/error.h"
#include "core/heap_tuning.h"
#include "core/logging.h"
#include "security/model_warnings.h"
#include "core/version.h"

namespace {

// An error is one line. Messages quote what hostile files hold (a .npy dtype, checkpoint
// metadata, a tensor name): their control bytes are written as \xNN, so a newline or a terminal
// escape in a file cannot print a second, forged line ("rampart: eval OK") or hide text.
std::string one_line(const std::string& message) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (const char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += c;
    }
  }
  return out;
}

int fail(rampart::ExitCode code, const std::string& message) {
  std::fprintf(stderr, "rampart: error: %s\n", one_line(message).c_str());
  return static_cast<int>(code);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

int main(int argc, char** argv) {
  using rampart::ExitCode;
  rampart::core::tune_heap_for_tensors();
  CLI::App app{
      "Rampart: adversarial robustness for PyTorch models (FGSM, PGD, Carlini-Wagner), "
      "robustness reports, CI gates, hardening and safe model intake."};
  app.set_version_flag("--version", std::string("rampart ") + rampart::kVersion + " (libtorch " +
                                        TORCH_VERSION + ")");
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Print debug messages");
  app.footer(
      "Exit codes: 0 ok, 1 gate failed, 2 usage/config error, 3 model rejected, "
      "4 data/I-O error, 5 internal error.");

  std::string out_dir = "runs/quickstart";
  std::vector<std::string> overrides;
  auto* quickstart = app.add_subcommand(
      "quickstart",
      "The demo: train (or reuse) a small CNN on Fashion-MNIST, attack it with FGSM, PGD and CW, "
      "write the robustness report");
  quickstart->add_option("--out", out_dir, "Folder for the checkpoint and the report")
      ->capture_default_str();
  quickstart->add_option("--set", overrides,
                         "Override a train config key (KEY=VALUE) or an eval config key "
                         "(eval.KEY=VALUE)");

  std::string config_path;
  bool resume = false;
  auto* train = app.add_subcommand("train", "Train a built-in model from a YAML config");
  train->add_option("CONFIG", config_path, "Train config (YAML)")->required();
  train->add_option("--set", overrides, "Override a config key: KEY=VALUE (dotted path)");
  train->add_flag("--resume", resume, "Continue from the last checkpoint in train.output");
  bool train_unpinned = false;
  train->add_flag("--allow-unpinned", train_unpinned,
                  "Accept model files that no pin, allowlist or signature vouches for "
                  "(security.allow_unpinned)");

  rampart::cli::EvalCommand eval_args;
  auto* eval = app.add_subcommand(
      "eval", "Attack a model as a YAML config says, write the robustness report, check gates");
  eval->add_option("CONFIG", eval_args.config_path, "Eval config (YAML)")->required();
  eval->add_option("--set", eval_args.overrides, "Override a config key: KEY=VALUE (dotted path)");
  eval->add_option("--out", eval_args.out_dir, "Report folder (overrides report.dir)");
  eval->add_flag("--strict", eval_args.strict, "Fail (exit 1) when a sanity check is flagged");
  eval->add_flag("-q,--quiet", eval_args.quiet, "No progress or info lines on stderr");
  eval->add_option("--robustbench", eval_args.robustbench,
                   "Also write the autoattack entry's result as a RobustBench model entry (JSON)");
  bool eval_unpinned = false;
  eval->add_flag("--allow-unpinned", eval_unpinned,
                 "Accept model files that no pin, allowlist or signature vouches for "
                 "(security.allow_unpinned); the report records them as unpinned");
  rampart::cli::ScanCommand scan_args;
  auto* scan = app.add_subcommand(
      "scan", "Inspect a model file without loading it: verdict, reasons, globals, operators");
  scan->add_option("MODEL", scan_args.model_path, "Model file (TorchScript or safetensors)")
      ->required();
  scan->add_option("--sha256", scan_args.sha256, "Expected SHA-256 (hex)");
  scan->add_option("--input", scan_args.input,
                   "Input shape C,H,W: the sandboxed probe runs forward on zeros")
      ->delimiter(',')
      ->expected(3);
  scan->add_option("--signature", scan_args.signature, "Ed25519 detached signature file");
  scan->add_option("--public-key", scan_args.public_key, "The signer's Ed25519 public key (PEM)");
  scan->add_option("--allowlist", scan_args.allowlist,
                   "File of pinned SHA-256 hashes (sha256sum format)");
  scan->add_flag("--json", scan_args.json, "Print the result as JSON");

  rampart::cli::ManifestCommand manifest_args;
  auto* data = app.add_subcommand("data", "Training data: provenance manifests, poisoning simulation, relabelling");
  data->require_subcommand(1);
  auto* manifest = data->add_subcommand(
      "manifest", "Write a data set's provenance manifest: per-point SHA-256, root hash, files");
  manifest->add_option("CONFIG", manifest_args.config_path,
                       "A train or eval config: its data section and model.input")
      ->required();
  manifest->add_option("--out", manifest_args.out, "Manifest file (JSON)")->required();
  manifest->add_option("--section", manifest_args.section, "Which data: data or validation")
      ->capture_default_str();
  manifest->add_option("--set", manifest_args.overrides, "Override a config key: KEY=VALUE");
  manifest->add_option("--sign", manifest_args.sign,
                       "Ed25519 private key (PEM): also write the signature to OUT.sig");

  rampart::cli::PoisonCommand poison_args;
  auto* poison = data->add_subcommand(
      "poison", "Write a poisoned copy of a data set and the ground truth, to test defenses");
  poison->add_option("CONFIG", poison_args.config_path,
                     "A config with model (input, num_classes), data and poison sections")
      ->required();
  poison->add_option("--out", poison_args.out, "Output folder")->required();
  poison->add_option("--set", poison_args.overrides, "Override a config key: KEY=VALUE");

  rampart::cli::RelabelCommand relabel_args;
  auto* relabel = data->add_subcommand(
      "relabel", "Give an audit's flagged points the class a model trained without them predicts "
                 "(or leave them out): a relabelling for data.relabel");
  relabel->add_option("CONFIG", relabel_args.config_path,
                      "The sanitised retraining's train config (data.exclude names the audit)")
      ->required();
  relabel->add_option("--model", relabel_args.model,
                      "The checkpoint trained without the flagged points (default: model.checkpoint)");
  relabel->add_option("--out", relabel_args.out, "Relabelling file (JSON)")->required();
  relabel->add_option("--min-confidence", relabel_args.min_confidence,
                      "Relabel only where the model's probability is at least this")
      ->capture_default_str();
  relabel->add_option("--set", relabel_args.overrides, "Override a config key: KEY=VALUE");
  bool relabel_unpinned = false;
  relabel->add_flag("--allow-unpinned", relabel_unpinned,
                    "Accept a model checkpoint that no pin, allowlist or signature vouches for "
                    "(security.allow_unpinned)");

  rampart::cli::AuditCommand audit_args;
  auto* audit = app.add_subcommand(
      "audit-data", "Find poisoned training points (backdoors, flipped labels) without knowing the "
                    "target or the rate; write audit.json, audit.md, audit.html");
  audit->add_option("CONFIG", audit_args.config_path,
                    "A train config (model, data, train) with an audit section")
      ->required();
  audit->add_option("--out", audit_args.out, "Output folder")->capture_default_str();
  audit->add_option("--set", audit_args.overrides, "Override a config key: KEY=VALUE");
  bool audit_unpinned = false;
  audit->add_flag("--allow-unpinned", audit_unpinned,
                  "Accept a model checkpoint that no pin, allowlist or signature vouches for "
                  "(security.allow_unpinned)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ExitCode::kUsage);
  }
  rampart::core::init_logging(verbose);
  rampart::security::route_libtorch_warnings_to_log();
  // --allow-unpinned is security.allow_unpinned: true, set on the command line.
  if (train_unpinned) overrides.push_back("security.allow_unpinned=true");
  if (eval_unpinned) eval_args.overrides.push_back("security.allow_unpinned=true");
  if (audit_unpinned) audit_args.overrides.push_back("security.allow_unpinned=true");
  if (relabel_unpinned) relabel_args.overrides.push_back("security.allow_unpinned=true");
  try {
    if (*quickstart) return rampart::cli::run_quickstart(out_dir, overrides);
    if (*train) return rampart::cli::run_train(config_path, overrides, resume);
    if (*eval) return rampart::cli::run_eval(eval_args);
    if (*scan) return rampart::cli::run_scan(scan_args);
    if (*manifest) return rampart::cli::run_data_manifest(manifest_args);
    if (*poison) return rampart::cli::run_data_poison(poison_args);
    if (*relabel) return rampart::cli::run_data_relabel(relabel_args);
    if (*audit) return rampart::cli::run_audit_data(audit_args);
  } catch (const rampart::Error& e) {
    return fail(e.code(), e.what());
  } catch (const c10::Error& e) {
    return fail(ExitCode::kInternal, "libtorch: " + first_line(e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return fail(ExitCode::kInternal, "out of memory");
  } catch (const std::exception& e) {
    return fail(ExitCode::kInternal, first_line(e.what()));
  } catch (...) {
    return fail(ExitCode::kInternal, "unknown exception");
  }
  return static_cast<int>(ExitCode::kUsage);
}
