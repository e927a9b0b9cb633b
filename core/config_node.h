#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace rampart::core {

/// Where a config came from: the YAML file and the keys that `--set` overrode.
struct ConfigSource {
  std::string file;
  std::set<std::string> overridden;  ///< dotted key paths set on the command line
};

/// A typed, validating view of one YAML node. Every accessor checks the type and range and
/// throws ConfigError (exit 2) naming `file:line:column`, the dotted key path and the problem;
/// a value that came from `--set` is named as such instead of a file position.
/// This is the one schema mechanism: each section's parser lists its keys with
/// `expect_keys` and reads them through these getters.
///
/// Example:
///   auto root = core::load_config("train.yaml", {"train.epochs=2"});
///   auto data = root.child("data");
///   data.expect_keys({"format", "images", "labels", "batch_size"});
///   int64_t bs = data.get_int("batch_size", 128, /*min=*/1);
class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<const ConfigSource> source);

  const std::string& path() const { return path_; }
  /// The config file this node was read from.
  const std::string& file() const { return source_->file; }
  /// "file:line:column" (or "--set key") for this node, for messages.
  std::string location() const;
  /// "<location>: <path>", what fail() puts before its message: for an error found later,
  /// when the value is used (a data offset that skips every point of the file).
  std::string where() const;
  /// where() of child `key` (the parent's location when the key is absent).
  std::string where(const std::string& key) const;
  /// Throws ConfigError "<location>: <path>: <what>".
  [[noreturn]] void fail(const std::string& what) const;
  /// Like fail(), located at child `key` when it is present.
  [[noreturn]] void fail_at(const std::string& key, const std::string& what) const;

  bool is_map() const { return node_.IsMap(); }
  bool has(const std::string& key) const;
  /// Rejects any key not in `allowed`, naming the first unknown one and where it is.
  void expect_keys(const std::vector<std::string>& allowed) const;
  /// Rejects a key given with no value (`key:` alone, or `~`), naming it and where it is, with
  /// `what` (where an empty value would otherwise read as an absent key and switch a check off).
  /// Only `keys` when it is not empty.
  void expect_no_empty_values(const std::string& what,
                              const std::vector<std::string>& keys = {}) const;
  /// A required map child.
  ConfigNode child(const std::string& key) const;
  /// A child that may be absent (null is treated as absent).
  std::optional<ConfigNode> optional_child(const std::string& key) const;
  std::vector<ConfigNode> list(const std::string& key) const;

  int64_t get_int(const std::string& key, std::optional<int64_t> fallback = std::nullopt,
                  int64_t min = INT64_MIN, int64_t max = INT64_MAX) const;
  double get_double(const std::string& key, std::optional<double> fallback = std::nullopt,
                    double min = -1e300, double max = 1e300) const;
  bool get_bool(const std::string& key, std::optional<bool> fallback = std::nullopt) const;
  std::string get_string(const std::string& key,
                         std::optional<std::string> fallback = std::nullopt) const;
  /// A string that must be one of `choices`.
  std::string get_choice(const std::string& key, const std::vector<std::string>& choices,
                         std::optional<std::string> fallback = std::nullopt) const;
  /// A list of strings; a single string is accepted as a one-element list.
  std::vector<std::string> get_string_list(const std::string& key) const;
  std::vector<int64_t> get_int_list(const std::string& key, int64_t min = INT64_MIN) const;
  std::vector<double> get_double_list(const std::string& key) const;
  /// True when child `key` is present and a list.
  bool is_list(const std::string& key) const;
  /// A non-empty list of equal-length, non-empty lists of numbers in [min, max] (a matrix, row by
  /// row); an error names the row or the entry.
  std::vector<std::vector<double>> get_double_matrix(const std::string& key, double min,
                                                     double max) const;

  /// The value as YAML text (for hashing and provenance).
  std::string dump() const;

 private:
  ConfigNode at(const std::string& key) const;
  std::vector<ConfigNode> list_items() const;
  std::string get_scalar_string() const;
  int64_t as_int(int64_t min, int64_t max) const;
  double as_double(double min, double max) const;
  std::string child_path(const std::string& key) const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const ConfigSource> source_;
};

/// Loads a YAML config file and applies `--set key=value` overrides (dotted paths; the value
/// is parsed as YAML, so `--set attacks=[...]` works). Throws ConfigError for syntax errors
/// (file:line:column), a missing file, or a malformed override.
ConfigNode load_config(const std::string& file, const std::vector<std::string>& overrides = {});

/// The `--set` override that gives `key` the string `value` as it is (a path from a command-line
/// option such as `--out`): double-quoted, so YAML reads no null (`~`), number, tag, comment
/// (`out #1`) or mapping (`a: b`) into it.
std::string string_override(const std::string& key, const std::string& value);

/// Parses YAML text as if it were the file `name` (tests and built-in configs).
ConfigNode parse_config(const std::string& text, const std::string& name,
                        const std::vector<std::string>& overrides = {});

}  // namespace rampart::core
