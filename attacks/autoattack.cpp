#include "attacks/autoattack.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <set>

#include "attacks/apgd.h"
#include "attacks/attack_ops.h"
#include "attacks/fab.h"
#include "attacks/square.h"
#include "core/error.h"

namespace rampart::attacks {
namespace {

// Each component draws its own random family: the ensemble's stream mixed with the name.
uint64_t component_stream(uint64_t stream, const std::string& name) {
  uint64_t h = stream ^ 0xcbf29ce484222325ull;
  for (const unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// One component as the reference configures it (autoattack.py, set_version); `restarts` and
// `eot` are the version's.
std::shared_ptr<Attack> make_component(const std::string& name, const AutoAttackOptions& o,
                                       int64_t restarts, int64_t eot) {
  const uint64_t stream = component_stream(o.stream(), name);
  if (name == "apgd-ce" || name == "apgd-dlr" || name == "apgd-t") {
    APGDOptions a(o.eps());
    a.norm(o.norm()).restarts(restarts).eot_samples(eot).seed(o.seed()).stream(stream);
    a.clip_min(o.clip_min()).clip_max(o.clip_max());
    if (name == "apgd-dlr") a.loss(APGDLoss::kDLR);
    if (name == "apgd-t") a.restarts(1).target_classes(9);
    return std::make_shared<APGD>(a);
  }
  if (name == "fab" || name == "fab-t") {
    FABOptions f(o.eps());
    f.norm(o.norm()).seed(o.seed()).stream(stream).clip_min(o.clip_min()).clip_max(o.clip_max());
    if (name == "fab") f.target_classes(0).restarts(restarts);
    return std::make_shared<FAB>(f);
  }
  if (name == "square") {
    return std::make_shared<Square>(SquareOptions(o.eps())
                                        .norm(o.norm())
                                        .seed(o.seed())
                                        .stream(stream)
                                        .clip_min(o.clip_min())
                                        .clip_max(o.clip_max()));
  }
  throw ConfigError("autoattack: unknown component '" + name +
                    "' (apgd-ce, apgd-dlr, apgd-t, fab, fab-t, square)");
}

}  // namespace

std::vector<std::shared_ptr<Attack>> autoattack_components(const AutoAttackOptions& o) {
  std::vector<std::string> names;
  int64_t restarts = 1, eot = 1;
  switch (o.version()) {
    case AutoAttackVersion::kStandard:
      names = {"apgd-ce", "apgd-t", "fab-t", "square"};
      break;
    case AutoAttackVersion::kPlus:
      names = {"apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"};
      restarts = 5;
      break;
    case AutoAttackVersion::kRand:
      names = {"apgd-ce", "apgd-dlr"};
      eot = 20;
      break;
    case AutoAttackVersion::kCustom:
      // The reference's constructor defaults, which set_version leaves alone for custom:
      // APGD (apgd-ce, apgd-dlr) and FAB with 5 restarts; apgd-t and fab-t with 1.
      names = o.components();
      if (names.empty()) throw ConfigError("autoattack: version custom needs a components list");
      restarts = 5;
      break;
  }
  if (o.version() != AutoAttackVersion::kCustom && !o.components().empty()) {
    throw ConfigError("autoattack: components are only for version custom");
  }
  std::set<std::string> seen;
  std::vector<std::shared_ptr<Attack>> out;
  for (const std::string& name : names) {
    if (!seen.insert(name).second) {
      throw ConfigError("autoattack: component '" + name + "' is listed twice");
    }
    out.push_back(make_component(name, o, restarts, eot));
  }
  return out;
}

AutoAttack::AutoAttack(AutoAttackOptions options)
    : options_(std::move(options)), components_(autoattack_components(options_)) {}

AttackResult AutoAttack::run(models::Model& model, const at::Tensor& x, const at::Tensor& labels,
                             const at::Tensor& point_ids) const {
  detail::check_batch(x, labels, options_.clip_min(), options_.clip_max(), "autoattack");
  const at::Tensor ids = detail::point_ids_or_range(point_ids, x, "autoattack");
  const int64_t n = x.size(0);
  const at::Tensor clean = x.detach();
  at::Tensor best = clean.clone();
  at::Tensor fooled = at::zeros({n}, x.options().dtype(at::kBool));
  at::Tensor fooled_by = at::full({n}, -1, x.options().dtype(at::kLong));
  int64_t forwards = 0, backwards = 0;
  for (std::size_t k = 0; k < components_.size(); ++k) {
    const at::Tensor pending = fooled.logical_not().nonzero().squeeze(1);
    if (pending.numel() == 0) break;
    const AttackResult r = components_[k]->run(model, clean.index_select(0, pending),
                                               labels.index_select(0, pending),
                                               ids.index_select(0, pending));
    forwards += r.forward_samples;
    backwards += r.backward_samples;
    c10::NoGradGuard no_grad;
    const at::Tensor hit = r.success.to(at::kBool);
    const at::Tensor positions = pending.masked_select(hit);
    best.index_copy_(0, positions, r.adversarial.index({hit}));
    fooled.index_fill_(0, positions, true);
    fooled_by.index_fill_(0, positions, static_cast<int64_t>(k));
  }
  AttackResult result = detail::make_result(clean, best, fooled, forwards, backwards);
  result.fooled_by = fooled_by;
  return result;
}

std::string AutoAttack::id() const {
  return "autoattack-" + to_string(options_.norm()) + "-" + detail::format_eps(options_.eps());
}

std::vector<std::shared_ptr<const Attack>> AutoAttack::parts() const {
  return {components_.begin(), components_.end()};
}

}  // namespace rampart::attacks
