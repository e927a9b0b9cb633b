// eval::merge_measurements: the parts of a distributed evaluation, one per rank, made into the
// measurements one process would have made.
#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>

#include "eval/measurement.h"

namespace rampart::eval {
namespace {

[[noreturn]] void mismatch(const std::string& what) {
  throw std::invalid_argument("merge_measurements: " + what);
}

// Copies rows [begin, end) of `part` into `whole` (both [N, ...]).
void copy_rows(at::Tensor& whole, const at::Tensor& part, int64_t begin, int64_t end) {
  if (!part.defined() || part.size(0) != whole.size(0)) mismatch("a per-point tensor has the wrong size");
  whole.slice(0, begin, end).copy_(part.slice(0, begin, end));
}

// The examples of every part in point order (each part's are in point order and the parts are
// too), the first `limit` kept.
void merge_examples(AttackRun& whole, at::Tensor& predictions, std::vector<Measurements>& parts,
                    std::size_t attack, int64_t limit) {
  std::vector<at::Tensor> indices, images, predicted;
  for (auto& p : parts) {
    const AttackRun& run = p.attacks[attack];
    if (run.example_indices.numel() == 0) continue;
    indices.push_back(run.example_indices);
    images.push_back(run.example_adversarial);
    predicted.push_back(p.example_predictions.at(attack));
  }
  if (indices.empty()) {
    whole.example_indices = at::zeros({0}, at::kLong);
    whole.example_adversarial = at::Tensor();
    predictions = at::zeros({0}, at::kLong);
    return;
  }
  const int64_t keep = std::max<int64_t>(limit, 0);
  whole.example_indices = at::cat(indices).slice(0, 0, keep);
  whole.example_adversarial = at::cat(images).slice(0, 0, keep);
  predictions = at::cat(predicted).slice(0, 0, keep);
}

}  // namespace

Measurements merge_measurements(const EvalConfig& config, std::vector<Measurements> parts,
                                const std::vector<MeasureScope>& scopes) {
  if (parts.empty() || parts.size() != scopes.size()) mismatch("one scope per part is needed");
  Measurements out = parts.front();  // shallow: every tensor below is replaced, never written
  const int64_t n = out.clean_predictions.numel();
  int64_t covered = 0;
  int probes = 0;
  for (std::size_t r = 0; r < parts.size(); ++r) {
    const MeasureScope& s = scopes[r];
    const int64_t end = s.end < 0 ? n : s.end;
    if (s.begin != covered || end < s.begin || end > n) {
      mismatch("part " + std::to_string(r) + " covers [" + std::to_string(s.begin) + ", " +
               std::to_string(end) + ") where point " + std::to_string(covered) + " comes next");
    }
    covered = end;
    if (parts[r].attacks.size() != config.attacks.size()) {
      mismatch("part " + std::to_string(r) + " ran " + std::to_string(parts[r].attacks.size()) +
               " attacks, the config has " + std::to_string(config.attacks.size()));
    }
    if (!at::equal(parts[r].clean_predictions, out.clean_predictions)) {
      mismatch("part " + std::to_string(r) + " predicted the clean points differently");
    }
    if (s.sanity_probes) {
      out.probe = parts[r].probe;
      ++probes;
    }
  }
  if (covered != n) mismatch("the parts end at point " + std::to_string(covered) + " of " + std::to_string(n));
  if (probes > 1) mismatch("more than one part ran the sanity probes");

  for (std::size_t a = 0; a < config.attacks.size(); ++a) {
    AttackRun& whole = out.attacks[a];
    AttackOutcome& o = whole.outcome;
    const AttackRun& first = parts.front().attacks[a];
    o.success = first.outcome.success.clone();
    o.l2 = first.outcome.l2.clone();
    o.linf = first.outcome.linf.clone();
    if (first.outcome.fooled_by.defined()) o.fooled_by = first.outcome.fooled_by.clone();
    if (first.adversarial.defined()) whole.adversarial = first.adversarial.clone();
    if (first.detected.defined()) whole.detected = first.detected.clone();
    whole.attacked = 0;
    o.seconds = 0;
    o.forward_samples = o.backward_samples = 0;
    for (std::size_t r = 0; r < parts.size(); ++r) {
      const AttackRun& run = parts[r].attacks[a];
      if (run.outcome.id != o.id) mismatch("part " + std::to_string(r) + " ran " + run.outcome.id + " where " + o.id + " was due");
      const int64_t begin = scopes[r].begin, end = scopes[r].end < 0 ? n : scopes[r].end;
      copy_rows(o.success, run.outcome.success, begin, end);
      copy_rows(o.l2, run.outcome.l2, begin, end);
      copy_rows(o.linf, run.outcome.linf, begin, end);
      if (o.fooled_by.defined()) copy_rows(o.fooled_by, run.outcome.fooled_by, begin, end);
      if (whole.adversarial.defined()) copy_rows(whole.adversarial, run.adversarial, begin, end);
      if (whole.detected.defined()) copy_rows(whole.detected, run.detected, begin, end);
      whole.attacked += run.attacked;
      o.seconds = std::max(o.seconds, run.outcome.seconds);
      o.forward_samples += run.outcome.forward_samples;
      o.backward_samples += run.outcome.backward_samples;
    }
    merge_examples(whole, out.example_predictions.at(a), parts, a, config.report.examples);
  }
  return out;
}

}  // namespace rampart::eval
