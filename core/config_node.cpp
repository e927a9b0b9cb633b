#include "core/config_node.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/error.h"

namespace rampart::core {
namespace {

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "an undefined value";
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

ConfigNode::ConfigNode(YAML::Node node, std::string path,
                       std::shared_ptr<const ConfigSource> source)
    : node_(std::move(node)), path_(std::move(path)), source_(std::move(source)) {}

std::string ConfigNode::location() const {
  for (const auto& key : source_->overridden) {
    if (path_ == key || path_.rfind(key + ".", 0) == 0 || path_.rfind(key + "[", 0) == 0) {
      return "--set " + key;
    }
  }
  const YAML::Mark mark = node_.Mark();
  if (mark.is_null()) return source_->file;
  return source_->file + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

std::string ConfigNode::where() const {
  const std::string at = location(), key = path_.empty() ? "config" : path_;
  // "--set data.batch_size: must be >= 1", not the key twice; a key under an overridden one
  // ("--set poison.trigger: poison.trigger.size: ...") keeps both.
  return at == "--set " + key ? at : at + ": " + key;
}

std::string ConfigNode::where(const std::string& key) const {
  return has(key) ? at(key).where() : where() + "." + key;
}

void ConfigNode::fail(const std::string& what) const { throw ConfigError(where() + ": " + what); }

std::string ConfigNode::child_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

bool ConfigNode::has(const std::string& key) const {
  return node_.IsMap() && node_[key] && !node_[key].IsNull();
}

void ConfigNode::expect_keys(const std::vector<std::string>& allowed) const {
  if (!node_.IsMap()) fail("expected a mapping, got " + describe(node_));
  std::set<std::string> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) {
      ConfigNode(it->first, path_, source_).fail("keys must be plain names");
    }
    const std::string key = it->first.Scalar();
    // YAML reads the first of two equal keys and drops the second unseen (epochs: 1, then
    // epochs: 3 further down, trained 1 epoch).
    if (!seen.insert(key).second) {
      ConfigNode(it->first, child_path(key), source_).fail("'" + key + "' appears twice in this mapping");
    }
    bool known = false;
    for (const auto& a : allowed) known = known || a == key;
    if (!known) {
      ConfigNode(it->first, child_path(key), source_)
          .fail("unknown key '" + key + "' (expected one of: " + join(allowed) + ")");
    }
  }
}

void ConfigNode::expect_no_empty_values(const std::string& what,
                                        const std::vector<std::string>& keys) const {
  if (!node_.IsMap()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->second.IsNull() && it->first.IsScalar() &&
        (keys.empty() || std::find(keys.begin(), keys.end(), it->first.Scalar()) != keys.end())) {
      ConfigNode(it->first, child_path(it->first.Scalar()), source_).fail(what);
    }
  }
}

void ConfigNode::fail_at(const std::string& key, const std::string& what) const {
  if (has(key)) at(key).fail(what);
  fail(what);
}

ConfigNode ConfigNode::at(const std::string& key) const {
  if (!node_.IsMap()) fail("expected a mapping, got " + describe(node_));
  return ConfigNode(node_[key], child_path(key), source_);
}

ConfigNode ConfigNode::child(const std::string& key) const {
  if (!has(key)) fail("missing required key '" + key + "'");
  ConfigNode c = at(key);
  if (!c.node_.IsMap()) c.fail("expected a mapping, got " + describe(c.node_));
  return c;
}

std::optional<ConfigNode> ConfigNode::optional_child(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  ConfigNode c = at(key);
  if (!c.node_.IsMap()) c.fail("expected a mapping, got " + describe(c.node_));
  return c;
}

std::vector<ConfigNode> ConfigNode::list(const std::string& key) const {
  if (!has(key)) return {};
  ConfigNode c = at(key);
  if (!c.node_.IsSequence()) c.fail("expected a list, got " + describe(c.node_));
  return c.list_items();
}

int64_t ConfigNode::get_int(const std::string& key, std::optional<int64_t> fallback, int64_t min,
                            int64_t max) const {
  if (!has(key)) {
    if (fallback) return *fallback;
    fail("missing required key '" + key + "'");
  }
  return at(key).as_int(min, max);
}

double ConfigNode::get_double(const std::string& key, std::optional<double> fallback, double min,
                              double max) const {
  if (!has(key)) {
    if (fallback) return *fallback;
    fail("missing required key '" + key + "'");
  }
  return at(key).as_double(min, max);
}

bool ConfigNode::get_bool(const std::string& key, std::optional<bool> fallback) const {
  if (!has(key)) {
    if (fallback) return *fallback;
    fail("missing required key '" + key + "'");
  }
  ConfigNode c = at(key);
  try {
    if (c.node_.IsScalar()) return c.node_.as<bool>();
  } catch (const YAML::Exception&) {
  }
  c.fail("expected true or false, got " + describe(c.node_));
}

std::string ConfigNode::get_string(const std::string& key,
                                   std::optional<std::string> fallback) const {
  if (!has(key)) {
    if (fallback) return *fallback;
    fail("missing required key '" + key + "'");
  }
  ConfigNode c = at(key);
  if (!c.node_.IsScalar()) c.fail("expected a string, got " + describe(c.node_));
  return c.node_.Scalar();
}

std::string ConfigNode::get_choice(const std::string& key, const std::vector<std::string>& choices,
                                   std::optional<std::string> fallback) const {
  const std::string value = get_string(key, fallback);
  for (const auto& choice : choices) {
    if (choice == value) return value;
  }
  (has(key) ? at(key) : *this)
      .fail("unknown value '" + value + "' (expected one of: " + join(choices) + ")");
}

std::vector<std::string> ConfigNode::get_string_list(const std::string& key) const {
  if (!has(key)) fail("missing required key '" + key + "'");
  ConfigNode c = at(key);
  if (c.node_.IsScalar()) return {c.node_.Scalar()};
  if (!c.node_.IsSequence()) c.fail("expected a list of strings, got " + describe(c.node_));
  std::vector<std::string> out;
  for (const auto& item : c.list_items()) out.push_back(item.get_scalar_string());
  return out;
}

std::vector<int64_t> ConfigNode::get_int_list(const std::string& key, int64_t min) const {
  if (!has(key)) fail("missing required key '" + key + "'");
  ConfigNode c = at(key);
  if (!c.node_.IsSequence()) c.fail("expected a list of integers, got " + describe(c.node_));
  std::vector<int64_t> out;
  for (const auto& item : c.list_items()) out.push_back(item.as_int(min, INT64_MAX));
  return out;
}

std::vector<double> ConfigNode::get_double_list(const std::string& key) const {
  if (!has(key)) fail("missing required key '" + key + "'");
  ConfigNode c = at(key);
  if (c.node_.IsScalar()) return {get_double(key)};
  if (!c.node_.IsSequence())
    c.fail("expected a number or a list of numbers, got " + describe(c.node_));
  std::vector<double> out;
  for (const auto& item : c.list_items()) out.push_back(item.as_double(-1e300, 1e300));
  return out;
}

bool ConfigNode::is_list(const std::string& key) const {
  return has(key) && at(key).node_.IsSequence();
}

std::vector<std::vector<double>> ConfigNode::get_double_matrix(const std::string& key, double min,
                                                               double max) const {
  if (!has(key)) fail("missing required key '" + key + "'");
  const ConfigNode c = at(key);
  if (!c.node_.IsSequence() || c.node_.size() == 0) {
    c.fail("expected a list of rows of numbers, got " + describe(c.node_));
  }
  std::vector<std::vector<double>> out;
  for (const auto& row : c.list_items()) {
    if (!row.node_.IsSequence() || row.node_.size() == 0) {
      row.fail("expected a row (a list of numbers), got " + describe(row.node_));
    }
    if (!out.empty() && row.node_.size() != out.front().size()) {
      row.fail("has " + std::to_string(row.node_.size()) + " numbers, the first row " +
               std::to_string(out.front().size()));
    }
    std::vector<double> values;
    for (const auto& item : row.list_items()) values.push_back(item.as_double(min, max));
    out.push_back(std::move(values));
  }
  return out;
}

std::vector<ConfigNode> ConfigNode::list_items() const {
  std::vector<ConfigNode> out;
  for (std::size_t i = 0; i < node_.size(); ++i) {
    out.emplace_back(node_[i], path_ + "[" + std::to_string(i) + "]", source_);
  }
  return out;
}

std::string ConfigNode::get_scalar_string() const {
  if (!node_.IsScalar()) fail("expected a string, got " + describe(node_));
  return node_.Scalar();
}

int64_t ConfigNode::as_int(int64_t min, int64_t max) const {
  int64_t value = 0;
  try {
    if (!node_.IsScalar()) throw YAML::Exception(YAML::Mark::null_mark(), "");
    value = node_.as<int64_t>();
  } catch (const YAML::Exception&) {
    fail("expected an integer, got " + describe(node_));
  }
  if (value < min) fail("must be >= " + std::to_string(min) + ", got " + std::to_string(value));
  if (value > max) fail("must be <= " + std::to_string(max) + ", got " + std::to_string(value));
  return value;
}

double ConfigNode::as_double(double min, double max) const {
  double value = 0;
  try {
    if (!node_.IsScalar()) throw YAML::Exception(YAML::Mark::null_mark(), "");
    value = node_.as<double>();
  } catch (const YAML::Exception&) {
    fail("expected a number, got " + describe(node_));
  }
  if (!std::isfinite(value)) fail("must be a finite number, got " + node_.Scalar());
  std::ostringstream range;
  if (value < min) range << "must be >= " << min << ", got " << value;
  if (value > max) range << "must be <= " << max << ", got " << value;
  if (!range.str().empty()) fail(range.str());
  return value;
}

std::string ConfigNode::dump() const {
  YAML::Emitter out;
  out << node_;
  return out.c_str();
}

std::string string_override(const std::string& key, const std::string& value) {
  std::string quoted = key + "=\"";
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      quoted += "\\x";
      quoted += hex[byte >> 4];
      quoted += hex[byte & 15];
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

namespace {

void apply_override(YAML::Node root, const std::string& assignment, ConfigSource& source) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set " + assignment + ": expected KEY=VALUE, e.g. --set data.limit=100");
  }
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  // `--set data.exclude=$AUDIT` with AUDIT unset would read as "no exclude" and switch the
  // sanitising off without a word: an empty value is refused; `null` removes a key.
  if (text.find_first_not_of(" \t") == std::string::npos) {
    throw ConfigError("--set " + assignment + ": no value (write " + key +
                      "=null to remove the key)");
  }
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set " + assignment + ": the value is not valid YAML: " + e.msg);
  }
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) throw ConfigError("--set " + assignment + ": empty component in key path");
    parts.push_back(part);
  }
  YAML::Node cur = root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (cur[parts[i]] && !cur[parts[i]].IsMap() && !cur[parts[i]].IsNull()) {
      throw ConfigError("--set " + assignment + ": '" + parts[i] +
                        "' is not a mapping in the config");
    }
    YAML::Node next = cur[parts[i]];
    cur.reset(next);
  }
  if (value.IsNull()) {
    cur.remove(parts.back());
  } else {
    cur[parts.back()] = value;
  }
  source.overridden.insert(key);
}

ConfigNode finish(YAML::Node root, std::shared_ptr<ConfigSource> source,
                  const std::vector<std::string>& overrides) {
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    throw ConfigError(source->file + ":1:1: config: expected a mapping at the top level");
  }
  for (const auto& assignment : overrides) apply_override(root, assignment, *source);
  return ConfigNode(root, "", source);
}

std::string yaml_error(const std::string& file, const YAML::Exception& e) {
  return file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
         ": invalid YAML: " + e.msg;
}

}  // namespace

ConfigNode load_config(const std::string& file, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw ConfigError(file + ": config file not found");
  }
  auto source = std::make_shared<ConfigSource>();
  source->file = file;
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    throw ConfigError(file + ": cannot read the config file");
  } catch (const YAML::Exception& e) {
    throw ConfigError(yaml_error(file, e));
  }
  return finish(root, source, overrides);
}

ConfigNode parse_config(const std::string& text, const std::string& name,
                        const std::vector<std::string>& overrides) {
  auto source = std::make_shared<ConfigSource>();
  source->file = name;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(yaml_error(name, e));
  }
  return finish(root, source, overrides);
}

}  // namespace rampart::core
