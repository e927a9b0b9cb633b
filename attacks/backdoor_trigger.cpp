#include "attacks/backdoor_trigger.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace rampart::attacks {

std::pair<int64_t, int64_t> TriggerSpec::corner(int64_t height, int64_t width) const {
  const int64_t r = row < 0 ? height - size - 1 : row;
  const int64_t c = col < 0 ? width - size - 1 : col;
  if (r < 0 || c < 0 || r + size > height || c + size > width) {
    throw ConfigError("trigger: a " + std::to_string(size) + "x" + std::to_string(size) +
                      " patch at (" + std::to_string(r) + ", " + std::to_string(c) +
                      ") does not fit " + std::to_string(height) + "x" + std::to_string(width) +
                      " images");
  }
  return {r, c};
}

at::Tensor TriggerSpec::apply(const at::Tensor& images) const {
  at::Tensor out = images.to(at::kFloat).clone();
  const int64_t height = out.size(2), width = out.size(3);
  if (type == "blend") {
    at::Generator generator = at::detail::createCPUGenerator(pattern_seed);
    const at::Tensor pattern =
        at::rand({out.size(1), height, width}, generator, at::kFloat) * (range_max - range_min) +
        range_min;
    return out.mul_(1.0 - alpha).add_(pattern.to(out.device()).unsqueeze(0), alpha);
  }
  const auto [r, c] = corner(height, width);
  at::Tensor patch = at::full({size, size}, value, at::kFloat);
  if (pattern == "custom") {
    patch = at::tensor(pattern_values, at::kDouble).to(at::kFloat).reshape({size, size});
  } else if (pattern == "checker") {
    const at::Tensor parity = (at::arange(size).unsqueeze(1) + at::arange(size).unsqueeze(0)).remainder(2);
    patch = at::where(parity.eq(0), patch, at::full_like(patch, range_min));
  }
  out.slice(2, r, r + size).slice(3, c, c + size).copy_(patch.to(out.device()).expand({out.size(0), out.size(1), size, size}));
  return out;
}

std::string TriggerSpec::describe() const {
  char text[160];
  if (type == "blend") {
    std::snprintf(text, sizeof(text), "blend alpha %g, noise pattern seed %llu", alpha,
                  static_cast<unsigned long long>(pattern_seed));
  } else {
    // The default position (row, col -1) is 1 pixel in from the bottom-right: (H-4, W-4) for 3x3.
    const auto position = [&](int64_t at, const char* extent) {
      return at >= 0 ? std::to_string(at) : std::string(extent) + "-" + std::to_string(size + 1);
    };
    if (pattern == "custom") {
      std::snprintf(text, sizeof(text), "patch %lldx%lld custom pattern at (%s, %s)",
                    static_cast<long long>(size), static_cast<long long>(size),
                    position(row, "H").c_str(), position(col, "W").c_str());
    } else {
      std::snprintf(text, sizeof(text), "patch %lldx%lld %s at (%s, %s), value %g",
                    static_cast<long long>(size), static_cast<long long>(size), pattern.c_str(),
                    position(row, "H").c_str(), position(col, "W").c_str(), value);
    }
  }
  return text;
}

nlohmann::json TriggerSpec::to_json() const {
  if (type == "blend") return {{"type", "blend"}, {"alpha", alpha}, {"pattern_seed", pattern_seed}};
  if (pattern == "custom") {
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t r = 0; r < size; ++r) {
      rows.push_back(std::vector<double>(pattern_values.begin() + r * size,
                                         pattern_values.begin() + (r + 1) * size));
    }
    return {{"type", "patch"}, {"size", size}, {"row", row}, {"col", col}, {"pattern", rows}};
  }
  return {{"type", "patch"}, {"size", size}, {"row", row},
          {"col", col},      {"value", value}, {"pattern", pattern}};
}

TriggerSpec parse_trigger_spec(const core::ConfigNode& node, double range_min, double range_max) {
  TriggerSpec t;
  t.range_min = range_min;
  t.range_max = range_max;
  t.type = node.get_choice("type", {"patch", "blend"}, "patch");
  if (t.type == "patch") {
    node.expect_keys({"type", "size", "row", "col", "random_position", "value", "pattern"});
    t.size = node.get_int("size", 3, 1, 1024);
    t.row = node.get_int("row", -1, -1);
    t.col = node.get_int("col", -1, -1);
    t.random_position = node.get_bool("random_position", false);
    if (t.random_position && (node.has("row") || node.has("col"))) {
      node.fail("random_position draws row and col: give one or the other");
    }
    if (node.is_list("pattern")) {
      const auto rows = node.get_double_matrix("pattern", range_min, range_max);
      const auto n = static_cast<int64_t>(rows.size());
      if (static_cast<int64_t>(rows.front().size()) != n) {
        node.fail_at("pattern", "a patch pattern is square: " + std::to_string(n) + " rows of " +
                                    std::to_string(rows.front().size()) + " values");
      }
      if (node.has("size") && t.size != n) {
        node.fail_at("size", "is " + std::to_string(t.size) + " but the pattern is " +
                                 std::to_string(n) + "x" + std::to_string(n));
      }
      if (node.has("value")) node.fail_at("value", "a pattern gives every pixel its value: give one or the other");
      t.size = n;
      t.pattern = "custom";
      for (const auto& r : rows) t.pattern_values.insert(t.pattern_values.end(), r.begin(), r.end());
    } else {
      t.value = node.get_double("value", range_max, range_min, range_max);
      t.pattern = node.get_choice("pattern", {"solid", "checker"}, "solid");
    }
  } else {
    node.expect_keys({"type", "alpha", "pattern_seed"});
    t.alpha = node.get_double("alpha", 0.2, 0.0, 1.0);
    t.pattern_seed = static_cast<uint64_t>(node.get_int("pattern_seed", 0, 0));
  }
  return t;
}

}  // namespace rampart::attacks
