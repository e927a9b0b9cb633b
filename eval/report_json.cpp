#include "eval/reports.h"

#include <cstdio>

#include "attacks/attack_ops.h"

namespace rampart::eval {
namespace {

using nlohmann::json;

json norm_stats(double mean, double median) { return {{"mean", mean}, {"median", median}}; }

json provenance_json(const Evaluation& ev) {
  const Provenance& p = ev.provenance;
  json files = json::array();
  for (const auto& [path, sha] : p.data_files) files.push_back({{"path", path}, {"sha256", sha}});
  json model_files = json::array();
  for (const auto& f : p.model_files) {
    model_files.push_back({{"path", f.path},
                           {"sha256", f.sha256},
                           {"bytes", f.bytes},
                           {"pinned", !f.verified_by.empty()},
                           {"verified_by", f.verified_by},
                           {"probe", f.probe ? json{{"ran", f.probe->ran},
                                                    {"input_shape", f.probe->input_shape},
                                                    {"output_shape", f.probe->output_shape},
                                                    {"operators", f.probe->operators},
                                                    {"load_seconds", f.probe->load_seconds},
                                                    {"forward_seconds", f.probe->forward_seconds}}
                                             : json(nullptr)}});
  }
  return {{"rampart_version", p.rampart_version},
          {"libtorch_version", p.libtorch_version},
          {"device", p.device},
          {"threads", p.threads},
          {"seed", p.seed},
          {"config", {{"file", p.config_file}, {"sha256", p.config_sha256}}},
          {"model",
           {{"path", p.model_path},
            {"sha256", p.model_sha256},
            {"bytes", p.model_bytes},
            {"description", p.model_description},
            {"sandboxed", p.model_sandboxed},
            {"pinned", p.unpinned_model_files().empty()},
            {"files", model_files}}},
          {"data",
           {{"source", p.data_source},
            {"files", files},
            {"manifest_root", p.data_manifest_root.empty() ? json(nullptr) : json(p.data_manifest_root)}}},
          {"ranks", p.ranks},
          {"started_at", p.started_at},
          {"hostname", p.hostname},
          {"seconds", ev.seconds}};
}

json attack_json(const AttackReport& a) {
  const AttackMetrics& m = a.metrics;
  json components = json::array();
  for (const auto& [id, fooled] : a.components) components.push_back({{"id", id}, {"fooled", fooled}});
  return {{"id", m.id},
          {"name", a.name},
          {"norm", attacks::to_string(a.norm)},
          {"eps", a.bounded ? json(a.eps) : json(nullptr)},
          {"bounded", a.bounded},
          {"bpda", a.bpda},
          {"backdoor", a.backdoor_target < 0
                           ? json(nullptr)
                           : json{{"target", a.backdoor_target}, {"trigger", a.trigger}}},
          {"attacked", a.attacked},
          {"after", a.after},
          {"cumulative", !a.after.empty()},
          {"robust_accuracy", m.robust_accuracy},
          {"success_rate", m.success_rate},
          {"successes", m.successes},
          {"l2", norm_stats(m.mean_l2, m.median_l2)},
          {"linf", norm_stats(m.mean_linf, m.median_linf)},
          {"per_class_robust_accuracy", m.per_class_robust_accuracy},
          {"seconds", a.seconds},
          {"forward_samples", a.forward_samples},
          {"backward_samples", a.backward_samples},
          {"components", components}};
}

// One RobustBench-style result per autoattack entry.
json autoattack_json(const Evaluation& ev) {
  json out = json::array();
  for (const auto& a : ev.attacks) {
    if (a.name != "autoattack") continue;
    out.push_back({{"id", a.metrics.id},
                   {"norm", attacks::to_string(a.norm)},
                   {"eps", a.eps},
                   {"points", ev.num_points},
                   {"clean_acc", ev.clean_accuracy},
                   {"autoattack_acc", a.metrics.robust_accuracy},
                   {"cumulative", !a.after.empty()},
                   {"forward_samples", a.forward_samples},
                   {"backward_samples", a.backward_samples}});
  }
  return out;
}

json curves_json(const Evaluation& ev) {
  json curves = json::array();
  for (const auto& p : robustness_curve(ev)) {
    if (curves.empty() || curves.back()["family"] != p.family) {
      curves.push_back({{"family", p.family}, {"points", json::array()}});
    }
    curves.back()["points"].push_back({{"eps", p.eps}, {"robust_accuracy", p.robust_accuracy}});
  }
  return curves;
}

json detection_json(const Evaluation& ev) {
  if (!ev.detection) return nullptr;
  const DetectionReport& d = *ev.detection;
  json budgets = json::array();
  for (const auto& b : d.budgets) {
    budgets.push_back({{"budget", b.key}, {"robust_or_detected", b.robust_or_detected}});
  }
  json attacks = json::array();
  for (const auto& a : d.attacks) {
    attacks.push_back({{"attack", a.attack_id},
                       {"successful", a.successful},
                       {"detected_successful", a.detected_successful},
                       {"detection_rate", a.detection_rate},
                       {"robust_or_detected", a.robust_or_detected}});
  }
  return {{"description", d.description},
          {"target_fpr", d.target_fpr},
          {"threshold", d.threshold},
          {"calibration",
           {{"source", d.calibration_source},
            {"points", d.calibration_points},
            {"fpr", d.calibration_fpr}}},
          {"fpr", d.fpr},
          {"adaptive", false},
          {"attacks", attacks},
          {"budgets", budgets}};
}

json gates_json(const Evaluation& ev) {
  json results = json::array();
  for (const auto& g : ev.gates) {
    results.push_back({{"name", g.gate.name},
                       {"metric", g.gate.metric},
                       {"value", g.value},
                       {"min", g.gate.min ? json(*g.gate.min) : json(nullptr)},
                       {"max", g.gate.max ? json(*g.gate.max) : json(nullptr)},
                       {"threshold", g.threshold},
                       {"passed", g.passed}});
  }
  return {{"failed", ev.gates_failed()}, {"results", results}};
}

json sanity_json(const Evaluation& ev) {
  json checks = json::array();
  for (const auto& c : ev.sanity) {
    checks.push_back({{"id", c.id},
                      {"flagged", c.flagged},
                      {"value", c.value},
                      {"threshold", c.threshold},
                      {"message", c.message}});
  }
  return {{"strict", ev.strict}, {"flagged", ev.sanity_flagged()}, {"checks", checks}};
}

}  // namespace

nlohmann::json report_json(const Evaluation& ev) {
  json attacks_out = json::array();
  for (const auto& a : ev.attacks) attacks_out.push_back(attack_json(a));
  json budgets = json::array();
  for (const auto& b : ev.budgets) {
    budgets.push_back({{"key", b.key},
                       {"norm", attacks::to_string(b.norm)},
                       {"eps", b.eps},
                       {"robust_accuracy", b.robust_accuracy},
                       {"attacks", b.attacks},
                       {"per_class_robust_accuracy", b.per_class_robust_accuracy}});
  }
  json examples = json::array();
  for (const auto& e : ev.examples) {
    examples.push_back({{"attack", e.attack_id}, {"file", e.file}, {"count", e.count}});
  }
  return {{"schema_version", kReportSchemaVersion},
          {"provenance", provenance_json(ev)},
          {"data",
           {{"points", ev.num_points},
            {"num_classes", ev.num_classes},
            {"class_names", ev.class_names},
            {"class_counts", ev.class_counts}}},
          {"clean",
           {{"accuracy", ev.clean_accuracy},
            {"correct", ev.clean_correct},
            {"per_class_accuracy", ev.per_class_clean_accuracy}}},
          {"cascade", ev.cascade},
          {"attacks", attacks_out},
          {"budgets", budgets},
          {"worst_robust_accuracy",
           ev.worst_robust_accuracy ? json(*ev.worst_robust_accuracy) : json(nullptr)},
          {"curves", curves_json(ev)},
          {"sanity", sanity_json(ev)},
          {"gates", gates_json(ev)},
          {"detection", detection_json(ev)},
          {"examples", examples},
          {"examples_unavailable", ev.examples_unavailable},
          {"autoattack", autoattack_json(ev)},
          {"exit_code", ev.exit_code()}};
}

std::optional<nlohmann::json> robustbench_entry(const Evaluation& ev) {
  const json results = autoattack_json(ev);
  if (results.empty()) return std::nullopt;
  const json& r = results.front();
  const auto two_decimals = [](double fraction) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.2f", 100.0 * fraction);
    return std::string(text);
  };
  // RobustBench's model-entry fields; the ones Rampart cannot know are left empty to fill in.
  return json{{"link", ""},
              {"name", ev.provenance.model_description},
              {"authors", ""},
              {"additional_data", nullptr},
              {"number_forward_passes", 1},
              {"dataset", ev.provenance.data_source},
              {"venue", ""},
              {"architecture", ""},
              {"eps", attacks::detail::format_eps(r["eps"].get<double>())},
              {"norm", r["norm"] == "linf" ? "Linf" : "L2"},
              {"clean_acc", two_decimals(ev.clean_accuracy)},
              {"reported", ""},
              {"autoattack_acc", two_decimals(r["autoattack_acc"].get<double>())},
              {"footnote", "Rampart " + std::string(r["id"]) + " on " +
                               std::to_string(ev.num_points) + " points"}};
}

}  // namespace rampart::eval
