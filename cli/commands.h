#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::cli {

/// `rampart train CONFIG [--set KEY=VALUE]... [--resume]`; returns the exit code.
/// (`--allow-unpinned` reaches here as the override security.allow_unpinned=true.)
int run_train(const std::string& config_path, const std::vector<std::string>& overrides,
              bool resume);

/// The arguments of `rampart eval`.
struct EvalCommand {
  std::string config_path;
  std::vector<std::string> overrides;  ///< --set KEY=VALUE
  std::string out_dir;                 ///< --out: overrides report.dir
  bool strict = false;
  bool quiet = false;
  std::string robustbench;  ///< --robustbench FILE: the AutoAttack result as a RobustBench entry
};

/// `rampart eval CONFIG [--set KEY=VALUE]... [--out DIR] [--strict] [--quiet]`: evaluates,
/// writes the report directory and prints the summary; returns 0, or 1 when a gate failed
/// (or, with --strict, a sanity check was flagged).
int run_eval(const EvalCommand& command);

/// `rampart quickstart [--out DIR] [--set KEY=VALUE]...`: trains (or reuses) the small CNN on
/// Fashion-MNIST, evaluates FGSM, PGD and CW on 1000 test images, writes DIR/report and prints
/// the summary and the path of report.html. `--set eval.KEY=VALUE` overrides the eval config.
int run_quickstart(const std::string& out_dir, const std::vector<std::string>& overrides);

/// The arguments of `rampart scan`.
struct ScanCommand {
  std::string model_path;
  std::string sha256;                 ///< --sha256: the expected hash (a mismatch rejects)
  bool json = false;                  ///< --json: the verdict as JSON on stdout
  std::vector<int64_t> input;         ///< --input C,H,W: the probe also runs forward on zeros
  std::string signature, public_key;  ///< --signature FILE --public-key PEM (Ed25519)
  std::string allowlist;              ///< --allowlist FILE: pinned hashes (sha256sum format)
};

/// `rampart scan MODEL [--sha256 HEX] [--allowlist FILE] [--signature SIG --public-key PEM]
/// [--input C,H,W] [--json]`: reads the model through the intake (an unpinned file is reported
/// as such, not rejected; a pin or signature that does not hold rejects), inspects it without
/// loading it, then (when the inspection passes) loads it, and runs it on zeros of the given shape,
/// in the sandboxed probe; prints the verdict, every reason, the SHA-256, the archive summary, the
/// globals its pickles name and the operators its code calls. Returns 0 when the model is accepted
/// and 3 when it is rejected.
int run_scan(const ScanCommand& command);

/// The arguments of `rampart data manifest`.
struct ManifestCommand {
  std::string config_path;
  std::vector<std::string> overrides;  ///< --set KEY=VALUE
  std::string section = "data";        ///< --section: data | validation (a train config's)
  std::string out;                     ///< --out FILE
  std::string sign;                    ///< --sign KEY.pem: also write FILE.sig (Ed25519)
};

/// The arguments of `rampart data poison`.
struct PoisonCommand {
  std::string config_path;
  std::vector<std::string> overrides;  ///< --set KEY=VALUE
  std::string out;                     ///< --out DIR
};

/// `rampart data poison CONFIG --out DIR`: poisons the config's data as its `poison:` section
/// says (attacks::poison_dataset) and writes DIR/images.npy, labels.npy, poisoned.npy (the
/// sorted indices changed: the ground truth) and poison.json (the spec with the drawn target
/// and trigger position), to test the poisoning defenses.
int run_data_poison(const PoisonCommand& command);

/// `rampart data manifest CONFIG --out FILE [--section data] [--sign KEY.pem]`: reads the data
/// set that the config's section names (with `model`'s class count and input shape) and writes
/// its provenance manifest (datasets::DataManifest), atomically; prints the root hash.
int run_data_manifest(const ManifestCommand& command);

/// The arguments of `rampart data relabel`.
struct RelabelCommand {
  std::string config_path;
  std::vector<std::string> overrides;  ///< --set KEY=VALUE
  std::string model;                   ///< --model CHECKPOINT: the sanitised model
  std::string out;                     ///< --out FILE
  double min_confidence = 0.0;         ///< --min-confidence P
};

/// `rampart data relabel CONFIG --model CHECKPOINT --out FILE [--min-confidence P]`: CONFIG is
/// the sanitised retraining's config (its `data.exclude` names the audit); predicts every
/// flagged point with the checkpoint, a model trained without them, and writes the relabelling
/// (defenses::poisoning::plan_relabelling, schema rampart-data-relabel/1) atomically, for
/// `data.relabel` in a train config: the flagged points the model puts in another class take
/// that label, the others are left out.
int run_data_relabel(const RelabelCommand& command);

/// The arguments of `rampart audit-data`.
struct AuditCommand {
  std::string config_path;
  std::vector<std::string> overrides;  ///< --set KEY=VALUE
  std::string out = "runs/audit";      ///< --out DIR
};

/// `rampart audit-data CONFIG [--out DIR]`: reads the features of the config's `data` from the
/// model (its checkpoint, or one trained on the data by the `train` recipe first), runs the
/// `audit:` section's poisoning detectors and writes DIR/audit.json (`flagged`: the indices
/// judged poisoned), audit.md and audit.html.
int run_audit_data(const AuditCommand& command);

}  // namespace rampart::cli
