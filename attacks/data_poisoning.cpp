#include "attacks/data_poisoning.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "core/error.h"

namespace rampart::attacks {

PoisonSpec parse_poison_spec(const core::ConfigNode& node, int64_t num_classes, double range_min,
                             double range_max) {
  node.expect_keys({"attack", "rate", "target", "trigger", "flip_from", "flip_to", "seed"});
  PoisonSpec spec;
  spec.attack = node.get_choice("attack", {"badnets", "blend", "label_flip"});
  spec.rate = node.get_double("rate", 0.05, 0.0, 1.0);
  spec.seed = static_cast<uint64_t>(node.get_int("seed", 0, 0));
  if (spec.attack == "label_flip") {
    for (const char* key : {"target", "trigger"}) {
      if (node.has(key)) node.fail_at(key, "is for a backdoor (badnets, blend), not label_flip");
    }
    if (node.has("flip_from") != node.has("flip_to")) {
      node.fail("flip_from and flip_to go together (class-to-class flips); without them each "
                "poisoned point gets a uniformly drawn other class");
    }
    spec.flip_from = node.get_int("flip_from", -1, 0, num_classes - 1);
    spec.flip_to = node.get_int("flip_to", -1, 0, num_classes - 1);
    if (spec.flip_from >= 0 && spec.flip_from == spec.flip_to) {
      node.fail_at("flip_to", "equals flip_from: nothing would change");
    }
    return spec;
  }
  for (const char* key : {"flip_from", "flip_to"}) {
    if (node.has(key)) node.fail_at(key, "is for label_flip");
  }
  if (node.has("target") && node.get_string("target") != "random") {
    spec.target = node.get_int("target", std::nullopt, 0, num_classes - 1);
  }
  if (!node.has("trigger")) node.fail("missing required key 'trigger'");
  spec.trigger = parse_trigger_spec(node.child("trigger"), range_min, range_max);
  const std::string expected = spec.attack == "badnets" ? "patch" : "blend";
  if (spec.trigger.type != expected) {
    node.child("trigger").fail_at("type", spec.attack + " takes a " + expected + " trigger");
  }
  return spec;
}

PoisonedData poison_dataset(const datasets::Dataset& clean, const PoisonSpec& spec) {
  PoisonedData out;
  out.spec = spec;
  out.data = clean;
  out.data.images = clean.images.to(at::kFloat).clone();
  out.data.labels = clean.labels.to(at::kLong).clone();
  out.data.source = "poisoned(" + spec.attack + ", rate " + std::to_string(spec.rate) + ", " + clean.source + ")";
  out.data.manifest_root.clear();
  at::Generator generator = at::detail::createCPUGenerator(spec.seed);
  const int64_t n = clean.size(), k = clean.num_classes;
  const int64_t count = static_cast<int64_t>(std::llround(spec.rate * static_cast<double>(n)));
  PoisonSpec& s = out.spec;
  if (s.attack != "label_flip" && s.target < 0) {
    s.target = at::randint(k, {1}, generator, at::kLong).item<int64_t>();
  }
  // Which points may be poisoned.
  at::Tensor eligible;
  if (s.attack == "label_flip") {
    eligible = s.flip_from >= 0 ? out.data.labels.eq(s.flip_from) : at::ones({n}, at::kBool);
  } else {
    eligible = out.data.labels.ne(s.target);
  }
  const at::Tensor candidates = eligible.nonzero().flatten();
  if (count > candidates.numel()) {
    throw ConfigError("poison.rate: " + std::to_string(count) + " points asked for, " +
                      std::to_string(candidates.numel()) + " are eligible");
  }
  const at::Tensor order = at::randperm(candidates.numel(), generator, at::kLong);
  out.indices = std::get<0>(candidates.index_select(0, order.slice(0, 0, count)).sort());
  if (s.attack == "label_flip") {
    at::Tensor flipped;
    if (s.flip_from >= 0) {
      flipped = at::full({count}, s.flip_to, at::kLong);
    } else {  // a uniformly drawn other class: y + 1 + U{0..k-2} mod k
      const at::Tensor shift = at::randint(1, k, {count}, generator, at::kLong);
      flipped = (out.data.labels.index_select(0, out.indices) + shift).remainder(k);
    }
    out.data.labels.index_put_({out.indices}, flipped);
    return out;
  }
  if (s.trigger.type == "patch") {
    const int64_t height = clean.images.size(2), width = clean.images.size(3);
    if (s.trigger.random_position) {
      if (s.trigger.size > height || s.trigger.size > width) {
        throw ConfigError("trigger: a " + std::to_string(s.trigger.size) + "x" +
                          std::to_string(s.trigger.size) + " patch does not fit " +
                          std::to_string(height) + "x" + std::to_string(width) + " images");
      }
      s.trigger.row = at::randint(height - s.trigger.size + 1, {1}, generator, at::kLong).item<int64_t>();
      s.trigger.col = at::randint(width - s.trigger.size + 1, {1}, generator, at::kLong).item<int64_t>();
      s.trigger.random_position = false;
    }
    const auto [row, col] = s.trigger.corner(height, width);
    s.trigger.row = row;
    s.trigger.col = col;
  }
  const at::Tensor stamped = s.trigger.apply(out.data.images.index_select(0, out.indices));
  out.data.images.index_copy_(0, out.indices, stamped);
  out.data.labels.index_fill_(0, out.indices, s.target);
  return out;
}

}  // namespace rampart::attacks
