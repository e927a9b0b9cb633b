#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config_node.h"

namespace rampart::attacks {

/// A backdoor trigger, as the poisoning simulator stamps it on training points and the
/// evaluation's backdoor entry stamps it on test points.
///
/// - `patch` (BadNets, Gu et al. 2017): a size x size square at (row, col), every channel set
///   to `value` (`solid`), alternating value and range_min (`checker`), or to a pattern the
///   config gives pixel by pixel (`pattern: [[1, 0, 1], [0, 1, 0], [1, 0, 1]]`: size x size
///   values in the input range, the same in every channel; BadNets' own trigger was such a
///   pattern).
/// - `blend` (Chen et al. 2017, "blended injection"): x' = (1 - alpha) x + alpha k, where k is a
///   fixed uniform-noise image drawn from `pattern_seed` over the input range.
///
/// Example (YAML):
///   trigger: {type: patch, size: 3, row: 24, col: 24, value: 1.0}
///   trigger: {type: patch, row: 0, col: 0, pattern: [[1, 0, 1], [0, 1, 0], [1, 0, 1]]}
///   trigger: {type: blend, alpha: 0.2, pattern_seed: 7}
struct TriggerSpec {
  std::string type = "patch";  ///< patch | blend
  int64_t size = 3;
  int64_t row = -1, col = -1;  ///< top-left corner; -1: the bottom-right corner, 1 pixel in
  bool random_position = false;  ///< row and col drawn from the poisoning seed
  double value = 1.0;
  std::string pattern = "solid";  ///< solid | checker | custom (patch)
  std::vector<double> pattern_values;  ///< custom: size x size values, row by row
  double alpha = 0.2;             ///< blend
  uint64_t pattern_seed = 0;      ///< blend: the noise image
  double range_min = 0.0, range_max = 1.0;  ///< the input range (model.input.range)

  /// The top-left corner for images of `height` x `width`: (row, col), or the bottom-right
  /// default. Throws ConfigError when the patch does not fit.
  std::pair<int64_t, int64_t> corner(int64_t height, int64_t width) const;
  /// `images` ([N, C, H, W], float) with the trigger applied (a new tensor).
  at::Tensor apply(const at::Tensor& images) const;
  /// One line for logs and reports: "patch 3x3 at (24, 24), value 1".
  std::string describe() const;
  /// The trigger as the config's keys (type, size, row, col, value, pattern (a custom one as
  /// its rows, without value) | type, alpha, pattern_seed): what poison.json and rampart.poison
  /// record of the trigger drawn; parse_trigger_spec reads it back.
  nlohmann::json to_json() const;
};

/// Parses a `trigger:` section; `range` is model.input.range. Errors name the key.
TriggerSpec parse_trigger_spec(const core::ConfigNode& node, double range_min, double range_max);

}  // namespace rampart::attacks
