#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "security/inspection_error.h"

namespace rampart::security {

/// A storage that a pickle references through a persistent id
/// ('storage', torch.FloatStorage, key, location, numel).
struct StorageRef {
  std::string key;       ///< record data/<key>
  std::string type;      ///< FloatStorage, ...
  int64_t itemsize = 0;  ///< bytes per element of `type`
  int64_t numel = 0;
};

/// A tensor rebuilt by torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...).
struct TensorRef {
  std::string storage_key;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

/// What a pickle contains that matters for safety.
struct PickleSummary {
  int protocol = 0;
  int64_t opcodes = 0;
  std::vector<std::string> globals;  ///< "module.name", each once, in order of appearance
  std::vector<StorageRef> storages;
  std::vector<TensorRef> tensors;
};

/// Decides whether a global ("module", "name") may appear: returns "" to allow, else why not.
using GlobalPolicy = std::function<std::string(const std::string& module, const std::string& name)>;

/// Disassembles a pickle (protocols 0 to 5) without executing anything: it follows the stack,
/// the marks and the memo (PUT, GET, MEMOIZE), so that STACK_GLOBAL's module and name are
/// resolved even when they come from the memo, and asks `policy` about every GLOBAL, INST and
/// STACK_GLOBAL. Storage persistent ids and _rebuild_tensor_v2 calls are collected for the
/// caller's checks. Throws InspectionError: bad_pickle (malformed, truncated, unknown opcode,
/// an unresolvable STACK_GLOBAL, extension codes, out-of-band buffers, bytes after STOP) or
/// forbidden_global (naming the global). `record` names the pickle in messages.
/// `deadline`: past it, the inspection stops with InspectionError("inspection_budget").
PickleSummary inspect_pickle(
    std::string_view bytes, const std::string& record, const GlobalPolicy& policy,
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

/// Bytes per element of a storage type name ("FloatStorage" -> 4), 0 when unknown.
int64_t storage_itemsize(const std::string& type);

}  // namespace rampart::security
