// The poisoning simulator: BadNets patches, blended triggers and label flips, reproducible from
// the seed, with exact ground truth.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "attacks/backdoor_trigger.h"
#include "attacks/data_poisoning.h"
#include "core/atomic_file.h"
#include "core/config_node.h"
#include "core/error.h"
#include "datasets/npy.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

datasets::Dataset small_set(int64_t n = 200) {
  datasets::Dataset d;
  d.images = at::rand({n, 1, 12, 12}, at::kFloat) * 0.5;
  d.labels = at::arange(n, at::kLong).remainder(5);
  d.num_classes = 5;
  d.source = "test";
  return d;
}

}  // namespace

TEST_CASE("BadNets poisoning stamps the patch on rate x N non-target points and relabels them",
          "[attacks][poisoning]") {
  const datasets::Dataset clean = small_set();
  attacks::PoisonSpec spec;
  spec.attack = "badnets";
  spec.rate = 0.1;
  spec.target = 2;
  spec.seed = 4;
  const attacks::PoisonedData p = attacks::poison_dataset(clean, spec);
  REQUIRE(p.indices.numel() == 20);
  CHECK(at::equal(p.indices, std::get<0>(p.indices.sort())));
  CHECK(clean.labels.index_select(0, p.indices).ne(2).all().item<bool>());
  CHECK(p.data.labels.index_select(0, p.indices).eq(2).all().item<bool>());
  // The default corner: bottom right, 1 pixel in; the patch at value 1 (the range's top).
  CHECK(p.spec.trigger.row == 8);
  CHECK(p.spec.trigger.col == 8);
  const at::Tensor patches = p.data.images.index_select(0, p.indices).slice(2, 8, 11).slice(3, 8, 11);
  CHECK(patches.eq(1.0f).all().item<bool>());
  // Everything else is untouched, bit for bit.
  at::Tensor changed = at::zeros({clean.size()}, at::kBool);
  changed.index_fill_(0, p.indices, true);
  const at::Tensor kept = changed.logical_not().nonzero().flatten();
  CHECK(at::equal(p.data.images.index_select(0, kept), clean.images.index_select(0, kept)));
  CHECK(at::equal(p.data.labels.index_select(0, kept), clean.labels.index_select(0, kept)));
  at::Tensor outside = p.data.images.index_select(0, p.indices).clone();
  outside.slice(2, 8, 11).slice(3, 8, 11).zero_();
  at::Tensor original = clean.images.index_select(0, p.indices).clone();
  original.slice(2, 8, 11).slice(3, 8, 11).zero_();
  CHECK(at::equal(outside, original));
  // Reproducible from the seed; another seed draws other points.
  CHECK(at::equal(attacks::poison_dataset(clean, spec).indices, p.indices));
  spec.seed = 5;
  CHECK(!at::equal(attacks::poison_dataset(clean, spec).indices, p.indices));
}

TEST_CASE("random target and patch position are drawn from the seed and recorded",
          "[attacks][poisoning]") {
  const datasets::Dataset clean = small_set();
  attacks::PoisonSpec spec;
  spec.rate = 0.05;
  spec.trigger.random_position = true;
  spec.trigger.pattern = "checker";
  std::set<std::pair<int64_t, int64_t>> corners;
  std::set<int64_t> targets;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    spec.seed = seed;
    const attacks::PoisonedData p = attacks::poison_dataset(clean, spec);
    REQUIRE(p.spec.target >= 0);
    REQUIRE(p.spec.target < 5);
    targets.insert(p.spec.target);
    const int64_t r = p.spec.trigger.row, c = p.spec.trigger.col;
    REQUIRE(r >= 0);
    REQUIRE(r + 3 <= 12);
    REQUIRE(c + 3 <= 12);
    corners.insert({r, c});
    const at::Tensor patch = p.data.images[p.indices[0].item<int64_t>()][0].slice(0, r, r + 3).slice(1, c, c + 3);
    CHECK(patch[0][0].item<float>() == 1.0f);  // checker: value on even squares
    CHECK(patch[0][1].item<float>() == 0.0f);  // and the range's bottom on odd ones
    CHECK(patch[1][1].item<float>() == 1.0f);
  }
  CHECK(corners.size() > 4);
  CHECK(targets.size() > 1);
}

TEST_CASE("a patch pattern given pixel by pixel is stamped as given, recorded and read back",
          "[attacks][poisoning]") {
  const auto parse = [](const std::string& trigger) {
    return attacks::parse_trigger_spec(core::parse_config("trigger: " + trigger + "\n", "t.yaml").child("trigger"),
                                       0.0, 1.0);
  };
  const attacks::TriggerSpec t = parse("{row: 2, col: 7, pattern: [[1, 0, 0.5], [0, 1, 0], [0.25, 0, 1]]}");
  CHECK(t.size == 3);
  CHECK(t.pattern == "custom");
  const at::Tensor images = at::rand({4, 2, 12, 12}) * 0.5;
  const at::Tensor stamped = t.apply(images);
  const at::Tensor expected =
      at::tensor(std::vector<float>{1, 0, 0.5, 0, 1, 0, 0.25, 0, 1}).reshape({3, 3});
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t channel = 0; channel < 2; ++channel) {
      CHECK(at::equal(stamped[i][channel].slice(0, 2, 5).slice(1, 7, 10), expected));
    }
  }
  at::Tensor outside = stamped.clone(), original = images.clone();
  outside.slice(2, 2, 5).slice(3, 7, 10).zero_();
  original.slice(2, 2, 5).slice(3, 7, 10).zero_();
  CHECK(at::equal(outside, original));
  CHECK(t.describe() == "patch 3x3 custom pattern at (2, 7)");
  // What poison.json records reads back as the same trigger.
  const nlohmann::json record = t.to_json();
  CHECK(record["pattern"] == nlohmann::json::parse("[[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [0.25, 0.0, 1.0]]"));
  CHECK_FALSE(record.contains("value"));
  CHECK(at::equal(parse(record.dump(1)).apply(images), stamped));
  // Errors name the key and the problem.
  const auto error = [&](const std::string& trigger) -> std::string {
    try {
      parse(trigger);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error("{pattern: [[1, 0], [0, 1], [1, 1]]}"),
             Catch::Contains("trigger.pattern: a patch pattern is square: 3 rows of 2 values"));
  CHECK_THAT(error("{pattern: [[1, 0], [0]]}"), Catch::Contains("trigger.pattern[1]: has 1 numbers, the first row 2"));
  CHECK_THAT(error("{pattern: [[1, 0], [0, 1.5]]}"), Catch::Contains("trigger.pattern[1][1]"));
  CHECK_THAT(error("{size: 3, pattern: [[1, 0], [0, 1]]}"),
             Catch::Contains("trigger.size: is 3 but the pattern is 2x2"));
  CHECK_THAT(error("{value: 1, pattern: [[1, 0], [0, 1]]}"),
             Catch::Contains("trigger.value: a pattern gives every pixel its value: give one or the other"));
  CHECK_THAT(error("{pattern: []}"), Catch::Contains("trigger.pattern: expected a list of rows of numbers"));
  CHECK_THAT(error("{pattern: [1, 0]}"), Catch::Contains("trigger.pattern[0]: expected a row"));
  CHECK_THAT(error("{pattern: stripes}"), Catch::Contains("trigger.pattern") && Catch::Contains("checker"));
}

TEST_CASE("a blended trigger is (1 - alpha) x + alpha k with one fixed noise image k",
          "[attacks][poisoning]") {
  const datasets::Dataset clean = small_set();
  attacks::PoisonSpec spec;
  spec.attack = "blend";
  spec.rate = 0.1;
  spec.target = 0;
  spec.trigger.type = "blend";
  spec.trigger.alpha = 0.2;
  spec.trigger.pattern_seed = 9;
  const attacks::PoisonedData p = attacks::poison_dataset(clean, spec);
  const at::Tensor x = clean.images.index_select(0, p.indices);
  const at::Tensor k = (p.data.images.index_select(0, p.indices) - 0.8 * x) / 0.2;
  // The same k for every poisoned point, inside the input range.
  CHECK(at::allclose(k, k[0].unsqueeze(0).expand_as(k), 1e-4, 1e-4));
  CHECK(k.min().item<double>() >= -1e-4);
  CHECK(k.max().item<double>() <= 1 + 1e-4);
  CHECK(at::allclose(spec.trigger.apply(x), p.data.images.index_select(0, p.indices)));
}

TEST_CASE("label flips: a uniformly drawn other class, or class to class", "[attacks][poisoning]") {
  const datasets::Dataset clean = small_set();
  attacks::PoisonSpec spec;
  spec.attack = "label_flip";
  spec.rate = 0.25;
  const attacks::PoisonedData random = attacks::poison_dataset(clean, spec);
  REQUIRE(random.indices.numel() == 50);
  const at::Tensor before = clean.labels.index_select(0, random.indices);
  const at::Tensor after = random.data.labels.index_select(0, random.indices);
  CHECK(before.ne(after).all().item<bool>());
  CHECK(std::get<0>(at::_unique(after)).numel() == 5);
  CHECK(at::equal(random.data.images, clean.images));
  spec.flip_from = 3;
  spec.flip_to = 1;
  spec.rate = 0.2;  // 40 points: every point of class 3
  const attacks::PoisonedData map = attacks::poison_dataset(clean, spec);
  CHECK(clean.labels.index_select(0, map.indices).eq(3).all().item<bool>());
  CHECK(map.data.labels.index_select(0, map.indices).eq(1).all().item<bool>());
  spec.rate = 0.25;  // 50 points from a class of 40
  CHECK_THROWS_WITH(attacks::poison_dataset(clean, spec),
                    Catch::Contains("poison.rate: 50 points asked for, 40 are eligible"));
}

TEST_CASE("rampart data poison writes the poisoned set and its ground truth",
          "[attacks][poisoning][cli]") {
  const std::string dir = test::make_temp_dir("poison-cli");
  const datasets::Dataset clean = small_set(100);
  at::Tensor images = at::rand({100, 1, 28, 28}, at::kFloat);
  datasets::write_npy(dir + "/x.npy", images);
  datasets::write_npy(dir + "/y.npy", clean.labels);
  test::write_bytes(dir + "/poison.yaml",
                    "model: {arch: small_cnn, num_classes: 5, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
                    "data: {format: npy, images: " + dir + "/x.npy, labels: " + dir + "/y.npy}\n"
                    "poison: {attack: badnets, rate: 0.1, target: 4, seed: 1, trigger: {size: 3, row: 2, col: 5}}\n");
  const auto run = test::run_process(
      {test::rampart_binary(), "data", "poison", dir + "/poison.yaml", "--out", dir + "/out"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(run.output.find("poisoned:  10 of 100 points (badnets, target 4, patch 3x3 solid at (2, 5), value 1)") !=
        std::string::npos);
  const at::Tensor poisoned = datasets::read_npy(dir + "/out/poisoned.npy");
  const at::Tensor out = datasets::read_npy(dir + "/out/images.npy");
  const at::Tensor labels = datasets::read_npy(dir + "/out/labels.npy");
  REQUIRE(poisoned.numel() == 10);
  CHECK(labels.index_select(0, poisoned).eq(4).all().item<bool>());
  CHECK(out.index_select(0, poisoned).slice(2, 2, 5).slice(3, 5, 8).eq(1.0f).all().item<bool>());
  const auto summary = nlohmann::json::parse(core::read_file(dir + "/out/poison.json"));
  CHECK(summary["poisoned"] == 10);
  CHECK(summary["target"] == 4);
  CHECK(summary["trigger"]["row"] == 2);
  // A trigger that cannot fit, and a key of another attack, are config errors (exit 2).
  test::write_bytes(dir + "/bad.yaml",
                    "model: {arch: small_cnn, num_classes: 5, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
                    "data: {format: npy, images: " + dir + "/x.npy, labels: " + dir + "/y.npy}\n"
                    "poison: {attack: label_flip, rate: 0.1, target: 4}\n");
  const auto bad = test::run_process(
      {test::rampart_binary(), "data", "poison", dir + "/bad.yaml", "--out", dir + "/bad"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("poison.target: is for a backdoor (badnets, blend), not label_flip") !=
        std::string::npos);
  // Errors only the data reveals name the config's file and line too (exit 2), and one the
  // random position drew from was an uncaught libtorch error (exit 5).
  const auto poison_with = [&](const std::string& name, const std::string& poison) {
    test::write_bytes(dir + "/" + name + ".yaml",
                      "model: {arch: small_cnn, num_classes: 5, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
                      "data: {format: npy, images: " + dir + "/x.npy, labels: " + dir + "/y.npy, limit: 20}\n"
                      "poison: " + poison + "\n");
    return test::run_process({test::rampart_binary(), "data", "poison", dir + "/" + name + ".yaml",
                              "--out", dir + "/" + name});
  };
  const auto too_many = poison_with("many", "{attack: badnets, rate: 0.95, target: 4, trigger: {size: 3}}");
  CHECK(too_many.exit_code == 2);
  CHECK_THAT(too_many.output, Catch::Contains("many.yaml:3:") &&
                                  Catch::Contains("poison.rate: 19 points asked for, 16 are eligible"));
  const auto wide = poison_with("wide", "{attack: badnets, rate: 0.1, target: 4, trigger: {size: 29, random_position: true}}");
  CHECK(wide.exit_code == 2);
  CHECK_THAT(wide.output, Catch::Contains("wide.yaml:3:") &&
                              Catch::Contains("poison.trigger.size: a 29x29 patch does not fit 28x28 images"));
  // --out that cannot be a folder (a file is there): exit 4 naming it, not an internal error.
  test::write_bytes(dir + "/a-file", "x");
  const auto blocked = test::run_process(
      {test::rampart_binary(), "data", "poison", dir + "/poison.yaml", "--out", dir + "/a-file"});
  CHECK(blocked.exit_code == 4);
  CHECK_THAT(blocked.output, Catch::Contains(dir + "/a-file: cannot create folder"));
  // The poisoned copy never replaces the data it is made from (data in d/images.npy and
  // d/labels.npy, --out d), nor arrays no earlier poisoning wrote; a second poisoning into its
  // own earlier folder replaces that set.
  const std::string own = dir + "/own";
  std::filesystem::create_directories(own);
  datasets::write_npy(own + "/images.npy", images);
  datasets::write_npy(own + "/labels.npy", clean.labels);
  const std::string bytes_before = core::read_file(own + "/images.npy");
  test::write_bytes(dir + "/own.yaml",
                    "model: {arch: small_cnn, num_classes: 5, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
                    "data: {format: npy, images: " + own + "/images.npy, labels: " + own + "/labels.npy}\n"
                    "poison: {attack: badnets, rate: 0.1, target: 4, seed: 1, trigger: {size: 3}}\n");
  auto into_input = test::run_process({test::rampart_binary(), "data", "poison", dir + "/own.yaml", "--out", own});
  CHECK(into_input.exit_code == 2);
  CHECK_THAT(into_input.output, Catch::Contains("--out " + own + ": " + own + "/images.npy is " + own +
                                                "/images.npy, the data being poisoned"));
  test::write_bytes(own + "/poison.json", "{}");  // an earlier poisoning's folder: still the input
  into_input = test::run_process({test::rampart_binary(), "data", "poison", dir + "/own.yaml", "--out", own});
  CHECK(into_input.exit_code == 2);
  CHECK(core::read_file(own + "/images.npy") == bytes_before);
  std::filesystem::remove(own + "/poison.json");
  const auto users = test::run_process(
      {test::rampart_binary(), "data", "poison", dir + "/poison.yaml", "--out", own});
  CHECK(users.exit_code == 2);
  CHECK_THAT(users.output, Catch::Contains("holds images.npy but no poison.json"));
  CHECK(core::read_file(own + "/images.npy") == bytes_before);
  // A poisoning stopped half-way (arrays, no poison.json yet) left its marker: a rerun replaces it.
  CHECK(std::filesystem::exists(dir + "/out/.rampart-poison"));
  std::filesystem::remove(dir + "/out/poison.json");
  const auto again = test::run_process(
      {test::rampart_binary(), "data", "poison", dir + "/poison.yaml", "--out", dir + "/out"});
  CHECK(again.exit_code == 0);
  CHECK(std::filesystem::exists(dir + "/out/poison.json"));
}
