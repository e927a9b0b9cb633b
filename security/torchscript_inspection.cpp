#include "security/torchscript_inspection.h"

#include "security/process_sandbox.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

namespace rampart::security {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool identifier_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

uint64_t parse_version(const std::string& text) {
  std::string digits = text;
  while (!digits.empty() && (digits.back() == '\n' || digits.back() == '\r')) digits.pop_back();
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw InspectionError("unsupported_version",
                          "the version record is not a number: '" + text.substr(0, 32) + "'");
  }
  return std::stoull(digits);
}

// a * b, or false when it overflows int64.
bool multiply(int64_t a, int64_t b, int64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
bool add(int64_t a, int64_t b, int64_t& out) { return !__builtin_add_overflow(a, b, &out); }

void check_tensors(const std::string& record, const PickleSummary& pickle, const Archive& archive,
                   const TorchScriptLimits& limits) {
  // libtorch reads constants.pkl's storages from constants/ (frozen modules keep their
  // tensors there) and every other pickle's from data/.
  const std::string folder = folded_name(record) == "constants.pkl" ? "constants/" : "data/";
  std::map<std::string, StorageRef> storages;
  for (const auto& s : pickle.storages) {
    const bool simple_key = !s.key.empty() && s.key.size() <= 64 &&
                            std::all_of(s.key.begin(), s.key.end(), identifier_char);
    if (!simple_key) throw InspectionError("bad_storage", record + ": storage key '" + s.key + "'");
    const ArchiveEntry* data = archive.find(folder + s.key);
    if (!data) {
      throw InspectionError("bad_storage", record + ": storage '" + s.key + "' has no record " +
                                               folder + s.key);
    }
    // libtorch builds a storage once, from its first declaration: a second one with another
    // type or size would be checked against bytes libtorch never reads that way.
    if (const auto seen = storages.find(s.key); seen != storages.end()) {
      if (seen->second.type != s.type || seen->second.numel != s.numel) {
        throw InspectionError("bad_storage", record + ": storage '" + s.key +
                                                 "' is declared twice, as " + seen->second.type +
                                                 " and " + s.type);
      }
      continue;
    }
    int64_t bytes = 0;
    if (s.numel > limits.max_tensor_numel || !multiply(s.numel, s.itemsize, bytes) ||
        static_cast<uint64_t>(bytes) > data->size) {
      throw InspectionError("bad_storage", record + ": storage '" + s.key + "' declares " +
                                               std::to_string(s.numel) + " " + s.type +
                                               " elements but its record holds " +
                                               std::to_string(data->size) + " bytes");
    }
    storages[s.key] = s;
  }
  for (const auto& t : pickle.tensors) {
    const auto it = storages.find(t.storage_key);
    if (it == storages.end()) {
      throw InspectionError("bad_storage", record + ": a tensor uses an undeclared storage");
    }
    if (static_cast<int64_t>(t.sizes.size()) > limits.max_tensor_rank) {
      throw InspectionError("tensor_too_large", record + ": a tensor of rank " +
                                                    std::to_string(t.sizes.size()) +
                                                    " exceeds the limit of " +
                                                    std::to_string(limits.max_tensor_rank));
    }
    int64_t numel = 1, extent = t.offset;
    bool ok = t.offset >= 0;
    for (std::size_t i = 0; i < t.sizes.size() && ok; ++i) {
      ok = t.sizes[i] >= 0 && t.strides[i] >= 0 && multiply(numel, t.sizes[i], numel);
      int64_t reach = 0;
      if (ok && t.sizes[i] > 0) ok = multiply(t.sizes[i] - 1, t.strides[i], reach) && add(extent, reach, extent);
    }
    int64_t tensor_bytes = 0;
    ok = ok && multiply(numel, it->second.itemsize, tensor_bytes);
    // Bytes, not elements: a stride-0 view of 2^34 elements costs nothing in the file and
    // 2^34 x itemsize bytes as soon as anything makes it contiguous.
    if (!ok || numel > limits.max_tensor_numel || tensor_bytes > limits.max_tensor_bytes) {
      throw InspectionError("tensor_too_large", record + ": a tensor declares more than " +
                                                    std::to_string(limits.max_tensor_numel) +
                                                    " elements or " +
                                                    std::to_string(limits.max_tensor_bytes) +
                                                    " bytes, or an overflowing shape");
    }
    if (numel > 0 && extent >= it->second.numel) {
      throw InspectionError("bad_storage", record + ": a tensor reaches element " +
                                               std::to_string(extent) + " of storage '" +
                                               t.storage_key + "', which holds " +
                                               std::to_string(it->second.numel));
    }
  }
}

}  // namespace

std::string torchscript_global_policy(
    const std::string& module, const std::string& name,
    const std::function<bool(const std::string&, const std::string&)>& has_class,
    const TorchScriptLimits& limits) {
  // Rebuild functions whose (storage, offset, size, stride) the pickle inspection reads and
  // check_tensors bounds; _rebuild_parameter wraps a tensor rebuilt by one of them.
  static const std::set<std::string> kRebuild{"_rebuild_tensor_v2", "_rebuild_tensor",
                                              "_rebuild_qtensor", "_rebuild_parameter"};
  if (module == "torch._utils" && kRebuild.count(name)) return "";
  if (module == "torch._utils" && name.rfind("_rebuild_sparse", 0) == 0) {
    return "sparse tensors are refused (their indices are not checked against their sizes)";
  }
  if (module == "torch" && (storage_itemsize(name) > 0 || name == "device")) return "";
  // Plain values that quantized tensors and packed weights pickle: dtypes and schemes.
  static const std::set<std::string> kTorchValues{
      "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
      "per_channel_symmetric", "per_channel_affine_float_qparams", "qint8", "quint8", "qint32",
      "quint4x2", "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int8",
      "uint8", "int16", "short", "int32", "int", "int64", "long", "bool", "complex64",
      "complex128"};
  if (module == "torch" && kTorchValues.count(name)) return "";
  if (module == "collections" && name == "OrderedDict") return "";
  if (module == "torch.jit._pickle") return "";
  if (module == "__torch__.torch.classes.quantized") {
    return limits.custom_class_registered && limits.custom_class_registered(module + "." + name)
               ? ""
               : "libtorch registers no such quantized class";
  }
  // Every other C++ custom class (xnnpack, sparse, c10d, rpc, profiler) is resolved from
  // libtorch's registry before the archive's code is read, and loading runs its C++
  // __setstate__: a class of that name in the archive's code would only be a decoy.
  if (module == "__torch__.torch.classes" || module.compare(0, 24, "__torch__.torch.classes.") == 0) {
    return "C++ custom classes other than quantized packed weights run their own __setstate__ "
           "while loading";
  }
  if (module == "__torch__" || module.compare(0, 10, "__torch__.") == 0) {
    return has_class(module, name) ? "" : "the archive's code defines no such class";
  }
  static const std::set<std::string> kDangerous{
      "os",      "posix",   "nt",       "subprocess", "builtins", "__builtin__", "runpy",
      "importlib", "sys",   "shutil",   "socket",     "pickle",   "marshal",     "ctypes",
      "webbrowser", "pty",  "code",     "codeop",     "types",    "operator",    "functools",
      "commands", "platform", "signal", "multiprocessing", "asyncio", "pdb",     "timeit"};
  const std::string root = module.substr(0, module.find('.'));
  if (kDangerous.count(root)) return "it can run code or reach the system";
  return "libtorch's unpickler does not need it";
}

namespace {

TorchScriptInspection inspect_unbounded(std::string_view bytes, const TorchScriptLimits& limits) {
  TorchScriptInspection out;
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(limits.max_seconds));
  Archive archive;
  try {
    if (!looks_like_zip(bytes) && !bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x80) {
      throw InspectionError("not_an_archive",
                            "a bare pickle, not a TorchScript zip archive (legacy torch.save "
                            "files execute code when Python loads them)");
    }
    archive = inspect_archive(bytes, limits.archive);
  } catch (const InspectionError& e) {
    out.problems.push_back(e);
    return out;
  }
  out.prefix = archive.prefix;
  out.records = static_cast<int64_t>(archive.entries.size());
  out.bytes = archive.total_bytes;

  std::map<std::string, std::string> code;  // relative name -> text
  for (const auto& e : archive.entries) {
    const std::string relative = e.name.substr(archive.prefix.size() + 1);
    if (relative.compare(0, 5, "code/") == 0 && ends_with(relative, ".py")) {
      code[relative] = read_entry(bytes, e);
    }
  }
  try {
    const ArchiveEntry* version = archive.find("version");
    if (!version) version = archive.find(".data/version");
    if (!version) throw InspectionError("missing_record", "the archive has no version record");
    out.version = parse_version(read_entry(bytes, *version).substr(0, 64));
    if (out.version < limits.min_version || out.version > limits.max_version) {
      throw InspectionError("unsupported_version",
                            "format version " + std::to_string(out.version) +
                                " is outside what this libtorch reads (" +
                                std::to_string(limits.min_version) + " to " +
                                std::to_string(limits.max_version) + ")");
    }
    if (!archive.find("data.pkl")) {
      throw InspectionError("missing_record", "the archive has no data.pkl record");
    }
  } catch (const InspectionError& e) {
    out.problems.push_back(e);
  }

  // Every class each code record defines ("code/__torch__/a.py" + "Net"), read once: a pickle
  // naming a million globals must not search the code a million times.
  std::set<std::pair<std::string, std::string>> classes;
  for (const auto& [path, text] : code) {
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t end = std::min(text.find('\n', at), text.size());
      if (text.compare(at, 6, "class ") == 0) {
        std::size_t name_end = at + 6;
        while (name_end < end && identifier_char(text[name_end])) ++name_end;
        if (name_end < end && (text[name_end] == '(' || text[name_end] == ':')) {
          classes.emplace(path, text.substr(at + 6, name_end - at - 6));
        }
      }
      at = end + 1;
    }
  }
  auto has_class = [&](const std::string& module, const std::string& name) {
    std::string path = "code/" + module + ".py";
    std::replace(path.begin() + 5, path.end() - 3, '.', '/');
    return classes.count({path, name}) > 0;
  };
  const GlobalPolicy policy = [&](const std::string& module, const std::string& name) {
    return torchscript_global_policy(module, name, has_class, limits);
  };
  std::set<std::string> globals;
  for (const auto& e : archive.entries) {
    // Case folded: libtorch's reader finds CONSTANTS.PKL when it asks for constants.pkl.
    const std::string folded = folded_name(e.name);
    if (!ends_with(folded, ".pkl") && !ends_with(folded, ".debug_pkl")) continue;
    const std::string relative = e.name.substr(archive.prefix.size() + 1);
    out.pickles.push_back(relative);
    try {
      const PickleSummary pickle =
          inspect_pickle(read_entry(bytes, e), relative, policy, deadline);
      for (const auto& g : pickle.globals) {
        if (globals.insert(g).second) out.globals.push_back(g);
      }
      check_tensors(relative, pickle, archive, limits);
      out.storages += static_cast<int64_t>(pickle.storages.size());
      out.tensors += static_cast<int64_t>(pickle.tensors.size());
    } catch (const InspectionError& e2) {
      out.problems.push_back(e2);
    }
  }

  return out;
}

}  // namespace

TorchScriptInspection inspect_torchscript(std::string_view bytes,
                                          const TorchScriptLimits& limits) {
  try {
    const AddressSpaceCap cap(limits.max_memory_bytes);
    return inspect_unbounded(bytes, limits);
  } catch (const std::bad_alloc&) {
    TorchScriptInspection out;
    out.problems.emplace_back("inspection_budget",
                              "the inspection needed more than its " +
                                  std::to_string(limits.max_memory_bytes >> 20) +
                                  " MiB of memory");
    return out;
  }
}

}  // namespace rampart::security
