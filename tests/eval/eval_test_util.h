#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "support/test_support.h"

namespace rampart::test {

/// Writes `yaml` to DIR/eval.yaml, replacing every "DIR" in it by `dir`; returns the path.
inline std::string write_eval_config(const std::string& dir, std::string yaml) {
  for (auto pos = yaml.find("DIR"); pos != std::string::npos; pos = yaml.find("DIR", pos)) {
    yaml.replace(pos, 3, dir);
  }
  write_bytes(dir + "/eval.yaml", yaml);
  return dir + "/eval.yaml";
}

/// Runs `rampart eval CONFIG --quiet [extra...]`.
inline ProcessResult run_eval(const std::string& config, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{rampart_binary(), "eval", config, "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_process(args);
}

inline nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(core::read_file(path));
}

}  // namespace rampart::test
