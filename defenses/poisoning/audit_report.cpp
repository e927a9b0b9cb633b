#include "defenses/poisoning/audit_report.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/atomic_file.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/inline_image.h"
#include "core/json_text.h"
#include "core/markup.h"
#include "core/version.h"

namespace rampart::defenses::poisoning {
namespace {

using nlohmann::json;

std::vector<double> rounded(const at::Tensor& t, double scale = 1e4) {
  const at::Tensor v = t.to(at::kDouble).contiguous();
  std::vector<double> out(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
  for (double& x : out) x = std::round(x * scale) / scale;
  return out;
}

std::string fixed(double value, int decimals) {
  char text[48];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string percent(double fraction) { return fixed(100.0 * fraction, 2) + "%"; }

std::string p_text(double p) {
  char text[32];
  std::snprintf(text, sizeof(text), p < 1e-4 ? "%.1e" : "%.4f", p);
  return text;
}

std::string class_name(const AuditContext& c, int64_t label) {
  if (label >= 0 && label < static_cast<int64_t>(c.class_names.size())) {
    return std::to_string(label) + " (" + c.class_names[label] + ")";
  }
  return std::to_string(label);
}

json verdict_json(const ClassVerdict& v, const std::string& detector) {
  json j{{"label", v.label}, {"points", v.points}, {"flagged", v.flagged}};
  if (detector == "spectral") {
    j["poisoned"] = v.poisoned;
    j["separation"] = v.separation;
    j["split_start"] = v.split_start;
    j["p_value"] = v.p_value;
    if (!v.split_start.empty()) {
      j["spectral_separation"] = v.spectral_separation;
      j["robust_separation"] = v.robust_separation;
      j["robust_share"] = v.robust_share;
      j["robust_diversity"] = v.robust_diversity;
    }
    if (v.robust_peels > 0 || v.peeled_split_p_value > 0) j["peeled_split_p_value"] = v.peeled_split_p_value;
    if (v.robust_peels > 0 || v.majority_peeled) {
      if (v.robust_peels > 0) j["robust_peels"] = v.robust_peels;
      if (v.majority_peeled) j["majority_peeled"] = true;
      if (v.peeled_until_ordinary) j["peeled_until_ordinary"] = true;
      j["peeled"] = v.peeled;
      j["peeled_split_separation"] = v.peeled_split_separation;
      if (v.side_rule == "source_entropy") j["peeled_other_class_share"] = v.peeled_other_class_share;
    }
    if (v.poisoned) {
      j["suspect_share"] = v.suspect_share;
      j["silhouette"] = v.silhouette;
      j["suspect_spread"] = v.suspect_spread;
      j["other_spread"] = v.other_spread;
      j["side_rule"] = v.side_rule;
      j["polish_rounds"] = v.polish_rounds;
      if (v.residual_groups > 0) {
        j["residual_groups"] = v.residual_groups;
        j["residual_flagged"] = v.residual_flagged;
      }
      if (v.side_rule == "source_entropy") {
        j["suspect_source_entropy"] = v.suspect_source_entropy;
        j["other_source_entropy"] = v.other_source_entropy;
      }
    }
    if (v.source_entropy_veto) {
      j["source_entropy_veto"] = true;
      j["suspect_source_entropy"] = v.suspect_source_entropy;
      j["other_source_entropy"] = v.other_source_entropy;
    }
  } else if (detector == "activation_clustering") {
    j["poisoned"] = v.poisoned;
    j["smaller_cluster_share"] = v.suspect_share;
    j["silhouette"] = v.silhouette;
  } else {
    j["flagged_share"] = v.suspect_share;
  }
  return j;
}

std::vector<std::string> poisoned_classes(const DetectorResult& d, const AuditContext& c) {
  std::vector<std::string> out;
  for (const auto& v : d.classes) {
    if (v.poisoned) out.push_back(class_name(c, v.label));
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "none" : out;
}

// The scores the report ranks and plots: spectral's when it ran, else the first detector's.
const DetectorResult& ranking_detector(const AuditResult& r) {
  for (const auto& d : r.detectors) {
    if (d.name == "spectral") return d;
  }
  return r.detectors.front();
}

std::string detector_table_md(const DetectorResult& d, const AuditContext& c) {
  std::ostringstream md;
  if (d.name == "spectral") {
    md << "| class | points | split separation (start) | p-value | poisoned | flagged | flagged share | spread flagged / other | source entropy flagged / other |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto& v : d.classes) {
      md << "| " << class_name(c, v.label) << " | " << v.points << " | " << fixed(v.separation, 2)
         << (v.split_start.empty() ? "" : " (" + v.split_start + ")")
         << (v.robust_peels > 0 || v.majority_peeled ? " after peeling " + std::to_string(v.peeled) + " points" : "")
         << (v.peeled_until_ordinary ? ", the rest ordinary" : "") << " | "
         << p_text(v.p_value) << " | " << (v.poisoned ? "**yes**" : v.source_entropy_veto ? "no (source entropy too low)" : "no")
         << " | " << v.flagged
         << (v.residual_groups > 0 ? " (" + std::to_string(v.residual_flagged) + " in " + std::to_string(v.residual_groups) +
                                         " residual group" + (v.residual_groups > 1 ? "s" : "") + ")"
                                   : "")
         << " | " << (v.poisoned ? percent(v.suspect_share) : "-") << " | "
         << (v.poisoned ? fixed(v.suspect_spread, 1) + " / " + fixed(v.other_spread, 1) : "-") << " | "
         << (v.side_rule == "source_entropy"
                 ? fixed(v.suspect_source_entropy, 2) + " / " + fixed(v.other_source_entropy, 2)
                 : "-")
         << " |\n";
    }
  } else if (d.name == "activation_clustering") {
    md << "| class | points | smaller cluster | silhouette | poisoned | flagged |\n"
          "| --- | --- | --- | --- | --- | --- |\n";
    for (const auto& v : d.classes) {
      md << "| " << class_name(c, v.label) << " | " << v.points << " | " << percent(v.suspect_share)
         << " | " << fixed(v.silhouette, 3) << " | " << (v.poisoned ? "**yes**" : "no") << " | "
         << v.flagged << " |\n";
    }
  } else {
    md << "| class | points | flagged ("
       << (d.name == "label_margin" ? "the model prefers another class" : "neighbours mostly another label")
       << ") | share |\n"
          "| --- | --- | --- | --- |\n";
    for (const auto& v : d.classes) {
      md << "| " << class_name(c, v.label) << " | " << v.points << " | " << v.flagged << " | "
         << percent(v.suspect_share) << " |\n";
    }
  }
  return md.str();
}

std::string describe_detector(const DetectorResult& d, const AuditSpec& s) {
  if (d.name == "spectral") {
    return "spectral signatures; a class is poisoned when the separation of its two-cluster split "
           "(Fisher, PCA " + std::to_string(s.dims) + ") stands out from the other classes' splits of the same start (p < " +
           p_text(s.alpha) + " / classes) and is at least " + fixed(s.min_separation, 1) +
           (s.min_source_entropy > 0
                ? ", and (with the inputs) its flagged side's other-class neighbours have a label "
                  "entropy of at least " + fixed(s.min_source_entropy, 2) + " nats"
                : "");
  }
  if (d.name == "activation_clustering") {
    return "activation clustering (PCA " + std::to_string(s.ac_dims) + ", two-means; smaller cluster < " +
           percent(s.ac_max_share) + " of the class and silhouette > " + fixed(s.ac_min_silhouette, 2) + ")";
  }
  if (d.name == "label_margin" && s.margin_rule == "pair_prior") {
    return "label margins (the given label's logit minus the largest other) discounted by the pair prior "
           "(weight " + fixed(s.margin_prior_weight, 2) + "); flagged below -" + fixed(s.margin_threshold, 2);
  }
  if (d.name == "label_margin") {
    return "label margins (the given label's logit minus the largest other; flagged more than " +
           fixed(s.margin_k, 1) + " robust standard deviations below the median margin)";
  }
  return "k-NN labels (k " + std::to_string(s.knn_k) + ", PCA " + std::to_string(s.knn_dims) +
         "; flagged when >= " + percent(s.knn_min_share) + " of the neighbours carry one other label)";
}

std::string markdown(const AuditResult& r, const AuditSpec& s, const AuditContext& c) {
  std::ostringstream md;
  md << "# Data audit\n\n"
     << "- config: `" << c.config_path << "`\n"
     << "- data: " << c.data_source << ", " << r.points << " points, " << r.num_classes << " classes"
     << (c.manifest_root.empty() ? "" : ", manifest root `" + c.manifest_root + "`") << "\n"
     << "- model: " << c.model << (c.trained_here ? " (trained on this data by this audit)" : "") << "\n"
     << "- features: " << s.layer << " layer, " << r.feature_dims << " dims ("
     << fixed(c.feature_seconds, 1) << " s); detection " << fixed(r.seconds, 2) << " s\n\n"
     << "**Flagged: " << r.flagged.numel() << " of " << r.points << " points ("
     << percent(r.points ? double(r.flagged.numel()) / r.points : 0.0) << ").** The indices are in "
     << "`audit.json` (`flagged`); `data.exclude: audit.json` in a train config leaves them out.\n\n";
  for (const auto& d : r.detectors) {
    md << "## " << d.name << "\n\n" << describe_detector(d, s) << ". Flagged "
       << d.flagged.sum().item<int64_t>() << ".";
    if (!judges_points_only(d.name)) md << " Classes judged poisoned: " << join(poisoned_classes(d, c)) << ".";
    md << "\n\n" << detector_table_md(d, c) << "\n";
  }
  if (c.ground_truth.defined()) {
    md << "## Against the ground truth (`" << c.ground_truth_path << "`)\n\n"
       << "| detector | recall | precision | false positives (share of clean points) |\n"
          "| --- | --- | --- | --- |\n";
    auto row = [&](const std::string& name, const at::Tensor& flagged_mask) {
      const AuditScore sc = score_audit(flagged_mask, c.ground_truth, r.points);
      md << "| " << name << " | " << sc.true_positives << " of " << sc.poisoned << " ("
         << percent(sc.recall()) << ") | " << percent(sc.precision()) << " | " << sc.false_positives
         << " (" << percent(sc.false_positive_rate()) << ") |\n";
    };
    for (const auto& d : r.detectors) row(d.name, d.flagged);
    if (r.detectors.size() > 1) {
      at::Tensor any = at::zeros({r.points}, at::kBool);
      any.index_fill_(0, r.flagged, true);
      row("all (flagged)", any);
    }
    md << "\n";
  }
  return md.str();
}

// An SVG histogram of one class's scores over [lo, hi] (every class on the same axis): unflagged
// points blue, flagged red, counts on a log scale.
std::string histogram_svg(const at::Tensor& scores, const at::Tensor& flagged, double lo, double hi) {
  constexpr int kBins = 40, kW = 260, kH = 90;
  std::vector<int64_t> clean(kBins, 0), marked(kBins, 0);
  const at::Tensor s = scores.to(at::kDouble).contiguous();
  const at::Tensor f = flagged.to(at::kBool).contiguous();
  for (int64_t i = 0; i < s.numel(); ++i) {
    const double v = s.data_ptr<double>()[i];
    if (!std::isfinite(v)) continue;
    // Clamped as a double first: a score far outside [lo, hi] must not overflow the int.
    const double position = std::clamp((v - lo) / (hi - lo) * kBins, 0.0, kBins - 1.0);
    (f.data_ptr<bool>()[i] ? marked : clean)[static_cast<int>(position)] += 1;
  }
  int64_t most = 1;
  for (int b = 0; b < kBins; ++b) most = std::max(most, clean[b] + marked[b]);
  const double unit = (kH - 14) / std::log10(1.0 + static_cast<double>(most));
  std::ostringstream svg;
  svg << "<svg width=\"" << kW << "\" height=\"" << kH << "\" viewBox=\"0 0 " << kW << " " << kH
      << "\"><rect width=\"" << kW << "\" height=\"" << kH << "\" fill=\"#fafafa\"/>";
  const double bw = static_cast<double>(kW) / kBins;
  for (int b = 0; b < kBins; ++b) {
    const double h_all = std::log10(1.0 + clean[b] + marked[b]) * unit;
    const double h_clean = std::log10(1.0 + clean[b]) * unit;
    if (clean[b] + marked[b] == 0) continue;
    svg << "<rect x=\"" << fixed(b * bw, 1) << "\" y=\"" << fixed(kH - 12 - h_all, 1)
        << "\" width=\"" << fixed(bw - 1, 1) << "\" height=\"" << fixed(h_all, 1)
        << "\" fill=\"" << (marked[b] ? "#d62728" : "#1f77b4") << "\"><title>" << clean[b] + marked[b]
        << " points (" << marked[b] << " flagged)</title></rect>";
    if (marked[b] && clean[b]) {
      svg << "<rect x=\"" << fixed(b * bw, 1) << "\" y=\"" << fixed(kH - 12 - h_clean, 1)
          << "\" width=\"" << fixed(bw - 1, 1) << "\" height=\"" << fixed(h_clean, 1)
          << "\" fill=\"#1f77b4\"/>";
    }
  }
  svg << "<text x=\"0\" y=\"" << kH - 1 << "\" font-size=\"10\">" << fixed(lo, 1)
      << "</text><text x=\"" << kW - 30 << "\" y=\"" << kH - 1 << "\" font-size=\"10\">"
      << fixed(hi, 1) << "</text></svg>";
  return svg.str();
}

std::string image_png(const at::Tensor& image, double lo, double hi) {
  const at::Tensor u8 = ((image.to(at::kFloat) - lo) / (hi - lo) * 255.0)
                            .round()
                            .clamp(0, 255)
                            .to(at::kByte)
                            .permute({1, 2, 0})
                            .contiguous();
  return core::encode_png(u8.data_ptr<uint8_t>(), u8.size(1), u8.size(0),
                          static_cast<int>(u8.size(2)));
}

std::string html(const AuditResult& r, const AuditSpec& s, const AuditContext& c,
                 const at::Tensor& images, const at::Tensor& labels, double lo, double hi) {
  using core::escape_markup;
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Rampart data audit</title><style>"
       "body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}"
       "table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}"
       "th{background:#f4f4f4}td.l,th.l{text-align:left}tr.bad td{background:#fdecea;font-weight:bold}"
       ".charts{display:flex;flex-wrap:wrap;gap:12px}.chart{font-size:12px}"
       "figure{display:inline-block;margin:4px;text-align:center;font-size:11px}"
       "figure img{width:56px;height:56px;image-rendering:pixelated;border:1px solid #ccc}"
       ".muted{color:#666;font-size:12px}</style></head><body>\n";
  h << "<h1>Data audit</h1><p>" << escape_markup(c.data_source) << ": " << r.points << " points, "
    << r.num_classes << " classes. Model: " << escape_markup(c.model)
    << (c.trained_here ? " (trained on this data by this audit)" : "") << ". Features: "
    << escape_markup(s.layer) << " layer, " << r.feature_dims << " dims.</p>\n";
  h << "<p><b>Flagged: " << r.flagged.numel() << " of " << r.points << " points ("
    << percent(r.points ? double(r.flagged.numel()) / r.points : 0.0)
    << ").</b> <span class=\"muted\">Config " << escape_markup(c.config_path) << "; "
    << escape_markup(core::utc_now_iso8601()) << "; Rampart " << kVersion << ".</span></p>\n";
  for (const auto& d : r.detectors) {
    h << "<h2>" << escape_markup(d.name) << "</h2><p>" << escape_markup(describe_detector(d, s))
      << ".</p><table><tr><th class=\"l\">class</th><th>points</th><th>flagged</th>";
    if (d.name == "spectral") h << "<th>split separation</th><th>p-value</th><th>poisoned</th>";
    if (d.name == "activation_clustering") h << "<th>smaller cluster</th><th>silhouette</th><th>poisoned</th>";
    h << "</tr>\n";
    for (const auto& v : d.classes) {
      h << "<tr" << (v.poisoned ? " class=\"bad\"" : "") << "><td class=\"l\">"
        << escape_markup(class_name(c, v.label)) << "</td><td>" << v.points << "</td><td>" << v.flagged << "</td>";
      if (d.name == "spectral") {
        h << "<td>" << fixed(v.separation, 2) << "</td><td>" << p_text(v.p_value)
          << "</td><td>" << (v.poisoned ? "yes" : "no") << "</td>";
      }
      if (d.name == "activation_clustering") {
        h << "<td>" << percent(v.suspect_share) << "</td><td>" << fixed(v.silhouette, 3) << "</td><td>"
          << (v.poisoned ? "yes" : "no") << "</td>";
      }
      h << "</tr>\n";
    }
    h << "</table>\n";
  }
  if (c.ground_truth.defined()) {
    h << "<h2>Against the ground truth</h2><table><tr><th class=\"l\">detector</th><th>recall</th>"
         "<th>precision</th><th>false positives</th></tr>";
    for (const auto& d : r.detectors) {
      const AuditScore sc = score_audit(d.flagged, c.ground_truth, r.points);
      h << "<tr><td class=\"l\">" << escape_markup(d.name) << "</td><td>" << percent(sc.recall())
        << "</td><td>" << percent(sc.precision()) << "</td><td>" << sc.false_positives << " ("
        << percent(sc.false_positive_rate()) << ")</td></tr>";
    }
    h << "</table>\n";
  }
  const DetectorResult& rank = ranking_detector(r);
  // The axis spans every class's finite scores; it starts at 0 or below (label margins are
  // mostly negative) and ends at the highest score.
  const at::Tensor finite = rank.scores.numel() ? rank.scores.masked_select(rank.scores.isfinite())
                                                : rank.scores;
  const double axis_lo = finite.numel() ? std::min(finite.min().item<double>(), 0.0) : 0.0;
  const double axis_hi = std::max(finite.numel() ? finite.max().item<double>() : 1.0, axis_lo + 1e-9);
  h << "<h2>Scores per class (" << escape_markup(rank.name) << ")</h2><p class=\"muted\">Counts on a log "
       "scale; red bars hold flagged points"
    << (rank.name == "spectral" ? "; the score is the robust z-score, within the class, of SPECTRE's QUE score" : "")
    << ".</p><div class=\"charts\">\n";
  for (int64_t cls = 0; cls < r.num_classes; ++cls) {
    const at::Tensor in_class = labels == cls;
    h << "<div class=\"chart\">" << escape_markup(class_name(c, cls)) << "<br>"
      << histogram_svg(rank.scores.index({in_class}), rank.flagged.index({in_class}), axis_lo, axis_hi)
      << "</div>\n";
  }
  h << "</div>\n";
  if (s.top_images > 0 && images.defined() && images.size(0) > 0) {
    // The most suspicious points: flagged ones by score, or, with none flagged, the top scores.
    at::Tensor order = std::get<1>(rank.scores.sort(0, /*descending=*/true));
    at::Tensor any = at::zeros({r.points}, at::kBool);
    if (r.flagged.numel()) any.index_fill_(0, r.flagged, true);
    if (r.flagged.numel()) order = order.index({any.index({order})});
    order = order.slice(0, 0, s.top_images);
    h << "<h2>The " << order.numel() << " most suspicious images</h2><p class=\"muted\">Index, label"
      << " and " << escape_markup(rank.name) << " score" << (r.flagged.numel() ? " (flagged points)" : "")
      << ".</p><div>\n";
    for (int64_t i = 0; i < order.numel(); ++i) {
      const int64_t idx = order[i].item<int64_t>();
      h << "<figure><img alt=\"point " << idx << "\" src=\"data:image/png;base64,"
        << core::base64(image_png(images[idx], lo, hi)) << "\"><figcaption>#" << idx << " label "
        << labels[idx].item<int64_t>() << "<br>" << fixed(rank.scores[idx].item<double>(), 1)
        << "</figcaption></figure>";
    }
    h << "</div>\n";
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace

AuditScore score_audit(const at::Tensor& flagged, const at::Tensor& truth, int64_t points) {
  at::Tensor truth_mask = at::zeros({points}, at::kBool);
  if (truth.numel()) truth_mask.index_fill_(0, truth.to(at::kLong), true);
  const at::Tensor f = flagged.to(at::kBool);
  AuditScore s;
  s.poisoned = truth_mask.sum().item<int64_t>();
  s.clean = points - s.poisoned;
  s.true_positives = (f & truth_mask).sum().item<int64_t>();
  s.false_positives = (f & truth_mask.logical_not()).sum().item<int64_t>();
  return s;
}

nlohmann::json audit_json(const AuditResult& r, const AuditSpec& s, const AuditContext& c) {
  json detectors = json::array();
  json scores = json::object();
  for (const auto& d : r.detectors) {
    json classes = json::array();
    for (const auto& v : d.classes) classes.push_back(verdict_json(v, d.name));
    json entry{{"name", d.name},
               {"flagged_count", d.flagged.sum().item<int64_t>()},
               {"classes", classes}};
    if (!judges_points_only(d.name)) {
      json poisoned = json::array();
      for (const auto& v : d.classes) {
        if (v.poisoned) poisoned.push_back(v.label);
      }
      entry["poisoned_classes"] = poisoned;
    }
    if (c.ground_truth.defined()) {
      const AuditScore sc = score_audit(d.flagged, c.ground_truth, r.points);
      entry["against_ground_truth"] = {{"recall", sc.recall()}, {"precision", sc.precision()},
                                       {"true_positives", sc.true_positives},
                                       {"false_positives", sc.false_positives},
                                       {"false_positive_rate", sc.false_positive_rate()}};
    }
    detectors.push_back(entry);
    scores[d.name] = rounded(d.scores);
    if (d.neighbour_label.defined()) {
      const at::Tensor nl = d.neighbour_label.contiguous();
      scores[d.name + (d.name == "knn_labels" ? "_neighbour_label" : "_preferred_label")] =
          std::vector<int64_t>(nl.data_ptr<int64_t>(), nl.data_ptr<int64_t>() + nl.numel());
    }
  }
  const at::Tensor flagged = r.flagged.contiguous();
  json out{
      {"schema", "rampart-data-audit/1"},
      {"tool", std::string("rampart ") + kVersion},
      {"created_at", core::utc_now_iso8601()},
      {"config", c.config_path},
      {"data", {{"source", c.data_source}, {"points", r.points}, {"num_classes", r.num_classes},
                {"manifest_root", c.manifest_root.empty() ? json(nullptr) : json(c.manifest_root)},
                {"root", c.data_root.empty() ? json(nullptr) : json(c.data_root)}}},
      {"model", {{"description", c.model}, {"trained_here", c.trained_here}}},
      {"features", {{"layer", s.layer}, {"dims", r.feature_dims}, {"seconds", c.feature_seconds}}},
      {"spec", {{"detectors", s.detectors}, {"alpha", s.alpha}, {"min_separation", s.min_separation},
                {"dims", s.dims}, {"spectral_starts", s.spectral_starts}, {"robust", {{"keep", s.robust_keep}, {"rest_starts", s.robust_rest_starts}, {"min_share", s.robust_min_share}, {"min_diversity", s.robust_min_diversity}, {"peels", s.robust_peels}}},
                {"tail_k", s.tail_k}, {"polish_rounds", s.polish_rounds}, {"max_flagged_share", s.max_flagged_share}, {"min_source_entropy", s.min_source_entropy}, {"knn", {{"k", s.knn_k}, {"min_share", s.knn_min_share}, {"dims", s.knn_dims}}},
                {"label_margin", {{"rule", s.margin_rule}, {"prior_weight", s.margin_prior_weight}, {"threshold", s.margin_threshold}, {"k", s.margin_k}}},
                {"activation_clustering", {{"reduce", s.ac_reduce}, {"dims", s.ac_dims}, {"max_share", s.ac_max_share}, {"min_silhouette", s.ac_min_silhouette}}},
                {"seed", s.seed}}},
      {"detection_seconds", r.seconds},
      {"flagged_count", flagged.numel()},
      {"flagged", std::vector<int64_t>(flagged.data_ptr<int64_t>(),
                                       flagged.data_ptr<int64_t>() + flagged.numel())},
      {"detectors", detectors},
      {"scores", scores}};
  if (c.ground_truth.defined()) {
    at::Tensor any = at::zeros({r.points}, at::kBool);
    if (flagged.numel()) any.index_fill_(0, flagged, true);
    const AuditScore sc = score_audit(any, c.ground_truth, r.points);
    out["against_ground_truth"] = {{"file", c.ground_truth_path}, {"poisoned", sc.poisoned},
                                   {"recall", sc.recall()}, {"precision", sc.precision()},
                                   {"true_positives", sc.true_positives},
                                   {"false_positives", sc.false_positives},
                                   {"false_positive_rate", sc.false_positive_rate()}};
  }
  return out;
}

void write_audit_reports(const std::string& dir, const AuditResult& result, const AuditSpec& spec,
                         const AuditContext& context, const at::Tensor& images,
                         const at::Tensor& labels, double range_min, double range_max) {
  const std::string base = dir.empty() ? std::string() : dir + "/";
  // audit.json last, and the old one gone first: a run that stops half-way (a full disk) leaves
  // no audit.json beside new or old pages, rather than an earlier audit that data.exclude reads.
  std::error_code ec;
  std::filesystem::remove(base + "audit.json", ec);
  if (ec) throw DataError(base + "audit.json: cannot replace it: " + ec.message());
  core::write_file_atomic(base + "audit.md", markdown(result, spec, context));
  core::write_file_atomic(base + "audit.html",
                          html(result, spec, context, images, labels.to(at::kLong), range_min, range_max));
  core::write_file_atomic(base + "audit.json", core::json_text(audit_json(result, spec, context), 1) + "\n");
}

}  // namespace rampart::defenses::poisoning
