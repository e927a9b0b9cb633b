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
  /// A tensor's elements times its item size, whatever its strides (stride-0 views included).
  int64_t max_tensor_bytes = int64_t{4} << 30;
  /// Wall-clock budget of the whole inspection; past it the file is rejected
  /// ("inspection_budget"). Every step is linear, so only a huge file comes near it.
  double max_seconds = 30.0;
  /// Address space the inspection may add to the process (security::AddressSpaceCap); an
  /// allocation beyond it rejects the file ("inspection_budget"). The file's bytes are already
  /// in memory; the inspection copies code records, inflated records (64 MiB each at most) and
  /// pickle state.
  int64_t max_memory_bytes = int64_t{2} << 30;
  /// Whether libtorch registers a C++ custom class ("__torch__.torch.classes.quantized.
  /// LinearPackedParamsBase"): quantized models pickle their packed weights as one. Null: none.
  std::function<bool(const std::string& qualified_name)> custom_class_registered;
  /// The archive's `version` record must lie in this range (libtorch's supported formats).
  uint64_t min_version = 1;
  uint64_t max_version = 10;
};

/// Everything the inspection found, for `rampart scan` and the report.
struct TorchScriptInspection {
  std::string prefix;
  int64_t records = 0;
  uint64_t bytes = 0;  ///< uncompressed records
  uint64_t version = 0;
  std::vector<std::string> pickles;    ///< pickle records disassembled
  std::vector<std::string> globals;    ///< every global found, "module.name", once each
  int64_t storages = 0, tensors = 0;
  std::vector<InspectionError> problems;  ///< empty: accepted
  bool accepted() const { return problems.empty(); }
};

/// Inspects a TorchScript archive held in memory before libtorch sees it: the strict zip
/// checks (a failure there ends the inspection), the `version` record, every pickle record
/// (globals against libtorch's own needs: tensor rebuild functions, storage types,
/// collections.OrderedDict, torch.jit._pickle.*, and classes whose code the archive holds),
/// every storage and tensor those pickles declare (the record exists and is large enough,
/// rank and element caps, overflow-checked). Collects every problem it can (one per record at
/// most). Operators are not judged here, from the code's text, but on the compiled graph inside
/// the sandbox (security::probe_model): spelling cannot hide a node's kind.
TorchScriptInspection inspect_torchscript(std::string_view bytes, const TorchScriptLimits& limits);

/// The policy for one archive: "" when (module, name) may appear in its pickles, else why not.
/// `has_class(module, name)` says whether the archive's code defines that class; classes under
/// `__torch__.torch.classes.quantized` pass when `limits.custom_class_registered` says libtorch
/// registers them (their `__setstate__` is libtorch's own C++).
std::string torchscript_global_policy(
    const std::string& module, const std::string& name,
    const std::function<bool(const std::string&, const std::string&)>& has_class,
    const TorchScriptLimits& limits = {});

}  // namespace rampart::security
