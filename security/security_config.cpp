#include "security/security_config.h"

#include <cctype>

namespace rampart::security {
namespace {

// "aten::from_file": a namespace and a name, identifier characters only.
bool is_operator_name(const std::string& name) {
  const std::size_t sep = name.find("::");
  if (sep == std::string::npos || sep == 0 || sep + 2 >= name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (i == sep || i == sep + 1) continue;
    const auto ch = static_cast<unsigned char>(name[i]);
    if (!std::isalnum(ch) && ch != '_' && ch != '.') return false;
  }
  return true;
}

}  // namespace

IntakePolicy parse_security_config(const core::ConfigNode& root) {
  IntakePolicy policy;
  const auto node = root.optional_child("security");
  if (!node) return policy;
  if (!node->is_map()) node->fail("'security' is a mapping (allow_unpinned, allowlist, ...)");
  node->expect_keys({"allow_unpinned", "allowlist", "max_model_bytes", "probe", "deny_operators",
                     "sandbox"});
  policy.allow_unpinned = node->get_bool("allow_unpinned", false);
  if (node->has("allowlist")) {
    const std::string file = node->get_string("allowlist");
    if (file.empty()) node->fail_at("allowlist", "must name a file of SHA-256 hashes");
    policy.allowlist = std::make_shared<const Allowlist>(read_allowlist(file));
  }
  policy.max_model_bytes =
      node->get_int("max_model_bytes", policy.max_model_bytes, 1024, int64_t{1} << 40);
  if (const auto probe = node->optional_child("probe")) {
    probe->expect_keys({"memory_mib", "cpu_seconds", "timeout_seconds"});
    ProbeOptions& o = policy.probe_options;
    o.memory_bytes = probe->get_int("memory_mib", o.memory_bytes >> 20, 64, 1 << 20) << 20;
    o.cpu_seconds = probe->get_int("cpu_seconds", o.cpu_seconds, 1, 86400);
    o.wall_seconds = probe->get_double("timeout_seconds", o.wall_seconds, 0.1, 86400);
  }
  if (const auto sandbox = node->optional_child("sandbox")) {
    sandbox->expect_keys({"memory_mib", "call_seconds"});
    WorkerLimits& w = policy.worker;
    w.memory_bytes = sandbox->get_int("memory_mib", w.memory_bytes >> 20, 64, 1 << 24) << 20;
    w.call_seconds = sandbox->get_double("call_seconds", w.call_seconds, 0.1, 86400 * 7);
  }
  if (node->has("deny_operators")) {
    policy.denied_operators = node->get_string_list("deny_operators");
    for (const auto& name : policy.denied_operators) {
      if (!is_operator_name(name)) {
        node->fail_at("deny_operators",
                      "'" + name + "' is not an operator name such as aten::from_file");
      }
    }
  }
  return policy;
}

}  // namespace rampart::security
