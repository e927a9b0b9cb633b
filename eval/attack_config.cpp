#include "eval/attack_config.h"

#include <map>
#include <set>

#include "attacks/apgd.h"
#include "attacks/attack_ops.h"
#include "attacks/autoattack.h"
#include "attacks/backdoor_attack.h"
#include "attacks/cw.h"
#include "attacks/fab.h"
#include "attacks/fgsm.h"
#include "attacks/pgd.h"
#include "attacks/square.h"
#include "core/error.h"

namespace rampart::eval {
namespace {

attacks::Norm parse_norm(const core::ConfigNode& entry) {
  return entry.get_choice("norm", {"linf", "l2"}, "linf") == "linf" ? attacks::Norm::kLinf
                                                                    : attacks::Norm::kL2;
}

attacks::Loss parse_loss(const core::ConfigNode& entry) {
  return entry.get_choice("loss", {"ce", "margin"}, "ce") == "ce" ? attacks::Loss::kCrossEntropy
                                                                  : attacks::Loss::kMargin;
}

// The random-start stream of a configured attack: FNV-1a of its report id, so every entry and
// every eps of a list draws its own starts (attacks::PGDOptions::stream).
uint64_t start_stream(const std::string& id) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char c : id) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::vector<double> parse_eps(const core::ConfigNode& entry) {
  const std::vector<double> eps = entry.get_double_list("eps");
  if (eps.empty()) entry.fail_at("eps", "list at least one eps");
  for (double e : eps) {
    if (e < 0) entry.fail_at("eps", "eps must be >= 0, got " + attacks::detail::format_eps(e));
  }
  return eps;
}

void add_fgsm(const core::ConfigNode& entry, const AttackContext& context,
              std::vector<ConfiguredAttack>& out) {
  entry.expect_keys({"name", "norm", "eps", "loss", "tag"});
  const auto norm = parse_norm(entry);
  const auto loss = parse_loss(entry);
  for (double eps : parse_eps(entry)) {
    auto attack = std::make_shared<attacks::FGSM>(attacks::FGSMOptions(eps)
                                                      .norm(norm)
                                                      .loss(loss)
                                                      .clip_min(context.clip_min)
                                                      .clip_max(context.clip_max));
    out.push_back({attack, "fgsm", norm, eps, /*bounded=*/true, /*iterative=*/false, "", "", false,
                   "norm=" + attacks::to_string(norm) + " loss=" + attacks::to_string(loss)});
  }
}

void add_pgd(const core::ConfigNode& entry, const AttackContext& context,
             std::vector<ConfiguredAttack>& out) {
  entry.expect_keys({"name", "norm", "eps", "loss", "tag", "steps", "step_size", "random_init", "restarts",
                     "early_stop", "early_stop_every", "cuda_graphs"});
  const auto norm = parse_norm(entry);
  const auto loss = parse_loss(entry);
  const int64_t steps = entry.get_int("steps", 10, 1, 1000000);
  const int64_t restarts = entry.get_int("restarts", 1, 1, 10000);
  const bool random_init = entry.get_bool("random_init", true);
  // On a randomised model the point fooled by one draw would leave with that iterate, just
  // across the boundary, where a fresh draw often is not fooled: robust 0.86 over draws against
  // 0.78 attacking every point to the last step.
  const bool early_stop = entry.get_bool("early_stop", !context.randomised);
  if (early_stop && context.randomised) {
    entry.fail_at("early_stop", "is refused on a randomised model (gaussian_noise): a point "
                                "would keep the first iterate that fooled one draw");
  }
  const int64_t early_stop_every = entry.get_int("early_stop_every", 0, 0, 1000000);
  const bool cuda_graphs = entry.get_bool("cuda_graphs", true);
  const std::string tag = entry.has("tag") ? entry.get_string("tag") : "";
  for (double eps : parse_eps(entry)) {
    const std::string id = "pgd-" + attacks::to_string(norm) + "-" +
                           attacks::detail::format_eps(eps) + (tag.empty() ? "" : "-" + tag);
    // eps 0 keeps its default step of 0 (the clean input); a step given explicitly must be > 0.
    const double step_size =
        entry.has("step_size") ? entry.get_double("step_size", std::nullopt, 1e-12)
                               : 2.5 * eps / static_cast<double>(steps);
    auto attack = std::make_shared<attacks::PGD>(attacks::PGDOptions(eps)
                                                     .norm(norm)
                                                     .loss(loss)
                                                     .steps(steps)
                                                     .step_size(step_size)
                                                     .random_init(random_init)
                                                     .restarts(restarts)
                                                     .early_stop(early_stop)
                                                     .early_stop_every(early_stop_every)
                                                     .cuda_graphs(cuda_graphs)
                                                     .seed(context.seed)
                                                     .stream(start_stream(id))
                                                     .clip_min(context.clip_min)
                                                     .clip_max(context.clip_max));
    const std::string step =
        entry.has("step_size") ? attacks::detail::format_eps(step_size) : "auto";
    out.push_back({attack, "pgd", norm, eps, /*bounded=*/true, /*iterative=*/true, "", "", false,
                   "norm=" + attacks::to_string(norm) + " loss=" + attacks::to_string(loss) +
                       " steps=" + std::to_string(steps) + " step=" + step +
                       " random_init=" + std::to_string(random_init) +
                       " restarts=" + std::to_string(restarts)});
  }
}

void add_cw(const core::ConfigNode& entry, const AttackContext& context,
            std::vector<ConfiguredAttack>& out) {
  entry.expect_keys({"name", "norm", "tag", "steps", "binary_search_steps", "initial_const", "lr", "kappa",
                     "abort_early"});
  if (entry.has("norm") && entry.get_string("norm") != "l2") {
    entry.fail_at("norm", "cw is an L2 attack; norm must be l2");
  }
  attacks::CWOptions options;
  options.steps(entry.get_int("steps", 100, 1, 1000000))
      .binary_search_steps(entry.get_int("binary_search_steps", 5, 1, 100))
      .initial_const(entry.get_double("initial_const", 0.01, 1e-12))
      .lr(entry.get_double("lr", 0.01, 1e-12, 100.0))
      .kappa(entry.get_double("kappa", 0.0, 0.0))
      .abort_early(entry.get_bool("abort_early", false))
      .clip_min(context.clip_min)
      .clip_max(context.clip_max);
  out.push_back({std::make_shared<attacks::CW>(options), "cw", attacks::Norm::kL2, 0.0,
                 /*bounded=*/false, /*iterative=*/true, "", "", false, ""});
}

std::string entry_tag(const core::ConfigNode& entry) {
  return entry.has("tag") ? entry.get_string("tag") : "";
}

std::string attack_id(const std::string& name, attacks::Norm norm, double eps,
                      const std::string& tag) {
  return name + "-" + attacks::to_string(norm) + "-" + attacks::detail::format_eps(eps) +
         (tag.empty() ? "" : "-" + tag);
}

// apgd-ce, apgd-dlr and apgd-t (Croce & Hein 2020), the reference's defaults.
void add_apgd(const core::ConfigNode& entry, const std::string& name, const AttackContext& context,
              std::vector<ConfiguredAttack>& out) {
  const bool targeted = name == "apgd-t";
  std::vector<std::string> keys{"name", "norm", "eps", "tag", "steps", "restarts", "rho",
                                "eot_samples", "random_init"};
  if (targeted) keys.push_back("target_classes");
  entry.expect_keys(keys);
  const auto norm = parse_norm(entry);
  const int64_t steps = entry.get_int("steps", 100, 1, 1000000);
  const int64_t restarts = entry.get_int("restarts", 1, 1, 10000);
  const double rho = entry.get_double("rho", 0.75, 0.0, 1.0);
  const int64_t eot = entry.get_int("eot_samples", 1, 1, 10000);
  const bool random_init = entry.get_bool("random_init", true);
  const int64_t targets = targeted ? entry.get_int("target_classes", 9, 1, 100000) : 0;
  for (double eps : parse_eps(entry)) {
    const std::string id = attack_id(name, norm, eps, entry_tag(entry));
    attacks::APGDOptions o(eps);
    o.norm(norm).steps(steps).restarts(restarts).rho(rho).eot_samples(eot)
        .random_init(random_init).target_classes(targets).seed(context.seed)
        .stream(start_stream(id)).clip_min(context.clip_min).clip_max(context.clip_max);
    if (name == "apgd-dlr") o.loss(attacks::APGDLoss::kDLR);
    out.push_back({std::make_shared<attacks::APGD>(o), name, norm, eps, true, true, "", "", false,
                   "norm=" + attacks::to_string(norm) + " steps=" + std::to_string(steps) +
                       " restarts=" + std::to_string(restarts) + " rho=" +
                       attacks::detail::format_eps(rho) + " eot=" + std::to_string(eot) +
                       " random_init=" + std::to_string(random_init) +
                       " targets=" + std::to_string(targets)});
  }
}

// fab (untargeted) and fab-t (Croce & Hein 2020), the paper's defaults.
void add_fab(const core::ConfigNode& entry, const std::string& name, const AttackContext& context,
             std::vector<ConfiguredAttack>& out) {
  const bool targeted = name == "fab-t";
  std::vector<std::string> keys{"name", "norm", "eps", "tag", "steps", "restarts"};
  if (targeted) keys.push_back("target_classes");
  entry.expect_keys(keys);
  const auto norm = parse_norm(entry);
  const int64_t steps = entry.get_int("steps", 100, 1, 1000000);
  const int64_t restarts = entry.get_int("restarts", 1, 1, 10000);
  const int64_t targets = targeted ? entry.get_int("target_classes", 9, 1, 100000) : 0;
  for (double eps : parse_eps(entry)) {
    const std::string id = attack_id(name, norm, eps, entry_tag(entry));
    attacks::FABOptions o(eps);
    o.norm(norm).steps(steps).restarts(restarts).target_classes(targets).seed(context.seed)
        .stream(start_stream(id)).clip_min(context.clip_min).clip_max(context.clip_max);
    out.push_back({std::make_shared<attacks::FAB>(o), name, norm, eps, true, true, "", "", false,
                   "norm=" + attacks::to_string(norm) + " steps=" + std::to_string(steps) +
                       " restarts=" + std::to_string(restarts) +
                       " targets=" + std::to_string(targets)});
  }
}

// square (Andriushchenko et al. 2020), AutoAttack's settings.
void add_square(const core::ConfigNode& entry, const AttackContext& context,
                std::vector<ConfiguredAttack>& out) {
  entry.expect_keys({"name", "norm", "eps", "tag", "queries", "p_init", "restarts"});
  const auto norm = parse_norm(entry);
  const int64_t queries = entry.get_int("queries", 5000, 1, 100000000);
  const double p_init = entry.get_double("p_init", 0.8, 1e-6, 1.0);
  const int64_t restarts = entry.get_int("restarts", 1, 1, 10000);
  for (double eps : parse_eps(entry)) {
    const std::string id = attack_id("square", norm, eps, entry_tag(entry));
    auto attack = std::make_shared<attacks::Square>(
        attacks::SquareOptions(eps).norm(norm).queries(queries).p_init(p_init).restarts(restarts)
            .seed(context.seed).stream(start_stream(id)).clip_min(context.clip_min)
            .clip_max(context.clip_max));
    out.push_back({attack, "square", norm, eps, true, true, "", "", false,
                   "norm=" + attacks::to_string(norm) + " queries=" + std::to_string(queries) +
                       " p_init=" + attacks::detail::format_eps(p_init) +
                       " restarts=" + std::to_string(restarts)});
  }
}

// autoattack: the ensemble, by version (attacks/autoattack.h).
void add_autoattack(const core::ConfigNode& entry, const AttackContext& context,
                    std::vector<ConfiguredAttack>& out) {
  entry.expect_keys({"name", "norm", "eps", "tag", "version", "components"});
  const auto norm = parse_norm(entry);
  const std::string version =
      entry.get_choice("version", {"standard", "plus", "rand", "custom"}, "standard");
  std::vector<std::string> components;
  if (entry.has("components")) {
    if (version != "custom") entry.fail_at("components", "components are only for version: custom");
    components = entry.get_string_list("components");
  }
  if (version == "custom" && components.empty()) {
    entry.fail_at("version", "version custom needs `components: [...]` (apgd-ce, apgd-dlr, apgd-t, fab, fab-t, square)");
  }
  const auto parsed_version = version == "standard" ? attacks::AutoAttackVersion::kStandard
                              : version == "plus"   ? attacks::AutoAttackVersion::kPlus
                              : version == "rand"   ? attacks::AutoAttackVersion::kRand
                                                    : attacks::AutoAttackVersion::kCustom;
  for (double eps : parse_eps(entry)) {
    const std::string id = attack_id("autoattack", norm, eps, entry_tag(entry));
    std::shared_ptr<attacks::AutoAttack> attack;
    try {
      attack = std::make_shared<attacks::AutoAttack>(
          attacks::AutoAttackOptions(eps).norm(norm).version(parsed_version)
              .components(components).seed(context.seed).stream(start_stream(id))
              .clip_min(context.clip_min).clip_max(context.clip_max));
    } catch (const ConfigError& e) {
      entry.fail_at("components", e.what());
    }
    std::string settings = "norm=" + attacks::to_string(norm) + " version=" + version;
    for (const auto& c : components) settings += " " + c;
    out.push_back({attack, "autoattack", norm, eps, true, true, "", "", false, settings});
  }
}

// backdoor: the trigger of a data-poisoning attack, to measure its success rate.
void add_backdoor(const core::ConfigNode& entry, const AttackContext& context,
                  std::vector<ConfiguredAttack>& out) {
  entry.expect_keys({"name", "tag", "trigger", "target"});
  if (!entry.has("trigger")) entry.fail("missing required key 'trigger'");
  if (!entry.has("target")) entry.fail("missing required key 'target' (the trigger's target class)");
  attacks::TriggerSpec trigger =
      attacks::parse_trigger_spec(entry.child("trigger"), context.clip_min, context.clip_max);
  if (trigger.random_position) {
    entry.child("trigger").fail_at("random_position",
                                   "the poisoner draws the position from its seed; give the "
                                   "row and col it drew (its log and ground truth name them)");
  }
  const int64_t target = entry.get_int("target", std::nullopt, 0);
  auto attack = std::make_shared<attacks::BackdoorAttack>(trigger, target);
  ConfiguredAttack configured{attack, "backdoor", attacks::Norm::kLinf, 0.0, /*bounded=*/false,
                              /*iterative=*/false, "", "", false,
                              "trigger=" + trigger.describe() + " target=" + std::to_string(target)};
  configured.backdoor_target = target;
  out.push_back(std::move(configured));
}

}  // namespace

std::vector<ConfiguredAttack> parse_attacks(const core::ConfigNode& root,
                                            const AttackContext& context) {
  if (!root.has("attacks")) root.fail("missing required key 'attacks'");
  const auto entries = root.list("attacks");
  if (entries.empty()) root.fail_at("attacks", "list at least one attack");
  std::vector<ConfiguredAttack> out;
  std::set<std::string> ids;
  std::map<std::string, std::string> family_settings;  // family-norm -> the settings of its curve
  for (std::size_t position = 0; position < entries.size(); ++position) {
    const core::ConfigNode& entry = entries[position];
    const std::size_t before = out.size();
    if (!entry.is_map()) entry.fail("expected a mapping such as {name: pgd, eps: 0.1}");
    const std::string name = entry.get_choice(
        "name", {"fgsm", "pgd", "cw", "apgd-ce", "apgd-dlr", "apgd-t", "fab", "fab-t", "square",
                 "autoattack", "backdoor"});
    if (name == "fgsm") add_fgsm(entry, context, out);
    if (name == "pgd") add_pgd(entry, context, out);
    if (name == "cw") add_cw(entry, context, out);
    if (name.rfind("apgd-", 0) == 0) add_apgd(entry, name, context, out);
    if (name == "fab" || name == "fab-t") add_fab(entry, name, context, out);
    if (name == "square") add_square(entry, context, out);
    if (name == "autoattack") add_autoattack(entry, context, out);
    if (name == "backdoor") add_backdoor(entry, context, out);
    const std::string tag = entry.has("tag") ? entry.get_string("tag") : "";
    if (entry.has("tag") &&
        (tag.empty() || tag.size() > 32 ||
         tag.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") !=
             std::string::npos)) {
      entry.fail_at("tag", "must be 1 to 32 letters, digits, '_' or '.', got '" + tag + "'");
    }
    if (tag == "bpda") {  // the suffix of the BPDA twins behind a transform (and of their gates)
      entry.fail_at("tag", "'bpda' is reserved for the BPDA twins Rampart adds behind a model "
                           "transform; choose another tag");
    }
    for (std::size_t i = before; i < out.size(); ++i) {
      out[i].id = out[i].attack->id() + (tag.empty() ? "" : "-" + tag);
      out[i].family = name + (tag.empty() ? "" : "_" + tag);
      // One curve per family and settings: PGD-100 at one eps and PGD-5 at another are not
      // points of one robustness curve (the eps-monotonicity check would compare them).
      const std::string curve = out[i].family + "-" + attacks::to_string(out[i].norm);
      const auto [it, first] = family_settings.emplace(curve, out[i].settings);
      if (!first && it->second != out[i].settings) {
        out[i].family += "_entry" + std::to_string(position + 1);
      }
      if (!ids.insert(out[i].id).second) {
        entry.fail("attack id '" + out[i].id + "' is configured twice (a `tag` tells them apart)");
      }
    }
  }
  return out;
}

std::vector<ConfiguredAttack> with_bpda_twins(const std::vector<ConfiguredAttack>& attacks) {
  std::vector<ConfiguredAttack> out;
  for (const auto& a : attacks) {
    out.push_back(a);
    if (a.backdoor_target >= 0) continue;
    ConfiguredAttack twin = a;
    twin.bpda = true;
    twin.id += "-bpda";
    twin.family += "_bpda";
    out.push_back(std::move(twin));
  }
  return out;
}

}  // namespace rampart::eval
