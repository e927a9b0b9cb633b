#include "defenses/aggregation/aggregator.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <sstream>

#include "core/error.h"
#include "defenses/aggregation/pre_aggregators.h"

namespace rampart::defenses::aggregation {
namespace {

const std::vector<std::string>& pre_names() {
  static const std::vector<std::string> names{"clipping", "arc", "nnm", "bucketing"};
  return names;
}

PreAggregatorSpec named_pre(const std::string& name, int64_t rule_f) {
  PreAggregatorSpec p;
  p.name = name;
  p.f = rule_f;
  return p;
}

PreAggregatorSpec parse_pre_map(const core::ConfigNode& item, int64_t rule_f) {
  if (!item.has("name")) item.fail("missing required key 'name' (clipping, arc, nnm or bucketing)");
  PreAggregatorSpec p = named_pre(item.get_choice("name", pre_names()), rule_f);
  if (p.name == "clipping") {
    item.expect_keys({"name", "c"});
    p.c = item.get_double("c", 2.0, 1e-300);
  } else if (p.name == "bucketing") {
    item.expect_keys({"name", "s"});
    p.s = item.get_int("s", 2, 1);
  } else {
    item.expect_keys({"name", "f"});
    p.f = item.get_int("f", rule_f, 0);
  }
  return p;
}

}  // namespace

bool takes_f(const std::string& name) {
  return name == "trimmed_mean" || name == "krum" || name == "multi_krum" || name == "mda" ||
         name == "meamed" || name == "caf";
}

AggregatorSpec parse_aggregator_spec(const core::ConfigNode& node) {
  const std::vector<std::string> names{"mean",       "median",           "trimmed_mean",
                                       "krum",       "multi_krum",       "geometric_median",
                                       "centered_clipping", "mda", "meamed", "caf"};
  AggregatorSpec spec;
  if (!node.is_map()) node.fail("expected a mapping such as {name: trimmed_mean, f: 2}");
  spec.name = node.get_choice("name", names, "mean");
  // Only the keys the rule reads: a tau given to krum would otherwise be dropped unseen.
  std::vector<std::string> keys{"name", "f", "momentum", "pre"};
  if (spec.name == "centered_clipping") keys.insert(keys.end(), {"tau", "iterations"});
  if (spec.name == "geometric_median") keys.insert(keys.end(), {"nu", "iterations"});
  node.expect_keys(keys);
  spec.f = node.get_int("f", 0, 0);
  spec.tau = node.get_double("tau", 100.0, 1e-300);
  spec.iterations = node.get_int("iterations", 0, 0, 1000);
  spec.nu = node.get_double("nu", 0.1, 1e-300);
  spec.momentum = node.get_double("momentum", 0.0, 0.0, 0.999999);
  if (node.has("pre")) {
    // Each step is a name (clipping) or a mapping with its parameters ({name: clipping, c: 5}).
    for (const auto& item : node.list("pre")) {
      if (item.is_map()) {
        spec.pre.push_back(parse_pre_map(item, spec.f));
        continue;
      }
      const std::string name = item.dump();  // a scalar's YAML text is its value
      const auto& known = pre_names();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        item.fail("unknown pre-aggregator '" + name + "' (clipping, arc, nnm or bucketing)");
      }
      spec.pre.push_back(named_pre(name, spec.f));
    }
  }
  const bool pre_takes_f = std::any_of(spec.pre.begin(), spec.pre.end(), [](const PreAggregatorSpec& p) {
    return p.name == "arc" || p.name == "nnm";
  });
  if (spec.f > 0 && !takes_f(spec.name) && !pre_takes_f) {
    node.fail_at("f", spec.name + " takes no f (the rules that do: trimmed_mean, krum, multi_krum, "
                                  "mda, meamed, caf; or an arc or nnm pre-step)");
  }
  return spec;
}

std::string describe(const AggregatorSpec& spec) {
  std::ostringstream out;
  out << spec.name;
  if (takes_f(spec.name)) {
    out << "(f=" << spec.f << ")";
  } else if (spec.name == "centered_clipping") {
    out << "(tau=" << spec.tau << ", iterations=" << (spec.iterations ? spec.iterations : 1) << ")";
  } else if (spec.name == "geometric_median") {
    out << "(nu=" << spec.nu << ", iterations=" << (spec.iterations ? spec.iterations : 3) << ")";
  }
  for (std::size_t i = 0; i < spec.pre.size(); ++i) {
    const auto& p = spec.pre[i];
    out << (i == 0 ? " after " : ", ") << p.name;
    if (p.name == "clipping") out << "(c=" << p.c << ")";
    if (p.name == "bucketing") out << "(s=" << p.s << ")";
    if (p.name == "arc" || p.name == "nnm") out << "(f=" << p.f << ")";
  }
  if (spec.momentum > 0) out << ", worker momentum " << spec.momentum;
  return out.str();
}

RobustAggregator::RobustAggregator(AggregatorSpec spec, uint64_t seed)
    : spec_(std::move(spec)), generator_(at::detail::createCPUGenerator(seed)) {
  if (spec_.name == "centered_clipping") {
    clipping_.emplace(spec_.tau, spec_.iterations ? spec_.iterations : 1);
  }
}

// A copy draws its own bucketing permutations from a cloned generator state.
RobustAggregator::RobustAggregator(const RobustAggregator& other)
    : spec_(other.spec_), clipping_(other.clipping_), generator_(other.generator_.clone()) {}

RobustAggregator& RobustAggregator::operator=(const RobustAggregator& other) {
  if (this != &other) {
    spec_ = other.spec_;
    clipping_ = other.clipping_;
    generator_ = other.generator_.clone();
  }
  return *this;
}

at::Tensor RobustAggregator::operator()(const at::Tensor& x, int64_t known_byzantine) {
  const auto left = [&](int64_t f) { return std::max<int64_t>(0, f - std::max<int64_t>(0, known_byzantine)); };
  at::Tensor v = x;
  for (const auto& p : spec_.pre) {
    if (p.name == "clipping") v = static_clip(v, p.c);
    if (p.name == "arc") v = adaptive_clip(v, left(p.f));
    if (p.name == "nnm") v = nearest_neighbour_mixing(v, left(p.f));
    if (p.name == "bucketing") v = bucketing(v, p.s, generator_);
  }
  const std::string& name = spec_.name;
  const int64_t f = left(spec_.f);
  if (name == "median") return coordinate_median(v);
  if (name == "trimmed_mean") return trimmed_mean(v, f);
  if (name == "krum") return krum(v, f);
  if (name == "multi_krum") return multi_krum(v, f);
  if (name == "mda") return minimum_diameter_average(v, f);
  if (name == "meamed") return meamed(v, f);
  if (name == "caf") return covariance_filter(v, f);
  if (name == "geometric_median") {
    return geometric_median(v, spec_.nu, spec_.iterations ? spec_.iterations : 3);
  }
  if (clipping_) return (*clipping_)(v);
  return aggregation::mean(v);
}

int64_t RobustAggregator::min_inputs(int64_t known_byzantine) const {
  int64_t f = 0;
  if (takes_f(spec_.name)) f = spec_.f;
  for (const auto& p : spec_.pre) {
    if (p.name == "arc" || p.name == "nnm") f = std::max(f, p.f);
  }
  return 2 * std::max<int64_t>(0, f - std::max<int64_t>(0, known_byzantine)) + 1;
}

at::Tensor RobustAggregator::centre() const {
  return clipping_ ? clipping_->centre() : at::Tensor();
}

void RobustAggregator::set_centre(const at::Tensor& centre) {
  if (clipping_) clipping_->set_centre(centre);
}

}  // namespace rampart::defenses::aggregation
