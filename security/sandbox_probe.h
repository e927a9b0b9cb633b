#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace rampart::security {

/// Limits and inputs of the sandboxed probe.
struct ProbeOptions {
  /// The model's input, batch dimension included ([1, C, H, W]); the batch size is ignored.
  /// Empty: the probe infers it from the first convolution or linear layer's weight, trying
  /// the usual image sizes; when nothing fits, the model is loaded and judged but never run.
  std::vector<int64_t> input_shape;
  double range_low = 0.0, range_high = 1.0;  ///< inputs the behavioural checks draw from
  /// Address space the child may add to what it has at fork (RLIMIT_AS = current + this).
  int64_t memory_bytes = int64_t{4} << 30;
  int64_t cpu_seconds = 60;     ///< RLIMIT_CPU
  double wall_seconds = 60.0;   ///< the parent kills the child after this long
  /// Operators refused on top of the built-in policy (`security.deny_operators`).
  std::vector<std::string> denied_operators;
};

/// What the child reported, or why the model was rejected.
struct ProbeResult {
  bool accepted = false;
  bool ran = false;  ///< accepted and run: false for "loaded and judged, never run"
  std::string reason;  ///< empty when accepted
  std::string not_run_reason;  ///< accepted but not run: why no input shape fitted
  /// Every node kind in the module's graphs (security::graph_operators), as the child saw them.
  std::vector<std::string> operators;
  std::vector<int64_t> input_shape;  ///< what it ran on ([1, ...]); empty when it did not run
  bool input_inferred = false;       ///< input_shape came from the graph, not from the caller
  std::vector<int64_t> output_shape;  ///< on the batch-1 zero input
  bool finite = false;
  double load_seconds = 0, forward_seconds = 0;
};

/// Loads the TorchScript archive in `bytes` in a forked child confined by
/// security::confine_process (no file system, no network, no new processes, rlimits; its pipe
/// to the parent is its only descriptor), so that nothing the model does at load
/// (`__setstate__`) or in a forward pass reaches Rampart's process or the machine. The child:
/// 1. loads the module from the bytes already in its memory;
/// 2. walks every graph the module can run (security::graph_operators) and sends the node kinds;
///    the parent refuses the model when any kind fails security::judge_operator, and the child
///    runs nothing when one does;
/// 3. with an input shape (given or inferred), runs the behavioural checks: forward passes on
///    zeros and on seeded uniform noise in [range_low, range_high], batch sizes 1 and 4, with
///    and without gradients; the outputs must be finite floating-point [B, K] logits, equal on
///    a repeated input (deterministic), equal row by row whatever the batch around them, and
///    equal with gradients enabled.
/// It answers over the pipe with a fixed-size header and the operator names, all validated by
/// the parent. A crash, a signal, a limit, a timeout, a malformed answer, a refused operator or
/// a failed check rejects the model, with the reason in words (model-controlled text escaped).
ProbeResult probe_model(const std::string& bytes, const ProbeOptions& options);

/// What went wrong in libtorch, in one line: the last line of the message (a TorchScript
/// traceback comes first and the cause last), without c10's C++ backtrace.
std::string exception_cause(const std::exception& e);

/// Whether `cause` (exception_cause) reports a failed allocation: the memory limit was hit.
bool is_out_of_memory(const std::string& cause);

/// `text` with every byte outside printable ASCII written as \xNN: for strings a model
/// controls (exception messages, names) before they reach a terminal or a report.
std::string escape_untrusted(const std::string& text);

}  // namespace rampart::security
