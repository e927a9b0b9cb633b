#include "datasets/dataset_spec.h"

#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/config_node.h"
#include "core/error.h"

using namespace rampart;

TEST_CASE("data sections parse per format and reject keys of other formats", "[dataset_spec]") {
  auto root = core::parse_config(
      "a: {format: cifar10, files: [x.bin, y.bin], limit: 10, batch_size: 4}\n"
      "b: {format: idx, images: i, labels: l, files: [x.bin]}\n"
      "c: {format: synthetic, num_samples: 32, seed: 3, sample_seed: 4, noise: 0.05, shuffle: "
      "false}\n"
      "d: {format: idx, images: i}\n"
      "e: {format: parquet}\n",
      "d.yaml");
  auto a = datasets::parse_dataset_spec(root.child("a"));
  CHECK(a.files == std::vector<std::string>{"x.bin", "y.bin"});
  CHECK(a.limit == 10);
  CHECK(a.batch_size == 4);
  CHECK(datasets::dataset_files(a) == a.files);
  CHECK_THROWS_WITH(
      datasets::parse_dataset_spec(root.child("b")),
      Catch::Contains("d.yaml:2:") && Catch::Contains("'files' does not apply to format 'idx'"));
  auto c = datasets::parse_dataset_spec(root.child("c"));
  CHECK((c.num_samples == 32 && c.synthetic_seed == 3 && c.sample_seed == 4 && !c.shuffle));
  CHECK(c.noise == Approx(0.05));
  CHECK_THROWS_WITH(datasets::parse_dataset_spec(root.child("d")),
                    Catch::Contains("missing required key 'labels'"));
  CHECK_THROWS_WITH(datasets::parse_dataset_spec(root.child("e")),
                    Catch::Contains("d.yaml:5:13: e.format: unknown value 'parquet'"));
}

TEST_CASE("an empty sanitising or manifest path is refused, not read as no check", "[dataset_spec]") {
  // `exclude:` alone (or ~) would otherwise train on the unsanitised data without a word.
  for (const std::string key :
       {"exclude", "relabel", "manifest", "manifest_signature", "manifest_public_key"}) {
    for (const std::string value : {"", "~", "null", "''"}) {
      // An empty-string signature key is refused too, for having no partner first.
      if (value == "''" && key.rfind("manifest_", 0) == 0) continue;
      const auto root = core::parse_config(
          "data: {format: synthetic, num_samples: 8, " + key + ": " + value + "}\n", "n.yaml");
      CHECK_THROWS_WITH(datasets::parse_dataset_spec(root.child("data")),
                        Catch::Contains("n.yaml:1:") && Catch::Contains("data." + key) &&
                            Catch::Contains("is empty"));
    }
  }
  // A key left out is no check, as before; `--set data.exclude=null` removes the key.
  const auto removed = core::parse_config("data: {format: synthetic, exclude: a.json}\n", "n.yaml",
                                          {"data.exclude=null"});
  CHECK(datasets::parse_dataset_spec(removed.child("data")).exclude.empty());
}

TEST_CASE("load_dataset checks the points against the model's input shape", "[dataset_spec]") {
  auto root = core::parse_config("s: {format: synthetic, num_samples: 20, limit: 8}\n", "s.yaml");
  auto spec = datasets::parse_dataset_spec(root.child("s"));
  auto data = datasets::load_dataset(spec, 4, {1, 12, 12});
  CHECK(data.size() == 8);
  CHECK(data.images.sizes() == at::IntArrayRef{8, 1, 12, 12});
  CHECK(data.labels.max().item<int64_t>() < 4);
  auto again = datasets::load_dataset(spec, 4, {1, 12, 12});
  CHECK(at::equal(data.images, again.images));
  // offset skips points before limit takes: points 12..16 of the same 20, exactly.
  auto all = datasets::load_dataset(
      datasets::parse_dataset_spec(
          core::parse_config("s: {format: synthetic, num_samples: 20}\n", "s.yaml").child("s")),
      4, {1, 12, 12});
  auto window = datasets::load_dataset(
      datasets::parse_dataset_spec(
          core::parse_config("s: {format: synthetic, num_samples: 20, offset: 12, limit: 5}\n",
                             "s.yaml")
              .child("s")),
      4, {1, 12, 12});
  CHECK(window.size() == 5);
  CHECK(at::equal(window.images, all.images.slice(0, 12, 17)));
  CHECK(at::equal(window.labels, all.labels.slice(0, 12, 17)));
  CHECK_THROWS_WITH(
      datasets::load_dataset(
          datasets::parse_dataset_spec(
              core::parse_config("s: {format: synthetic, num_samples: 20, offset: 20}\n", "s.yaml")
                  .child("s")),
          4, {1, 12, 12}),
      Catch::StartsWith("s.yaml:1:49: s.offset: 20 skips all 20 points"));  // where it was given
  CHECK_THROWS_WITH(
      datasets::load_dataset(
          datasets::parse_dataset_spec(
              core::parse_config("s: {format: synthetic, num_samples: 20, class_names: [a, b]}\n",
                                 "s.yaml")
                  .child("s")),
          4, {1, 12, 12}),
      Catch::StartsWith("s.yaml:1:54: s.class_names: 2 names for 4 classes"));
  auto idx = datasets::parse_dataset_spec(
      core::parse_config(
          "i: {format: idx, images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz, "
          "labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz, limit: 5}\n",
          "i.yaml")
          .child("i"));
  if (std::filesystem::exists(idx.images)) {
    CHECK_THROWS_WITH(
        datasets::load_dataset(idx, 10, {1, 32, 32}),
        Catch::Contains("points have shape [1, 28, 28] but model.input.shape is [1, 32, 32]"));
    CHECK_THROWS_AS(datasets::load_dataset(idx, 10, {1, 32, 32}), DataError);
  }
}
