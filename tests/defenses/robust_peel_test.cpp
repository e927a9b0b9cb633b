// Peeling's split of the rest when the rest's top whitened direction leads nowhere
// (AuditSpec::robust_rest_starts), and the level that split is judged at (alpha: the class was
// already picked at the family-wise level). Modelled on the 1% top-corner BadNets run of seed 1
// (docs/poisoning.md): the pullovers' robust split cut off a tight group of poisons, too small to
// be judged alone; the other poisons lay along the rest's second whitened direction, the first
// one cutting off a wide group of clean pullovers; the rest's split of the poisons stood out at
// p 1.08e-4, between alpha / 10 and alpha. Before both changes no class was judged poisoned.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

#include "core/config_node.h"
#include "defenses/poisoning/audit_report.h"
#include "defenses/poisoning/data_audit.h"
#include "defenses/poisoning/source_diversity.h"

using namespace rampart;
using namespace rampart::defenses::poisoning;

namespace {

constexpr int64_t kClasses = 10, kPer = 600, kTarget = 3;

// Ten classes of 600 points (features: a class centre plus unit noise in 24 dims; images: a
// class prototype plus noise, [1, 8, 8]). In every class 11% of the points are a wide group of
// its own (18 units off along a class direction, sd 6): the whitened top direction of any rest,
// and an ordinary split. Poisons relabelled to the target: 26 points of the other classes in a
// tight group (30 units off along axis 9, sd 0.3) and 35 of the classes but the target and 8,
// diverse (12.9 units off along axis 5, sd 1 there and 3 elsewhere). Their images stay theirs.
struct RestCase {
  at::Tensor features, labels, inputs, poisoned;
};
// Ten classes of 600 points from `seed`: labels, images (a class prototype plus noise,
// [1, 8, 8]), feature centres (24 dims) and features (a class centre plus unit noise).
struct Classes {
  at::Tensor labels, images, protos, features;
};
Classes classes(uint64_t seed) {
  at::manual_seed(seed);
  const int64_t n = kClasses * kPer;
  Classes c;
  c.labels = at::arange(kClasses, at::kLong).repeat_interleave(kPer);
  const at::Tensor image_protos = at::rand({kClasses, 1, 8, 8});
  c.images = (image_protos.index_select(0, c.labels) + 0.15 * at::randn({n, 1, 8, 8})).clamp(0, 1);
  c.protos = at::randn({kClasses, 24}) * 6.0;
  c.features = c.protos.index_select(0, c.labels) + at::randn({n, 24});
  return c;
}

RestCase rest_case() {
  const int64_t n = kClasses * kPer;
  const Classes base = classes(6);
  const at::Tensor& labels = base.labels;
  const at::Tensor& images = base.images;
  const at::Tensor& protos = base.protos;
  at::Tensor features = base.features.clone();
  at::Tensor wide = at::randn({kClasses, 24});
  wide = wide / wide.norm(2, {1}, true);
  const at::Tensor member = (at::rand({n, 1}) < 0.11).to(at::kFloat);
  features += member * (18.0 + 6.0 * at::randn({n, 1})) * wide.index_select(0, labels);
  const at::Tensor not_target = (labels != kTarget).nonzero().flatten();
  const at::Tensor tight = not_target.index_select(0, at::randperm(not_target.numel()).slice(0, 0, 26));
  const at::Tensor sources = ((labels != kTarget) & (labels != 8)).nonzero().flatten();
  const at::Tensor diverse = std::get<0>(sources.index_select(0, at::randperm(sources.numel()).slice(0, 0, 35)).sort());
  at::Tensor tight_offset = at::zeros({24}), diverse_offset = at::zeros({24});
  tight_offset[9] = 30.0;
  diverse_offset[5] = 12.9;
  const at::Tensor home = protos[kTarget];
  features.index_put_({tight}, home + tight_offset + 0.3 * at::randn({26, 24}));
  at::Tensor noise = 3.0 * at::randn({35, 24});
  noise.select(1, 5).div_(3.0);
  features.index_put_({diverse}, home + diverse_offset + noise);
  RestCase c;
  c.features = features;
  c.labels = labels.clone();
  c.labels.index_fill_(0, tight, kTarget);
  c.labels.index_fill_(0, diverse, kTarget);
  c.poisoned = std::get<0>(at::_unique(at::cat({tight, diverse})));
  c.inputs = neighbour_space(images);
  return c;
}

}  // namespace

TEST_CASE("peeling: the rest's poisons off its top whitened direction, found from the next one",
          "[defenses][poisoning][audit]") {
  const RestCase c = rest_case();
  AuditSpec top_only;
  top_only.robust_rest_starts = 1;
  const AuditResult before = audit_features(c.features, c.labels, kClasses, top_only, at::Tensor(), c.inputs);
  CHECK(score_audit(before.detectors[0].flagged, c.poisoned, before.points).recall() < 0.6);

  const AuditResult r = audit_features(c.features, c.labels, kClasses, AuditSpec{}, at::Tensor(), c.inputs);
  const DetectorResult& s = r.detectors[0];
  for (const auto& v : s.classes) CHECK(v.poisoned == (v.label == kTarget));
  const ClassVerdict& t = s.classes[kTarget];
  CHECK(t.split_start == "robust");
  CHECK(t.robust_peels == 1);
  CHECK(t.peeled >= 20);  // the tight group
  CHECK_FALSE(t.peeled_until_ordinary);
  CHECK(t.peeled_split_separation >= AuditSpec{}.min_separation);
  // Judged at alpha, not alpha over the classes: the level the class itself was picked at.
  CHECK(t.peeled_split_p_value >= AuditSpec{}.alpha / kClasses);
  CHECK(t.peeled_split_p_value < AuditSpec{}.alpha);
  const AuditScore score = score_audit(s.flagged, c.poisoned, r.points);
  CHECK(score.recall() >= 0.95);
  CHECK(score.false_positive_rate() <= 0.01);
  CHECK(audit_json(r, AuditSpec{}, AuditContext{})["spec"]["robust"]["rest_starts"] == 3);

  auto root = core::parse_config("a: {robust: {rest_starts: 2}}\nb: {robust: {rest_starts: 0}}\n", "a.yaml");
  CHECK(parse_audit_spec(root.child("a")).robust_rest_starts == 2);
  CHECK_THROWS_WITH(parse_audit_spec(root.child("b")), Catch::Contains("robust.rest_starts"));
}

namespace {

// Ten classes of 600 points (a class centre plus unit noise in 24 dims; images: a class prototype
// plus noise). Relabelled to the target: 55 points of the classes but the target and 1, diverse
// (20 units off along axis 5, sd 3): the class's split; and 12 `tight` points in a group 15 units
// off along axis 9 (sd 0.3), which that split leaves on its clean side. The tight points are the
// first 12 of class 1 (poisons: their images look like trousers, say), or with `own` the first 12
// of the target itself, moved (a clean group of its own, its images its own).
RestCase residual_case(bool own) {
  const Classes base = classes(7);
  const at::Tensor& labels = base.labels;
  const at::Tensor& images = base.images;
  const at::Tensor& protos = base.protos;
  at::Tensor features = base.features.clone();
  const at::Tensor sources = ((labels != kTarget) & (labels != 1)).nonzero().flatten();
  const at::Tensor diverse = std::get<0>(sources.index_select(0, at::randperm(sources.numel()).slice(0, 0, 55)).sort());
  const at::Tensor tight = (labels == (own ? kTarget : 1)).nonzero().flatten().slice(0, 0, 12);
  at::Tensor diverse_offset = at::zeros({24}), tight_offset = at::zeros({24});
  diverse_offset[5] = 20.0;
  tight_offset[9] = 15.0;
  const at::Tensor home = protos[kTarget];
  features.index_put_({diverse}, home + diverse_offset + 3.0 * at::randn({55, 24}));
  features.index_put_({tight}, home + tight_offset + 0.3 * at::randn({12, 24}));
  RestCase c;
  c.features = features;
  c.labels = labels.clone();
  c.labels.index_fill_(0, diverse, kTarget);
  c.labels.index_fill_(0, tight, kTarget);
  c.poisoned = own ? diverse : std::get<0>(at::cat({diverse, tight}).sort());
  c.inputs = neighbour_space(images);
  return c;
}

}  // namespace

TEST_CASE("residual groups: a tight group of poisons left on the split's clean side is flagged after",
          "[defenses][poisoning][audit]") {
  // Like the 1% top-corner run of seed 7 (docs/poisoning.md): the sandals' split flagged 571 of
  // the 600 poisons, the other 29 (all trousers) a tight group on its clean side.
  const RestCase c = residual_case(false);
  AuditSpec no_rounds;
  no_rounds.robust_peels = 0;  // no peeling, no residual groups: the split's side and tail alone
  const AuditResult before = audit_features(c.features, c.labels, kClasses, no_rounds, at::Tensor(), c.inputs);
  CHECK(score_audit(before.detectors[0].flagged, c.poisoned, before.points).true_positives <= 55);

  const AuditResult r = audit_features(c.features, c.labels, kClasses, AuditSpec{}, at::Tensor(), c.inputs);
  const DetectorResult& s = r.detectors[0];
  for (const auto& v : s.classes) CHECK(v.poisoned == (v.label == kTarget));
  const ClassVerdict& t = s.classes[kTarget];
  CHECK(t.residual_groups == 1);
  CHECK(t.residual_flagged == 12);
  const AuditScore score = score_audit(s.flagged, c.poisoned, r.points);
  CHECK(score.recall() == 1.0);
  CHECK(score.false_positive_rate() <= 0.01);
  const auto j = audit_json(r, AuditSpec{}, AuditContext{})["detectors"][0]["classes"][kTarget];
  CHECK(j["residual_groups"] == 1);
  CHECK(j["residual_flagged"] == 12);

  // Without the images nothing vouches for such a group: not flagged.
  const AuditResult blind = audit_features(c.features, c.labels, kClasses, AuditSpec{}, at::Tensor(), at::Tensor());
  CHECK(blind.detectors[0].classes[kTarget].residual_groups == 0);
}

TEST_CASE("residual groups: a poisoned class's own tight group, its images its own, stays unflagged",
          "[defenses][poisoning][audit]") {
  const RestCase c = residual_case(true);
  const AuditResult r = audit_features(c.features, c.labels, kClasses, AuditSpec{}, at::Tensor(), c.inputs);
  const DetectorResult& s = r.detectors[0];
  CHECK(s.classes[kTarget].poisoned);
  CHECK(s.classes[kTarget].residual_groups == 0);
  const AuditScore score = score_audit(s.flagged, c.poisoned, r.points);
  CHECK(score.recall() == 1.0);
  // The 12 moved points of its own (the class's first 12 rows) are not flagged.
  CHECK(s.flagged.slice(0, kTarget * kPer, kTarget * kPer + 12).sum().item<int64_t>() == 0);
}
