#include "defenses/poisoning/data_audit.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/error.h"
#include "defenses/poisoning/detectors.h"

namespace rampart::defenses::poisoning {

bool AuditSpec::uses(const std::string& detector) const {
  return std::find(detectors.begin(), detectors.end(), detector) != detectors.end();
}

AuditSpec parse_audit_spec(const core::ConfigNode& node) {
  node.expect_keys({"detectors", "layer", "alpha", "min_separation", "dims", "spectral_starts", "robust", "tail_k", "polish_rounds",
                    "max_flagged_share", "min_source_entropy",
                    "knn", "activation_clustering",
                    "label_margin", "batch_size", "top_images", "seed", "ground_truth",
                    "save_features"});
  // ground_truth (the poisoned.npy of `rampart data poison`) is read by the command.
  AuditSpec spec;
  if (node.has("detectors")) {
    spec.detectors = node.get_string_list("detectors");
    if (spec.detectors.empty()) node.fail_at("detectors", "empty: name at least one detector");
    for (const auto& d : spec.detectors) {
      if (d != "spectral" && d != "activation_clustering" && d != "knn_labels" &&
          d != "label_margin") {
        node.fail_at("detectors", "unknown detector '" + d +
                  "' (spectral | activation_clustering | knn_labels | label_margin)");
      }
    }
  }
  spec.layer = node.get_choice("layer", {"penultimate", "logits"}, spec.layer);
  spec.alpha = node.get_double("alpha", spec.alpha, 1e-12, 0.5);
  spec.min_separation = node.get_double("min_separation", spec.min_separation, 0.0, 1e6);
  spec.dims = node.get_int("dims", spec.dims, 1, 1024);
  spec.spectral_starts = node.get_int("spectral_starts", spec.spectral_starts, 1, 1024);
  if (const auto robust = node.optional_child("robust")) {
    robust->expect_keys({"keep", "rest_starts", "min_share", "min_diversity", "peels"});
    spec.robust_keep = robust->get_double("keep", spec.robust_keep, 0.5001, 1.0);
    spec.robust_rest_starts = robust->get_int("rest_starts", spec.robust_rest_starts, 1, 1024);
    spec.robust_min_share = robust->get_double("min_share", spec.robust_min_share, 0.0, 0.5);
    spec.robust_min_diversity = robust->get_double("min_diversity", spec.robust_min_diversity, 0.0, 1e6);
    spec.robust_peels = robust->get_int("peels", spec.robust_peels, 0, 8);
  }
  spec.tail_k = node.get_double("tail_k", spec.tail_k, 0.0, 1e6);
  spec.polish_rounds = node.get_int("polish_rounds", spec.polish_rounds, 0, 100);
  spec.max_flagged_share = node.get_double("max_flagged_share", spec.max_flagged_share, 0.5, 1.0);
  spec.min_source_entropy = node.get_double("min_source_entropy", spec.min_source_entropy, 0.0, 100.0);
  if (const auto knn = node.optional_child("knn")) {
    knn->expect_keys({"k", "min_share", "dims"});
    spec.knn_k = knn->get_int("k", spec.knn_k, 1, 1000);
    spec.knn_min_share = knn->get_double("min_share", spec.knn_min_share, 0.5, 1.0);
    spec.knn_dims = knn->get_int("dims", spec.knn_dims, 1, 4096);
  }
  if (const auto margin = node.optional_child("label_margin")) {
    margin->expect_keys({"rule", "prior_weight", "threshold", "k"});
    spec.margin_rule = margin->get_choice("rule", {"pair_prior", "robust_z"}, spec.margin_rule);
    spec.margin_prior_weight = margin->get_double("prior_weight", spec.margin_prior_weight, 0.0, 100.0);
    spec.margin_threshold = margin->get_double("threshold", spec.margin_threshold, -1e6, 1e6);
    spec.margin_k = margin->get_double("k", spec.margin_k, 0.0, 1e6);
  }
  if (const auto ac = node.optional_child("activation_clustering")) {
    ac->expect_keys({"reduce", "dims", "max_share", "min_silhouette"});
    spec.ac_reduce = ac->get_choice("reduce", {"pca", "ica"}, spec.ac_reduce);
    spec.ac_dims = ac->get_int("dims", spec.ac_dims, 1, 1024);
    spec.ac_max_share = ac->get_double("max_share", spec.ac_max_share, 0.0, 0.5);
    spec.ac_min_silhouette = ac->get_double("min_silhouette", spec.ac_min_silhouette, -1.0, 1.0);
  }
  spec.batch_size = node.get_int("batch_size", spec.batch_size, 1, 1 << 20);
  spec.top_images = node.get_int("top_images", spec.top_images, 0, 1024);
  spec.seed = static_cast<uint64_t>(node.get_int("seed", 0, 0));
  spec.save_features = node.get_bool("save_features", false);
  return spec;
}

std::vector<ClassVerdict> point_counts_per_class(const at::Tensor& flagged, const at::Tensor& labels,
                                                 int64_t num_classes) {
  std::vector<ClassVerdict> classes;
  for (int64_t c = 0; c < num_classes; ++c) {
    ClassVerdict v;
    v.label = c;
    const at::Tensor in_class = labels == c;
    v.points = in_class.sum().item<int64_t>();
    v.flagged = (flagged & in_class).sum().item<int64_t>();
    v.relabel_candidates = v.flagged;
    v.suspect_share = v.points > 0 ? static_cast<double>(v.flagged) / v.points : 0.0;
    classes.push_back(v);
  }
  return classes;
}

bool judges_points_only(const std::string& detector) {
  return detector == "knn_labels" || detector == "label_margin";
}

namespace {

// The detectors' inputs as the audit needs them; a broken model (NaN features) would otherwise
// surface as a failed eigendecomposition deep inside a detector.
void check_audit_inputs(const at::Tensor& features, const at::Tensor& labels, int64_t num_classes,
                        const at::Tensor& logits) {
  if (features.dim() != 2) {
    throw std::invalid_argument("audit_features: features must be [N, D], got " +
                                std::to_string(features.dim()) + " dimensions");
  }
  if (labels.dim() != 1 || labels.size(0) != features.size(0)) {
    throw std::invalid_argument("audit_features: " + std::to_string(features.size(0)) +
                                " feature rows but " + std::to_string(labels.numel()) + " labels");
  }
  const at::Tensor outside = (labels < 0).logical_or(labels >= num_classes);
  if (outside.any().item<bool>()) {
    const int64_t i = outside.nonzero()[0][0].item<int64_t>();
    throw std::invalid_argument("audit_features: point " + std::to_string(i) + " has label " +
                                std::to_string(labels[i].item<int64_t>()) + ", outside the " +
                                std::to_string(num_classes) + " classes");
  }
  for (const auto& [values, name] :
       {std::pair{features, "features"}, std::pair{logits, "logits"}}) {
    if (!values.defined()) continue;
    // [N, D] rows (flatten, not reshape to [N, -1], which fails on N = 0).
    const at::Tensor rows = values.dim() > 1 ? values.flatten(1) : values.unsqueeze(1);
    const at::Tensor bad = rows.isfinite().logical_not();
    if (!bad.any().item<bool>()) continue;
    const at::Tensor first = bad.nonzero()[0];
    const int64_t row = first[0].item<int64_t>();
    const double v = rows[row][first[1].item<int64_t>()].item<double>();
    throw DataError(std::string("the ") + name + " of point " + std::to_string(row) +
                    " are not finite (" +
                    (std::isnan(v) ? "nan"
                     : v > 0       ? "inf"
                                   : "-inf") +
                    "): the model's output is broken there, so no detector can rank the points");
  }
}

}  // namespace

AuditResult audit_features(const at::Tensor& features, const at::Tensor& labels,
                           int64_t num_classes, const AuditSpec& spec, const at::Tensor& logits,
                           const at::Tensor& inputs) {
  check_audit_inputs(features, labels, num_classes, logits);
  const auto start = std::chrono::steady_clock::now();
  AuditResult result;
  result.points = features.size(0);
  result.num_classes = num_classes;
  result.feature_dims = features.size(1);
  const at::Tensor y = labels.to(at::kLong).contiguous();
  for (const auto& name : spec.detectors) {
    if (name == "spectral") {
      result.detectors.push_back(detect_spectral(features, y, num_classes, spec, inputs));
    } else if (name == "activation_clustering") {
      result.detectors.push_back(detect_activation_clustering(features, y, num_classes, spec));
    } else if (name == "label_margin") {
      result.detectors.push_back(detect_label_margin(logits, y, num_classes, spec));
    } else {
      result.detectors.push_back(detect_knn_labels(features, y, num_classes, spec));
    }
  }
  at::Tensor any = at::zeros({result.points}, at::kBool);
  for (const auto& d : result.detectors) any |= d.flagged;
  result.flagged = any.nonzero().flatten().contiguous();
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace rampart::defenses::poisoning
