#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "security/pickle_inspector.h"
#include "security/zip_inspector.h"

namespace rampart::security {

/// Limits and policy of the TorchScript inspection.
struct TorchScriptLimits {
  ArchiveLimits archive;
  int64_t max_tensor_rank = 32;
  int64_t max_tensor_numel = int64_t{1} << 34;
  /// The archive's `version` record must lie in this range (libtorch's supported formats).
  uint64_t min_version = 1;
  uint64_t max_version = 10;
  /// Operators that touch files or the process: refused even though libtorch registers them.
  std::vector<std::string> denied_operators{"aten::from_file", "aten::save",
                                            "aten::_save_for_mobile", "prim::Print"};
};

/// Everything the inspection found, for `rampart scan` and the report.
struct TorchScriptInspection {
  std::string prefix;
  int64_t records = 0;
  uint64_t bytes = 0;  ///< uncompressed records
  uint64_t version = 0;
  std::vector<std::string> pickles;    ///< pickle records disassembled
  std::vector<std::string> globals;    ///< every global found, "module.name", once each
  std::vector<std::string> operators;  ///< operators the code calls, sorted ("aten::conv2d")
  int64_t storages = 0, tensors = 0;
  std::vector<InspectionError> problems;  ///< empty: accepted
  bool accepted() const { return problems.empty(); }
};

/// Whether libtorch registers an operator ("aten::conv2d").
using OperatorRegistry = std::function<bool(const std::string& name)>;

/// Inspects a TorchScript archive held in memory before libtorch sees it: the strict zip
/// checks (a failure there ends the inspection), the `version` record, every pickle record
/// (globals against libtorch's own needs: tensor rebuild functions, storage types,
/// collections.OrderedDict, torch.jit._pickle.*, and classes whose code the archive holds),
/// every storage and tensor those pickles declare (the record exists and is large enough,
/// rank and element caps, overflow-checked), and the operators the code calls (registered in
/// this libtorch, not denied). Collects every problem it can (one per record at most).
TorchScriptInspection inspect_torchscript(std::string_view bytes, const TorchScriptLimits& limits,
                                          const OperatorRegistry& registered);

/// The policy for one archive: "" when (module, name) may appear in its pickles, else why not.
/// `has_class(module, name)` says whether the archive's code defines that class.
std::string torchscript_global_policy(
    const std::string& module, const std::string& name,
    const std::function<bool(const std::string&, const std::string&)>& has_class);

}  // namespace rampart::security
