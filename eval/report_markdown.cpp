#include <algorithm>
#include <sstream>
#include <string_view>

#include "eval/report_format.h"
#include "eval/reports.h"

namespace rampart::eval {

using detail::number;
using detail::percent;

namespace {

// Free text in report.md (paths, the model's and the detector's descriptions, sanity messages:
// some come from the sandboxed worker's answer, or from file names an attacker chose) is text,
// never markup: `<img src=...>`, a link or a '|' in it must not render in a CI summary.
std::string md_text(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '\n' || ch == '\r') {
      out += ' ';
      continue;
    }
    // Raw HTML, links and images, code spans, table cells, emphasis; a '_' inside a word (a
    // squeezer's bit_depth) is not emphasis in GitHub's Markdown and stays as it is.
    if (std::string_view("\\`*[]<>|").find(ch) != std::string_view::npos) out += '\\';
    out += ch;
  }
  return out;
}

// A code span holding `text` as it is: fenced by one backtick more than its longest run.
std::string md_code(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  std::size_t longest = 0, run = 0;
  for (const char ch : text) {
    run = ch == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  const bool pad = !text.empty() && (text.front() == '`' || text.back() == '`');
  return fence + (pad ? " " : "") + text + (pad ? " " : "") + fence;
}

}  // namespace

std::string report_markdown(const Evaluation& ev) {
  std::ostringstream md;
  const bool ok = ev.exit_code() == 0;
  md << "# Rampart robustness report " << (ok ? "(passed)" : "(FAILED)") << "\n\n";
  md << "Model " << md_code(ev.provenance.model_path) << " ("
     << md_text(ev.provenance.model_description) << ", sha256 `"
     << ev.provenance.model_sha256.substr(0, 12) << "`) on " << ev.num_points << " points of "
     << md_text(ev.provenance.data_source) << ".\n\n";
  for (const auto& path : ev.provenance.unpinned_model_files()) {
    md << "> **Unpinned model file** " << md_code(path)
       << ": no SHA-256 pin, allowlist entry or signature vouched for it; it was accepted "
          "under `security.allow_unpinned`.\n\n";
  }
  md << "| attack | budget | attacked | robust accuracy" << (ev.cascade ? " (cumulative)" : "")
     << " | success rate | median L2 | median Linf | seconds |\n";
  md << "|---|---|---:|---:|---:|---:|---:|---:|\n";
  md << "| clean | | | " << percent(ev.clean_accuracy) << " | | | | |\n";
  for (const auto& a : ev.attacks) {
    const AttackMetrics& m = a.metrics;
    md << "| " << detail::attack_label(a) << " | " << detail::budget_text(a) << " | " << a.attacked
       << " | "
       << percent(m.robust_accuracy) << " | " << percent(m.success_rate) << " | "
       << number(m.median_l2) << " | " << number(m.median_linf) << " | " << number(a.seconds, 3)
       << " |\n";
  }
  for (const auto& b : ev.budgets) {
    md << "| **worst case** | " << b.key << " | | **" << percent(b.robust_accuracy)
       << "** | | | | |\n";
  }
  if (const std::string note = detail::cascade_note(ev); !note.empty()) md << "\n" << note << "\n";
  if (const std::string note = detail::backdoor_note(ev); !note.empty()) md << "\n" << note;
  for (const auto& a : ev.attacks) {
    if (a.components.empty()) continue;
    md << "\n" << a.metrics.id << " components, points each fooled in order:";
    for (const auto& [id, fooled] : a.components) md << " `" << id << "` " << fooled << ";";
    md << "\n";
  }
  if (!ev.gates.empty()) {
    md << "\n## Gates (" << ev.gates_failed() << " of " << ev.gates.size() << " failed)\n\n";
    md << "| gate | value | threshold | verdict |\n|---|---:|---|---|\n";
    for (const auto& g : ev.gates) {
      md << "| " << g.gate.name << " | " << detail::gate_value(g) << " | " << g.threshold << " | "
         << (g.passed ? "pass" : "**FAIL**") << " |\n";
    }
  }
  if (ev.detection) {
    const DetectionReport& d = *ev.detection;
    md << "\n## Detector: " << md_text(d.description) << "\n\n"
       << "Threshold " << number(d.threshold) << ", calibrated on " << d.calibration_points
       << " clean points for " << percent(d.target_fpr) << " false positives ("
       << percent(d.calibration_fpr) << " there); " << percent(d.fpr)
       << " of the evaluated clean points flagged. The attacks did not target the detector.\n\n"
       << "| attack | fooled | detected | detection rate | robust or detected |\n"
       << "|---|---:|---:|---:|---:|\n";
    for (const auto& a : d.attacks) {
      md << "| " << a.attack_id << " | " << a.successful << " | " << a.detected_successful << " | "
         << percent(a.detection_rate) << " | " << percent(a.robust_or_detected) << " |\n";
    }
    for (const auto& b : d.budgets) {
      md << "| **worst case** " << b.key << " | | | | **" << percent(b.robust_or_detected)
         << "** |\n";
    }
  }
  md << "\n## Sanity checks (" << ev.sanity_flagged() << " flagged"
     << (ev.strict ? ", --strict" : "") << ")\n\n";
  for (const auto& c : ev.sanity) {
    md << "- " << (c.flagged ? "⚠️ **" + detail::sanity_verdict(c, ev.strict) + "** " : "✅ ")
       << "`" << c.id << "`: " << md_text(c.message) << "\n";
  }
  md << "\n<sub>rampart " << ev.provenance.rampart_version << ", libtorch "
     << ev.provenance.libtorch_version << ", " << ev.provenance.device << ", "
     << ev.provenance.threads << " threads, seed " << ev.provenance.seed << ", config sha256 `"
     << ev.provenance.config_sha256.substr(0, 12) << "`, " << number(ev.seconds, 3) << " s</sub>\n";
  return md.str();
}

std::string terminal_summary(const Evaluation& ev) {
  std::ostringstream out;
  char line[512];
  // Columns as wide as their longest entry (a tagged or backdoor id, a backdoor's budget).
  int id_w = 22, budget_w = 16, gate_w = 34;
  for (const auto& a : ev.attacks) {
    id_w = std::max(id_w, static_cast<int>(a.metrics.id.size()));
    budget_w = std::max(budget_w, static_cast<int>(detail::budget_text(a).size()));
  }
  for (const auto& g : ev.gates) gate_w = std::max(gate_w, static_cast<int>(g.gate.name.size()));
  std::snprintf(line, sizeof(line), "%-*s %-*s %9s %10s %9s %10s %11s %8s\n", id_w, "attack",
                budget_w, "budget", "attacked", "robust", "success", "median L2", "median Linf",
                "seconds");
  out << line;
  std::snprintf(line, sizeof(line), "%-*s %-*s %9s %10s\n", id_w, "clean", budget_w, "", "",
                percent(ev.clean_accuracy).c_str());
  out << line;
  for (const auto& a : ev.attacks) {
    const AttackMetrics& m = a.metrics;
    std::snprintf(line, sizeof(line), "%-*s %-*s %9lld %10s %9s %10s %11s %8.1f\n", id_w,
                  m.id.c_str(), budget_w, detail::budget_text(a).c_str(),
                  static_cast<long long>(a.attacked), percent(m.robust_accuracy).c_str(),
                  percent(m.success_rate, 1).c_str(), number(m.median_l2).c_str(),
                  number(m.median_linf).c_str(), a.seconds);
    out << line;
  }
  for (const auto& b : ev.budgets) {
    std::snprintf(line, sizeof(line), "%-*s %-*s %9s %10s\n", id_w, "worst case", budget_w,
                  b.key.c_str(), "", percent(b.robust_accuracy).c_str());
    out << line;
  }
  for (const auto& a : ev.attacks) {
    if (a.components.empty()) continue;
    out << a.metrics.id << " components (points each fooled, in order):";
    for (const auto& [id, fooled] : a.components) out << " " << id << " " << fooled << ";";
    out << "\n";
  }
  for (const auto& a : ev.attacks) {
    if (a.after.empty()) continue;
    out << "cascade: " << detail::attack_label(a) << " ran on the " << a.attacked
        << " points still robust; its robust accuracy is cumulative\n";
  }
  for (const auto& g : ev.gates) {
    std::snprintf(line, sizeof(line), "gate %-*s %10s %-14s %s\n", gate_w, g.gate.name.c_str(),
                  detail::gate_value(g).c_str(), g.threshold.c_str(), g.passed ? "pass" : "FAIL");
    out << line;
  }
  for (const auto& path : ev.provenance.unpinned_model_files()) {
    out << "unpinned model file: " << path << " (accepted under security.allow_unpinned)\n";
  }
  if (ev.detection) {
    out << "detector: " << percent(ev.detection->fpr) << " false positives on clean points";
    for (const auto& a : ev.detection->attacks) {
      out << "; " << a.attack_id << " " << percent(a.detection_rate) << " detected";
    }
    for (const auto& b : ev.detection->budgets) {
      out << "; worst case " << b.key << " " << percent(b.robust_or_detected)
          << " robust or detected";
    }
    out << "\n";
  }
  for (const auto& c : ev.sanity) {
    if (!c.flagged) continue;
    out << "sanity " << detail::sanity_verdict(c, ev.strict) << " " << c.id << ": " << c.message
        << "\n";
  }
  return out.str();
}

}  // namespace rampart::eval
