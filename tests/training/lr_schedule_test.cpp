#include "training/lr_schedule.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "core/config_node.h"
#include "core/error.h"

using namespace rampart::training;

TEST_CASE("learning-rate schedules give exact values", "[training]") {
  ScheduleSpec constant;
  constant.name = "constant";
  CHECK(learning_rate(constant, 0.1, 3, 5, 10, 5) == 0.1);

  ScheduleSpec step;
  step.name = "step";
  step.step_size = 2;
  step.gamma = 0.5;
  CHECK(learning_rate(step, 0.1, 0, 9, 10, 6) == Approx(0.1));
  CHECK(learning_rate(step, 0.1, 1, 0, 10, 6) == Approx(0.1));
  CHECK(learning_rate(step, 0.1, 2, 0, 10, 6) == Approx(0.05));
  CHECK(learning_rate(step, 0.1, 5, 3, 10, 6) == Approx(0.025));

  ScheduleSpec cosine;  // per step: lr/2 * (1 + cos(pi * t))
  CHECK(learning_rate(cosine, 0.2, 0, 0, 10, 2) == Approx(0.2));
  CHECK(learning_rate(cosine, 0.2, 1, 0, 10, 2) == Approx(0.1));
  CHECK(learning_rate(cosine, 0.2, 1, 5, 10, 2) == Approx(0.1 * (1 + std::cos(M_PI * 0.75))));

  ScheduleSpec warm;
  warm.name = "constant";
  warm.warmup_epochs = 1;
  CHECK(learning_rate(warm, 1.0, 0, 0, 4, 3) == Approx(0.25));
  CHECK(learning_rate(warm, 1.0, 0, 3, 4, 3) == Approx(1.0));
  CHECK(learning_rate(warm, 1.0, 1, 0, 4, 3) == Approx(1.0));
  // A warm-up that ends inside a step never raises the rate above the schedule's (it gave 10x
  // at the first step of 0.01 epochs of 10 steps, 1.33x at 0.5 epochs of 3).
  warm.warmup_epochs = 0.01;
  CHECK(learning_rate(warm, 0.1, 0, 0, 10, 1) == Approx(0.1));
  warm.warmup_epochs = 0.5;
  CHECK(learning_rate(warm, 0.1, 0, 0, 3, 1) == Approx(0.1 / 1.5));
  CHECK(learning_rate(warm, 0.1, 0, 1, 3, 1) == Approx(0.1));
}

TEST_CASE("schedule configs are validated", "[training]") {
  auto root = rampart::core::parse_config(
      "a: {name: step, step_size: 3, gamma: 0.2}\nb: {name: cosine, gamma: 0.2}\nc: {name: poly}\n",
      "s.yaml");
  auto a = parse_schedule_spec(root.child("a"));
  CHECK(a.step_size == 3);
  CHECK(a.gamma == Approx(0.2));
  CHECK_THROWS_WITH(parse_schedule_spec(root.child("b")), Catch::Contains("step schedule only"));
  CHECK_THROWS_WITH(parse_schedule_spec(root.child("c")),
                    Catch::Contains("s.yaml:3:11: c.name: unknown value 'poly'"));
}
