#pragma once

namespace rampart::security {

/// Routes libtorch's warnings (among them `aten::warn`, which TorchScript compiles Python's
/// `warnings.warn` to, so a model's own text) to Rampart's log as one escaped line each
/// ("rampart: warning: libtorch: ..."), instead of libtorch's default handler printing them raw
/// to stderr: a model cannot put terminal escapes or forged result lines on the screen. Call
/// once, after logging is set up; the handler lives for the rest of the process.
void route_libtorch_warnings_to_log();

}  // namespace rampart::security
