// data.relabel: a relabelling (`rampart data relabel`) sets the flagged points' labels and
// leaves the others out, and one that does not fit the data is refused (exit 4) naming the
// file and the point.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "datasets/dataset_spec.h"
#include "datasets/manifest.h"
#include "datasets/npy.h"
#include "datasets/relabel_file.h"
#include "security/model_intake.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

// Twelve points of one pixel (i / 100) with labels i % 3, written as npy.
datasets::DatasetSpec twelve_points(const std::string& dir) {
  datasets::write_npy(dir + "/x.npy", at::arange(12, at::kFloat).view({12, 1, 1, 1}) / 100.0);
  datasets::write_npy(dir + "/y.npy", at::arange(12, at::kLong) % 3);
  datasets::DatasetSpec spec;
  spec.format = "npy";
  spec.images = dir + "/x.npy";
  spec.labels = dir + "/y.npy";
  return spec;
}

// A relabelling of the ten points `data` (twelve_points from offset 2).
datasets::Relabelling plan_for_ten(const datasets::Dataset& data) {
  datasets::Relabelling r;
  r.points = 10;
  r.data_root = datasets::data_root(data);
  r.indices = at::tensor({1, 4}, at::kLong);  // labels 0 and 0 after offset 2 (file rows 3, 6)
  r.from = at::tensor({0, 0}, at::kLong);
  r.to = at::tensor({2, 1}, at::kLong);
  r.confidence = at::tensor({0.9f, 0.6f});
  r.left_out = at::tensor({0, 7}, at::kLong);
  r.audit = "runs/a";
  r.model = "runs/r/checkpoint.safetensors";
  return r;
}

std::string refusal(const std::string& path, const datasets::Dataset& data) {
  try {
    datasets::read_relabelling(path, data);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("data.relabel sets the new labels and leaves out the rest, in order",
          "[datasets][relabel]") {
  const std::string dir = test::make_temp_dir("relabel");
  datasets::DatasetSpec spec = twelve_points(dir);
  spec.offset = 2;  // indices are into the data as configured
  const std::string file = datasets::relabelling_json(plan_for_ten(datasets::load_dataset(spec, 3, {1, 1, 1})));
  test::write_bytes(dir + "/r.json", file);
  spec.relabel = dir + "/r.json";
  const datasets::Dataset data = datasets::load_dataset(spec, 3, {1, 1, 1});
  CHECK(data.size() == 8);
  CHECK(data.relabelled_points == 2);
  CHECK(data.excluded_points == 2);
  CHECK(data.relabel_file == dir + "/r.json");
  CHECK(data.relabel_sha256 == security::sha256_hex(file));
  // File rows 2..11 without rows 2 and 9; rows 3 and 6 relabelled to 2 and 1.
  CHECK(data.images.flatten().mul(100).round().equal(
      at::tensor({3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 10.f, 11.f})));
  CHECK(data.labels.equal(at::tensor({2, 1, 2, 1, 1, 2, 1, 2}, at::kLong)));

  // The file round-trips.
  spec.relabel.clear();
  const datasets::Relabelling back = datasets::read_relabelling(dir + "/r.json", datasets::load_dataset(spec, 3, {1, 1, 1}));
  CHECK(back.indices.equal(at::tensor({1, 4}, at::kLong)));
  CHECK(back.to.equal(at::tensor({2, 1}, at::kLong)));
  CHECK(back.left_out.equal(at::tensor({0, 7}, at::kLong)));
  CHECK(back.confidence.equal(at::tensor({0.9f, 0.6f})));
  CHECK(back.audit == "runs/a");
}

TEST_CASE("data.relabel refuses a relabelling made for other data", "[datasets][relabel]") {
  const std::string dir = test::make_temp_dir("relabel-bad");
  datasets::DatasetSpec spec = twelve_points(dir);
  spec.offset = 2;
  const datasets::Dataset data = datasets::load_dataset(spec, 3, {1, 1, 1});
  const auto write = [&](const std::string& name, const datasets::Relabelling& r) {
    test::write_bytes(dir + "/" + name, datasets::relabelling_json(r));
    return dir + "/" + name;
  };
  datasets::Relabelling r = plan_for_ten(data);
  r.points = 12;
  CHECK_THAT(refusal(write("points.json", r), data),
             Catch::Contains("points.json: made for 12 points but the data has 10"));
  r = plan_for_ten(data);
  r.from = at::tensor({0, 2}, at::kLong);  // point 4 has label 0
  CHECK_THAT(refusal(write("from.json", r), data),
             Catch::Contains("from.json: point 4 has label 0 in the data, the relabelling was made "
                             "for label 2"));
  r = plan_for_ten(data);
  r.to = at::tensor({2, 3}, at::kLong);
  CHECK_THAT(refusal(write("to.json", r), data), Catch::Contains("to.json: point 4's new label (to) 3 is outside [0, 3)"));
  r = plan_for_ten(data);
  r.left_out = at::tensor({0, 4}, at::kLong);
  CHECK_THAT(refusal(write("twice.json", r), data), Catch::Contains("twice.json: point 4 is named twice"));
  r = plan_for_ten(data);
  r.to = at::tensor({2, 0}, at::kLong);  // point 4 "relabelled" from 0 to 0: it was counted
  CHECK_THAT(refusal(write("same.json", r), data),
             Catch::Contains("same.json: point 4 is relabelled from 0 to the same label"));
  r = plan_for_ten(data);
  r.left_out = at::tensor({10}, at::kLong);
  CHECK_THAT(refusal(write("range.json", r), data),
             Catch::Contains("range.json: left_out index 10 is outside [0, 10)"));
  // Made for other data: one pixel of one point not named in it changed, a label changed, or
  // against a manifest with another root; a file that records no root is refused too.
  const std::string root_json = write("root.json", plan_for_ten(data));
  datasets::Dataset pixel = data;
  pixel.images = data.images.clone();
  pixel.images[8][0][0][0] = 0.5f;
  CHECK_THAT(refusal(root_json, pixel),
             Catch::Contains("root.json: made for the data with root " + datasets::data_root(data) +
                             ", the data's is " + datasets::data_root(pixel) + ": it relabels other data"));
  datasets::Dataset label = data;
  label.labels = data.labels.clone();
  label.labels[9] = 0;
  CHECK_THAT(refusal(root_json, label), Catch::Contains("root.json: made for the data with root"));
  datasets::Dataset pinned = data;
  pinned.manifest_root = std::string(64, 'c');
  CHECK_THAT(refusal(root_json, pinned), Catch::Contains(", the data's is " + std::string(64, 'c')));
  r = plan_for_ten(data);
  r.data_root.clear();
  CHECK_THAT(refusal(write("no-root.json", r), data),
             Catch::Contains("no-root.json: made for the data with root (none recorded)"));
  // A field of the wrong type: the file named, exit 4, not a JSON library's exception.
  nlohmann::json typed = nlohmann::json::parse(datasets::relabelling_json(plan_for_ten(data)));
  typed["data"]["points"] = "10";
  test::write_bytes(dir + "/typed.json", typed.dump());
  CHECK_THAT(refusal(dir + "/typed.json", data), Catch::Contains("typed.json: not a relabelling ("));
  typed = nlohmann::json::parse(datasets::relabelling_json(plan_for_ten(data)));
  typed["relabelled"][0]["confidence"] = "sure";
  test::write_bytes(dir + "/confidence.json", typed.dump());
  CHECK_THAT(refusal(dir + "/confidence.json", data), Catch::Contains("confidence.json: not a relabelling ("));
  test::write_bytes(dir + "/audit.json", R"({"schema": "rampart-data-audit/1", "flagged": [1]})");
  CHECK_THAT(refusal(dir + "/audit.json", data), Catch::Contains("audit.json: not a relabelling"));
}

TEST_CASE("data.relabel and data.exclude together are a config error", "[datasets][relabel]") {
  const auto node = core::parse_config(
      "{format: npy, images: x.npy, labels: y.npy, exclude: a, relabel: r.json}", "data");
  try {
    datasets::parse_dataset_spec(node);
    FAIL("relabel with exclude was accepted");
  } catch (const ConfigError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("data") && Catch::Contains("'relabel' and 'exclude' together"));
  }
}
