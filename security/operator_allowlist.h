#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rampart::security {

/// Whether an untrusted TorchScript graph may contain a node of this kind ("aten::conv2d"):
/// "" when it may, else the reason it may not. A kind passes only when it is on the allowlist
/// of pure tensor operators and TorchScript's own control flow (derived from what exported
/// models use: convolutions, linear algebra, activations, normalisation, pooling, attention,
/// recurrent cells, shape and indexing ops, quantized ops, list/str/scalar helpers) and not in
/// `extra_denied` (`security.deny_operators`). Kinds with effects outside the tensor math are
/// refused by name with their effect: files (aten::from_file, aten::save), printing
/// (prim::Print), RNG state (aten::manual_seed, aten::seed), profiling, threads (prim::fork),
/// RPC, and ops that build tensors over arbitrary memory (aten::set_, aten::from_blob-like).
/// Anything else is refused as "not on the allowlist".
std::string judge_operator(const std::string& kind, const std::vector<std::string>& extra_denied);

/// The operator list a sandboxed child sends back ('\n'-terminated node kinds), parsed by the
/// parent: false when it is malformed (a name that is empty, longer than 200 bytes, or holds a
/// byte other than letters, digits and `_:.<> `, or a last name without its '\n'); else `out`
/// holds the names in order. Every name then still goes through judge_operator.
bool parse_operator_list(std::string_view text, std::vector<std::string>& out);

/// The allowlist itself, sorted (for docs and tests).
std::vector<std::string> allowed_operators();

}  // namespace rampart::security
