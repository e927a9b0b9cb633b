// data.exclude: the flagged points of a data audit are left out, and an audit that does not
// fit the data is refused (exit 4) with the file named.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "datasets/dataset_spec.h"
#include "datasets/exclusion.h"
#include "datasets/manifest.h"
#include "datasets/npy.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

std::string write_audit(const std::string& path, const nlohmann::json& flagged, int64_t points,
                        const std::string& schema = "rampart-data-audit/1") {
  test::write_bytes(path, nlohmann::json{{"schema", schema},
                                         {"data", {{"points", points}, {"manifest_root", nullptr}}},
                                         {"flagged", flagged}}
                              .dump());
  return path;
}

// `points` points of one pixel each (i / 100), labels i % 3.
datasets::Dataset flat_points(int64_t points) {
  datasets::Dataset data;
  data.images = at::arange(points, at::kFloat).view({points, 1, 1, 1}) / 100.0;
  data.labels = at::arange(points, at::kLong) % 3;
  data.num_classes = 3;
  return data;
}

std::string exclusion_refusal(const std::string& audit, const datasets::Dataset& data) {
  try {
    datasets::read_exclusion(audit, data);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

std::string exclusion_refusal(const std::string& audit, int64_t points) { return exclusion_refusal(audit, flat_points(points)); }

}  // namespace

TEST_CASE("data.exclude leaves out exactly the flagged points, in order", "[datasets][exclude]") {
  const std::string dir = test::make_temp_dir("exclude");
  const at::Tensor images = at::arange(12, at::kFloat).view({12, 1, 1, 1}) / 100.0;
  const at::Tensor labels = at::arange(12, at::kLong) % 3;
  datasets::write_npy(dir + "/x.npy", images);
  datasets::write_npy(dir + "/y.npy", labels);
  // Indices are into the data as configured: after offset 2, point 0 is file row 2.
  write_audit(dir + "/audit.json", {7, 0, 3, 3}, 10);
  datasets::DatasetSpec spec;
  spec.format = "npy";
  spec.images = dir + "/x.npy";
  spec.labels = dir + "/y.npy";
  spec.offset = 2;
  spec.exclude = dir;  // the folder holding audit.json
  const datasets::Dataset data = datasets::load_dataset(spec, 3, {1, 1, 1});
  CHECK(data.size() == 7);
  CHECK(data.excluded_points == 3);
  CHECK(data.exclusion_file == dir);
  CHECK(data.images.flatten().mul(100).round().equal(at::tensor({3.f, 4.f, 6.f, 7.f, 8.f, 10.f, 11.f})));
  CHECK(data.labels.equal(at::tensor({0, 1, 0, 1, 2, 1, 2}, at::kLong)));
}

TEST_CASE("data.exclude refuses an audit that does not fit the data", "[datasets][exclude]") {
  const std::string dir = test::make_temp_dir("exclude-bad");
  CHECK_THAT(exclusion_refusal(write_audit(dir + "/a.json", {1, 2}, 9), 10),
             Catch::Contains("a.json: the audit covered 9 points but the data has 10"));
  CHECK_THAT(exclusion_refusal(write_audit(dir + "/b.json", {1, 10}, 10), 10),
             Catch::Contains("b.json: flagged index 10 is not a point of the 10"));
  CHECK_THAT(exclusion_refusal(write_audit(dir + "/c.json", {1}, 10, "rampart-report/1"), 10),
             Catch::Contains("c.json: not a data audit"));
  test::write_bytes(dir + "/d.json", "{\"flagged\": [1,");
  CHECK_THAT(exclusion_refusal(dir + "/d.json", 10), Catch::Contains("d.json: not JSON"));
  CHECK_THAT(exclusion_refusal(dir + "/missing.json", 10), Catch::Contains("missing.json"));
  // A symlink loop made std::filesystem throw its own error (exit 5, no DataError).
  std::filesystem::create_symlink(dir + "/loop", dir + "/loop");
  CHECK_THAT(exclusion_refusal(dir + "/loop", 10), Catch::Contains(dir + "/loop"));
  // Fields of the wrong type: the file named, not a JSON library's exception (exit 5).
  test::write_bytes(dir + "/typed.json", R"({"schema": 1, "flagged": [1]})");
  CHECK_THAT(exclusion_refusal(dir + "/typed.json", 10), Catch::Contains("typed.json: not a data audit ("));
  test::write_bytes(dir + "/no-data.json", R"({"schema": "rampart-data-audit/1", "flagged": [1]})");
  CHECK(exclusion_refusal(dir + "/no-data.json", 10).empty());  // 'data' is optional
  test::write_bytes(dir + "/e.json", nlohmann::json{{"schema", "rampart-data-audit/1"},
                                                    {"data", {{"points", 10}, {"manifest_root", "ab"}}},
                                                    {"flagged", {1}}}.dump());
  datasets::Dataset pinned = flat_points(10);
  pinned.manifest_root = "cd";
  try {
    datasets::read_exclusion(dir + "/e.json", pinned);
    FAIL("a different manifest root was accepted");
  } catch (const DataError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("differs from the data's cd"));
  }
}

TEST_CASE("data.exclude refuses an audit of other data by the root it records",
          "[datasets][exclude]") {
  const std::string dir = test::make_temp_dir("exclude-root");
  const datasets::Dataset data = flat_points(10);
  const auto audit_with_root = [&](const std::string& name, const std::string& root) {
    test::write_bytes(dir + "/" + name,
                      nlohmann::json{{"schema", "rampart-data-audit/1"},
                                     {"data", {{"points", 10}, {"manifest_root", nullptr}, {"root", root}}},
                                     {"flagged", {1, 4}}}.dump());
    return dir + "/" + name;
  };
  // The root of the audited data (as `rampart audit-data` records it): accepted.
  CHECK(datasets::read_exclusion(audit_with_root("same.json", datasets::data_root(data)), data)
            .equal(at::tensor({1, 4}, at::kLong)));
  // The same ten points with one pixel or one label changed: refused, naming both roots.
  datasets::Dataset pixel = data;
  pixel.images = data.images.clone();
  pixel.images[7][0][0][0] = 0.5f;
  CHECK_THAT(exclusion_refusal(dir + "/same.json", pixel),
             Catch::Contains("same.json: the audit's data root " + datasets::data_root(data) +
                             " differs from the data's " + datasets::data_root(pixel)));
  datasets::Dataset label = data;
  label.labels = data.labels.clone();
  label.labels[0] = 2;
  CHECK_THAT(exclusion_refusal(dir + "/same.json", label), Catch::Contains("it audited other data"));
}

TEST_CASE("data.exclude refuses data fields of the wrong type and an audit that flags everything",
          "[datasets][exclude]") {
  const std::string dir = test::make_temp_dir("exclude-typed");
  const auto audit_with_data = [&](const std::string& name, const std::string& data_json) {
    test::write_bytes(dir + "/" + name, R"({"schema": "rampart-data-audit/1", "flagged": [1], "data": )" +
                                            data_json + "}");
    return dir + "/" + name;
  };
  // Each of these skipped the check its field is there for, and the audit was used.
  CHECK_THAT(exclusion_refusal(audit_with_data("p-string.json", R"({"points": "11"})"), 10),
             Catch::Contains("p-string.json: data.points is not a point count: \"11\""));
  CHECK_THAT(exclusion_refusal(audit_with_data("p-float.json", R"({"points": 11.0})"), 10),
             Catch::Contains("p-float.json: data.points is not a point count"));
  CHECK_THAT(exclusion_refusal(audit_with_data("d-string.json", R"("x")"), 10),
             Catch::Contains("d-string.json: 'data' is not an object"));
  CHECK_THAT(exclusion_refusal(audit_with_data("d-null.json", "null"), 10),
             Catch::Contains("d-null.json: 'data' is not an object"));
  CHECK_THAT(exclusion_refusal(audit_with_data("root-number.json", R"({"points": 10, "root": 5})"), 10),
             Catch::Contains("root-number.json: data.root is not a string"));
  CHECK_THAT(exclusion_refusal(audit_with_data("mroot.json", R"({"manifest_root": [1]})"), 10),
             Catch::Contains("mroot.json: data.manifest_root is not a string"));
  // null roots (an audit of data without a manifest) are what audit-data writes: accepted.
  CHECK(exclusion_refusal(audit_with_data("nulls.json", R"({"points": 10, "root": null, "manifest_root": null})"), 10)
            .empty());
  // Flagging every point leaves nothing to train on: refused, not a training on 0 points.
  const datasets::Dataset four = flat_points(4);
  const at::Tensor all = datasets::read_exclusion(write_audit(dir + "/all.json", {0, 1, 2, 3}, 4), four);
  try {
    datasets::exclude_points(four, all, dir + "/all.json");
    FAIL("an exclusion of every point was accepted");
  } catch (const DataError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("all.json: leaves out all 4 points of the data"));
  }
  CHECK(datasets::exclude_points(four, all.slice(0, 0, 3), "three").size() == 1);
}
