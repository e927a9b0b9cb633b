// plan_relabelling: exact decisions on a small case.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>
#include <stdexcept>

#include "defenses/poisoning/relabel_plan.h"

using namespace rampart;

TEST_CASE("plan_relabelling relabels where the model names another class, leaves out the rest",
          "[poisoning][relabel]") {
  // Five flagged points (data indices 40, 7, 23, 12, 3), flagged under label 3.
  const at::Tensor flagged = at::tensor({40, 7, 23, 12, 3}, at::kLong);
  const at::Tensor labels = at::full({5}, 3, at::kLong);
  const at::Tensor logits = at::tensor({5.0f, 0.0f, 0.0f, 0.0f,    // class 0, sure
                                        0.0f, 0.0f, 0.0f, 4.0f,    // its own label: left out
                                        0.0f, 1.0f, 0.9f, 0.0f,    // class 1, unsure
                                        0.0f, 0.0f, 6.0f, 0.0f,    // class 2, sure
                                        0.5f, 0.0f, 0.0f, 0.0f})   // class 0, unsure
                                .view({5, 4});
  const auto plan = defenses::poisoning::plan_relabelling(flagged, labels, logits, 0.0);
  CHECK(plan.indices.equal(at::tensor({3, 12, 23, 40}, at::kLong)));  // sorted by index
  CHECK(plan.from.equal(at::full({4}, 3, at::kLong)));
  CHECK(plan.to.equal(at::tensor({0, 2, 1, 0}, at::kLong)));
  CHECK(plan.left_out.equal(at::tensor({7}, at::kLong)));
  const double e = std::exp(1.0);
  CHECK(plan.confidence[2].item<double>() == Approx(e / (e + std::exp(0.9) + 2)).epsilon(1e-6));
  CHECK(plan.confidence[3].item<double>() == Approx(std::exp(5.0) / (std::exp(5.0) + 3)).epsilon(1e-6));

  // With a confidence floor of 0.5 the two unsure points are left out too.
  const auto sure = defenses::poisoning::plan_relabelling(flagged, labels, logits, 0.5);
  CHECK(sure.indices.equal(at::tensor({12, 40}, at::kLong)));
  CHECK(sure.to.equal(at::tensor({2, 0}, at::kLong)));
  CHECK(sure.left_out.equal(at::tensor({3, 7, 23}, at::kLong)));
  CHECK(sure.min_confidence == 0.5);

  // Nothing flagged: nothing to do, also with the [0, 0] logits that feature extraction
  // returns for no points.
  for (const at::Tensor& no_logits : {at::empty({0, 4}), at::empty({0, 0})}) {
    const auto none = defenses::poisoning::plan_relabelling(
        at::empty({0}, at::kLong), at::empty({0}, at::kLong), no_logits, 0.0);
    CHECK(none.indices.numel() == 0);
    CHECK(none.to.scalar_type() == at::kLong);
    CHECK(none.confidence.scalar_type() == at::kFloat);
    CHECK(none.left_out.numel() == 0);
  }

  CHECK_THROWS_AS(defenses::poisoning::plan_relabelling(flagged, labels, logits.slice(0, 0, 4), 0.0),
                  std::invalid_argument);
  CHECK_THROWS_AS(defenses::poisoning::plan_relabelling(flagged, labels, logits, 1.5),
                  std::invalid_argument);
  // Indices as the Python route may pass them: repeated or negative.
  CHECK_THROWS_AS(defenses::poisoning::plan_relabelling(at::tensor({40, 7, 23, 7, 3}, at::kLong),
                                                        labels, logits, 0.0),
                  std::invalid_argument);
  CHECK_THROWS_AS(defenses::poisoning::plan_relabelling(at::tensor({40, 7, 23, -1, 3}, at::kLong),
                                                        labels, logits, 0.0),
                  std::invalid_argument);
  // Non-finite logits (a broken model): every point would have been left out without a word.
  at::Tensor broken = logits.clone();
  broken[3][1] = NAN;
  CHECK_THROWS_WITH(defenses::poisoning::plan_relabelling(flagged, labels, broken, 0.0),
                    Catch::Contains("the logits of flagged point " +
                                    std::to_string(flagged[3].item<int64_t>()) + " are not finite"));
  // A label that is not a class of the logits (it was "relabelled from" a class that is not one).
  at::Tensor outside = labels.clone();
  outside[2] = logits.size(1);
  CHECK_THROWS_WITH(defenses::poisoning::plan_relabelling(flagged, outside, logits, 0.0),
                    Catch::Contains("a label is outside the " + std::to_string(logits.size(1)) +
                                    " classes of the logits"));
}
