
#include <algorithm>
#include <map>
#include <sstream>

#include "core/inline_image.h"
#include "eval/report_format.h"
#include "eval/reports.h"

namespace rampart::eval {
namespace {

using detail::escape_markup;
using detail::number;
using detail::percent;

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

constexpr const char* kStyle = R"(
body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-size:14px;vertical-align:middle}
.pass{background:#2e7d32}.fail{background:#c62828}.warn{background:#ef6c00}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}td{white-space:nowrap}
th{background:#f4f4f4}td.l,th.l{text-align:left}tr.worst td{font-weight:bold;background:#fafafa}
.bar{display:inline-block;height:10px;background:#1f77b4;vertical-align:middle;margin-right:6px}
.muted{color:#666;font-size:12px}ul.checks{padding-left:18px}ul.checks li{margin:4px 0}
.charts{display:flex;flex-wrap:wrap;gap:12px}
code{background:#f4f4f4;padding:1px 4px;border-radius:3px}img.grid{max-width:100%;border:1px solid #ddd;margin:6px 0}
)";

// Background colour for an accuracy cell: red (0) to green (1).
std::string heat(double fraction) {
  const int hue = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * 120.0);
  return "background:hsl(" + std::to_string(hue) + ",70%,85%)";
}

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // eps, accuracy
  bool dashed = false;
};

// A line chart of accuracy (0-100%) against eps, as inline SVG.
std::string svg_chart(const std::vector<Series>& series, const std::string& x_label) {
  const double w = 520, h = 300, left = 52, right = 130, top = 16, bottom = 44;
  double max_eps = 0;
  for (const auto& s : series)
    for (const auto& p : s.points) max_eps = std::max(max_eps, p.first);
  if (max_eps <= 0) max_eps = 1;
  auto px = [&](double eps) { return left + (w - left - right) * eps / max_eps; };
  auto py = [&](double acc) { return top + (h - top - bottom) * (1.0 - acc); };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
      << "\" viewBox=\"0 0 " << w << " " << h << "\" font-size=\"11\" font-family=\"sans-serif\">";
  for (int i = 0; i <= 5; ++i) {
    const double acc = i / 5.0, eps = max_eps * i / 5.0;
    svg << "<line x1=\"" << left << "\" x2=\"" << w - right << "\" y1=\"" << py(acc) << "\" y2=\""
        << py(acc) << "\" stroke=\"#e5e5e5\"/>";
    svg << "<text x=\"" << left - 6 << "\" y=\"" << py(acc) + 4 << "\" text-anchor=\"end\">"
        << i * 20 << "%</text>";
    svg << "<text x=\"" << px(eps) << "\" y=\"" << h - bottom + 16 << "\" text-anchor=\"middle\">"
        << number(eps, 3) << "</text>";
  }
  svg << "<line x1=\"" << left << "\" x2=\"" << left << "\" y1=\"" << top << "\" y2=\""
      << h - bottom << "\" stroke=\"#888\"/><line x1=\"" << left << "\" x2=\"" << w - right
      << "\" y1=\"" << h - bottom << "\" y2=\"" << h - bottom << "\" stroke=\"#888\"/>";
  svg << "<text x=\"" << (left + w - right) / 2 << "\" y=\"" << h - 8
      << "\" text-anchor=\"middle\">" << escape_markup(x_label) << "</text>";
  for (std::size_t s = 0; s < series.size(); ++s) {
    const char* color =
        series[s].dashed ? "#222" : kPalette[s % (sizeof(kPalette) / sizeof(kPalette[0]))];
    const char* dash = series[s].dashed ? "\" stroke-dasharray=\"6 4" : "";
    std::ostringstream path;
    for (const auto& [eps, acc] : series[s].points) path << px(eps) << "," << py(acc) << " ";
    svg << "<polyline fill=\"none\" stroke=\"" << color << dash << "\" stroke-width=\"2\" points=\""
        << path.str() << "\"/>";
    for (const auto& [eps, acc] : series[s].points) {
      svg << "<circle cx=\"" << px(eps) << "\" cy=\"" << py(acc) << "\" r=\"3.5\" fill=\"" << color
          << "\"><title>" << escape_markup(series[s].name) << " eps " << number(eps) << ": "
          << percent(acc) << "</title></circle>";
    }
    const double y = top + 14 + 18.0 * static_cast<double>(s);
    svg << "<rect x=\"" << w - right + 12 << "\" y=\"" << y - 9 << "\" width=\"14\" height=\"4\" "
        << "fill=\"" << color << "\"/><text x=\"" << w - right + 32 << "\" y=\"" << y - 3 << "\">"
        << escape_markup(series[s].name) << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

void write_charts(std::ostringstream& html, const Evaluation& ev) {
  std::map<std::string, std::vector<Series>> by_norm;  // norm -> series
  for (const auto& p : robustness_curve(ev)) {
    const std::string norm = p.family.substr(p.family.rfind('-') + 1);
    auto& series = by_norm[norm];
    if (series.empty() || series.back().name != p.family) {
      series.push_back({p.family, {{0.0, ev.clean_accuracy}}});
    }
    series.back().points.emplace_back(p.eps, p.robust_accuracy);
  }
  html << "<div class=\"charts\">\n";
  for (auto& [norm, series] : by_norm) {
    Series worst{"worst case", {{0.0, ev.clean_accuracy}}, /*dashed=*/true};
    for (const auto& b : ev.budgets) {
      if (attacks::to_string(b.norm) == norm) worst.points.emplace_back(b.eps, b.robust_accuracy);
    }
    std::sort(worst.points.begin(), worst.points.end());
    series.push_back(worst);
    html << "<div>" << svg_chart(series, (norm == "linf" ? "Linf" : "L2") + std::string(" eps"))
         << "</div>\n";
  }
  html << "</div>\n";
  if (by_norm.empty()) html << "<p class=\"muted\">No bounded attack was configured.</p>\n";
}

void write_summary(std::ostringstream& html, const Evaluation& ev) {
  html << "<table><tr><th class=\"l\">attack</th><th class=\"l\">budget</th><th>attacked</th>"
          "<th class=\"l\">robust accuracy"
       << (ev.cascade ? " (cumulative)" : "")
       << "</th><th>success rate</th><th>mean L2</th>"
          "<th>median L2</th><th>mean Linf</th><th>median Linf</th><th>forward / backward "
          "samples</th><th>seconds</th></tr>\n";
  auto bar = [](double f) {
    return "<span class=\"bar\" style=\"width:" + std::to_string(static_cast<int>(f * 120)) +
           "px\"></span>" + percent(f);
  };
  html << "<tr><td class=\"l\">clean</td><td></td><td>" << ev.num_points << "</td><td class=\"l\">"
       << bar(ev.clean_accuracy) << "</td><td colspan=\"7\"></td></tr>\n";
  for (const auto& a : ev.attacks) {
    const AttackMetrics& m = a.metrics;
    html << "<tr><td class=\"l\"><code>" << escape_markup(m.id) << "</code>"
         << (a.after.empty() ? ""
                             : " <span class=\"muted\">" +
                                   escape_markup(detail::attack_label(a).substr(m.id.size() + 1)) +
                                   "</span>")
         << "</td><td class=\"l\">"
         << detail::budget_text(a) << "</td><td>" << a.attacked << "</td><td class=\"l\">"
         << bar(m.robust_accuracy) << "</td><td>" << percent(m.success_rate) << "</td><td>"
         << number(m.mean_l2) << "</td><td>" << number(m.median_l2) << "</td><td>"
         << number(m.mean_linf) << "</td><td>" << number(m.median_linf) << "</td><td>"
         << a.forward_samples << " / " << a.backward_samples << "</td><td>" << number(a.seconds, 3)
         << "</td></tr>\n";
  }
  for (const auto& b : ev.budgets) {
    html << "<tr class=\"worst\"><td class=\"l\">worst case</td><td class=\"l\">" << b.key
         << "</td><td></td><td class=\"l\">" << bar(b.robust_accuracy)
         << "</td><td colspan=\"7\" class=\"l muted\">min over " << b.attacks.size()
         << " attack(s)</td></tr>\n";
  }
  html << "</table>\n";
  for (const auto& a : ev.attacks) {
    if (a.components.empty()) continue;
    html << "<p class=\"muted\"><code>" << escape_markup(a.metrics.id)
         << "</code> components, points each fooled in order:";
    for (const auto& [id, fooled] : a.components) {
      html << " <code>" << escape_markup(id) << "</code> " << fooled << ";";
    }
    html << "</p>\n";
  }
  if (const std::string note = detail::cascade_note(ev); !note.empty()) {
    html << "<p class=\"muted\">" << escape_markup(note) << "</p>\n";
  }
  if (const std::string note = detail::backdoor_note(ev); !note.empty()) {
    html << "<p class=\"muted\">" << escape_markup(note) << "</p>\n";
  }
}

void write_per_class(std::ostringstream& html, const Evaluation& ev) {
  html << "<table><tr><th class=\"l\">class</th><th>points</th><th>clean</th>";
  for (const auto& b : ev.budgets) html << "<th>worst " << b.key << "</th>";
  for (const auto& a : ev.attacks) html << "<th>" << escape_markup(a.metrics.id) << "</th>";
  html << "</tr>\n";
  for (int64_t c = 0; c < ev.num_classes; ++c) {
    const auto i = static_cast<std::size_t>(c);
    auto cell = [](double f) { return "<td style=\"" + heat(f) + "\">" + percent(f, 1) + "</td>"; };
    html << "<tr><td class=\"l\">" << escape_markup(ev.class_names[i]) << "</td><td>"
         << ev.class_counts[i] << "</td>" << cell(ev.per_class_clean_accuracy[i]);
    for (const auto& b : ev.budgets) html << cell(b.per_class_robust_accuracy[i]);
    for (const auto& a : ev.attacks) html << cell(a.metrics.per_class_robust_accuracy[i]);
    html << "</tr>\n";
  }
  html << "</table>\n";
}

void write_checks(std::ostringstream& html, const Evaluation& ev) {
  if (!ev.gates.empty()) {
    html << "<h2>Gates</h2>\n<table><tr><th class=\"l\">gate</th><th>value</th>"
            "<th class=\"l\">threshold</th><th class=\"l\">verdict</th></tr>\n";
    for (const auto& g : ev.gates) {
      html << "<tr><td class=\"l\">" << escape_markup(g.gate.name) << "</td><td>"
           << detail::gate_value(g) << "</td><td class=\"l\">" << escape_markup(g.threshold)
           << "</td><td class=\"l\"><span class=\"badge " << (g.passed ? "pass" : "fail") << "\">"
           << (g.passed ? "pass" : "FAIL") << "</span></td></tr>\n";
    }
    html << "</table>\n";
  }
  html << "<h2>Sanity checks against gradient masking</h2>\n<ul class=\"checks\">\n";
  for (const auto& c : ev.sanity) {
    const std::string verdict = detail::sanity_verdict(c, ev.strict);
    html << "<li><span class=\"badge " << (c.flagged ? (ev.strict ? "fail" : "warn") : "pass")
         << "\">" << verdict << "</span> <code>" << escape_markup(c.id) << "</code> "
         << escape_markup(c.message) << "</li>\n";
  }
  html << "</ul>\n";
}

void write_detection(std::ostringstream& html, const Evaluation& ev) {
  if (!ev.detection) return;
  const DetectionReport& d = *ev.detection;
  html << "<h2>Detector</h2>\n<p>" << escape_markup(d.description) << ": threshold "
       << number(d.threshold) << ", calibrated on " << d.calibration_points << " clean points for "
       << percent(d.target_fpr) << " false positives (" << percent(d.calibration_fpr) << " there); "
       << percent(d.fpr)
       << " of the evaluated clean points flagged. The attacks did not target the detector.</p>\n"
       << "<table><tr><th class=\"l\">attack</th><th>fooled</th><th>detected</th>"
          "<th>detection rate</th><th>robust or detected</th></tr>\n";
  for (const auto& a : d.attacks) {
    html << "<tr><td class=\"l\">" << escape_markup(a.attack_id) << "</td><td>" << a.successful
         << "</td><td>" << a.detected_successful << "</td><td>" << percent(a.detection_rate)
         << "</td><td>" << percent(a.robust_or_detected) << "</td></tr>\n";
  }
  for (const auto& b : d.budgets) {
    html << "<tr class=\"worst\"><td class=\"l\">worst case " << b.key
         << "</td><td colspan=\"3\"></td><td>" << percent(b.robust_or_detected) << "</td></tr>\n";
  }
  html << "</table>\n";
}

void write_examples(std::ostringstream& html, const Evaluation& ev) {
  html << "<h2>Examples</h2>\n";
  if (!ev.examples_unavailable.empty()) {
    html << "<p class=\"muted\">" << escape_markup(ev.examples_unavailable) << "</p>\n";
    return;
  }
  if (ev.examples.empty()) html << "<p class=\"muted\">No attack succeeded on any point.</p>\n";
  for (const auto& e : ev.examples) {
    html << "<div><img class=\"grid\" alt=\"" << escape_markup(e.attack_id)
         << " examples\" src=\"data:image/png;base64," << core::base64(e.png) << "\"></div>\n";
  }
}

void write_provenance(std::ostringstream& html, const Evaluation& ev) {
  const Provenance& p = ev.provenance;
  std::vector<std::pair<std::string, std::string>> rows{
      {"rampart", p.rampart_version},
      {"libtorch", p.libtorch_version},
      {"device, threads", p.device + ", " + std::to_string(p.threads)},
      {"seed", std::to_string(p.seed)},
      {"config", p.config_file + " (sha256 " + p.config_sha256 + ")"},
      {"model", p.model_path + " (" + p.model_description + ", " + std::to_string(p.model_bytes) +
                    " bytes)"},
      {"model sha256", p.model_sha256}};
  for (const auto& f : p.model_files) {
    std::string how;
    for (const auto& v : f.verified_by) how += (how.empty() ? "" : ", ") + v;
    rows.emplace_back("integrity", f.path + ": " +
                                       (how.empty() ? "UNPINNED (security.allow_unpinned)"
                                                    : "pinned (" + how + ")"));
  }
  rows.emplace_back("data", p.data_source);
  for (const auto& [path, sha] : p.data_files) rows.emplace_back("data file", path + " " + sha);
  rows.emplace_back("started", p.started_at + " on " + p.hostname);
  rows.emplace_back("duration", number(ev.seconds, 4) + " s");
  html << "<h2>Provenance</h2>\n<table>\n";
  for (const auto& [k, v] : rows) {
    html << "<tr><th class=\"l\">" << escape_markup(k) << "</th><td class=\"l\"><code>"
         << escape_markup(v) << "</code></td></tr>\n";
  }
  html << "</table>\n";
}

}  // namespace

std::string report_html(const Evaluation& ev) {
  std::ostringstream html;
  const bool ok = ev.exit_code() == 0;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "img-src data:; style-src 'unsafe-inline'\">"
          "<title>Rampart robustness report</title><style>"
       << kStyle << "</style></head><body>\n";
  html << "<h1>Rampart robustness report <span class=\"badge " << (ok ? "pass" : "fail") << "\">"
       << (ok ? "passed" : "failed") << "</span>";
  if (ev.sanity_flagged() > 0) {
    html << " <span class=\"badge warn\">" << ev.sanity_flagged() << " sanity warning"
         << (ev.sanity_flagged() > 1 ? "s" : "") << "</span>";
  }
  if (!ev.provenance.unpinned_model_files().empty()) {
    html << " <span class=\"badge warn\">unpinned model</span>";
  }
  html << "</h1>\n<p class=\"muted\">Model <code>" << escape_markup(ev.provenance.model_path)
       << "</code> on " << ev.num_points << " points of "
       << escape_markup(ev.provenance.data_source) << "; clean accuracy "
       << percent(ev.clean_accuracy);
  if (ev.worst_robust_accuracy) {
    html << ", worst-case robust accuracy " << percent(*ev.worst_robust_accuracy);
  }
  html << ".</p>\n<h2>Summary</h2>\n";
  write_summary(html, ev);
  write_checks(html, ev);
  write_detection(html, ev);
  html << "<h2>Robust accuracy against eps</h2>\n";
  write_charts(html, ev);
  html << "<h2>Per-class accuracy</h2>\n";
  write_per_class(html, ev);
  write_examples(html, ev);
  write_provenance(html, ev);
  html << "</body></html>\n";
  return html.str();
}

}  // namespace rampart::eval
