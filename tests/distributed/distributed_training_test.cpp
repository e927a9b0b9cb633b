// `rampart train` with a distributed: section: real worker processes on c10d Gloo, launched by
// the CLI, with a simulated Byzantine rank; and the data shards.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "distributed/data_shards.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

const std::string kFmnist = "/usr/share/datasets/fashion-mnist/";

std::string config_text(const std::string& dir, const std::string& distributed) {
  return "seed: 3\ndevice: cpu\nthreads: 1\n"
         "model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
         "data: {format: idx, images: " + kFmnist + "train-images-idx3-ubyte.gz, labels: " + kFmnist +
         "train-labels-idx1-ubyte.gz, limit: 1200, batch_size: 50}\n"
         "validation: {format: idx, images: " + kFmnist + "t10k-images-idx3-ubyte.gz, labels: " +
         kFmnist + "t10k-labels-idx1-ubyte.gz, limit: 500, batch_size: 500}\n"
         "train: {epochs: 1, optimizer: {name: sgd, lr: 0.05, momentum: 0.0}, "
         "schedule: {name: constant}, output: " + dir + "/out}\n"
         "distributed:\n" + distributed;
}

std::string write_config(const std::string& dir, const std::string& distributed) {
  const std::string path = dir + "/train.yaml";
  std::ofstream(path) << config_text(dir, distributed);
  return path;
}

}  // namespace

TEST_CASE("shards: equal sizes, disjoint, IID at heterogeneity 1 and label-sorted at 0",
          "[distributed][shards]") {
  const at::Tensor labels = at::arange(1000, at::kLong).remainder(10);
  for (double gamma : {0.0, 0.5, 1.0}) {
    INFO("heterogeneity " << gamma);
    const auto shards = distributed::shard_indices(labels, 4, gamma, 7);
    REQUIRE(shards.size() == 4);
    std::set<int64_t> seen;
    for (const auto& s : shards) {
      CHECK(s.size(0) == 250);
      for (int64_t i = 0; i < s.size(0); ++i) CHECK(seen.insert(s[i].item<int64_t>()).second);
    }
    const int64_t classes = std::get<0>(at::_unique(labels.index_select(0, shards[0]))).size(0);
    if (gamma == 1.0) CHECK(classes == 10);
    if (gamma == 0.0) CHECK(classes <= 3);  // 250 label-sorted points of 100 per class
  }
  CHECK(at::equal(distributed::shard_indices(labels, 4, 0.5, 7)[2],
                  distributed::shard_indices(labels, 4, 0.5, 7)[2]));
}

TEST_CASE("rampart train, 4 workers: a Byzantine rank's Inf updates are refused and named every "
          "round, and every rank ends with the same weights",
          "[distributed][processes]") {
  const std::string dir = test::make_temp_dir("dist-train");
  const std::string keys = dir + "/workers.keys";
  {
    std::ofstream out(keys);
    for (int r = 0; r < 4; ++r) out << r << " " << std::string(63, 'a') << r << "\n";
  }
  ::chmod(keys.c_str(), 0600);
  const auto result = test::run_process(
      {test::rampart_binary(), "train",
       write_config(dir, "  workers: 4\n  heterogeneity: 0.5\n"
                         "  aggregator: {name: trimmed_mean, f: 1}\n"
                         "  simulate_byzantine: {count: 1, attack: inf}\n"
                         "  auth: {keys: " + keys + "}\n")});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  // 1200 points / 4 workers / batches of 50: 6 rounds.
  CHECK(result.output.find("distributed:         4 workers, 6 rounds, aggregator trimmed_mean(f=1)") !=
        std::string::npos);
  CHECK(result.output.find("rejected:          rank 3, 6 of 6 rounds (non-finite values (NaN or Inf))") !=
        std::string::npos);
  CHECK(result.output.find("final weights:     identical on every rank") != std::string::npos);
  CHECK(result.output.find("not authenticated") == std::string::npos);
  CHECK(std::filesystem::exists(dir + "/out/model.pt"));
  CHECK(std::filesystem::exists(dir + "/out/worker1.log"));
}

TEST_CASE("rampart train, distributed: without keys it warns; impossible setups are refused",
          "[distributed][config]") {
  const std::string dir = test::make_temp_dir("dist-config");
  const auto warned = test::run_process(
      {test::rampart_binary(), "train", write_config(dir, "  workers: 2\n"),
       "--set", "data.limit=200"});
  INFO(warned.output);
  CHECK(warned.exit_code == 0);
  CHECK(warned.output.find("updates are not authenticated, and anyone who can reach the store "
                           "can join the run") != std::string::npos);
  const auto too_many = test::run_process(
      {test::rampart_binary(), "train",
       write_config(dir, "  workers: 3\n  simulate_byzantine: {count: 3, attack: ipm}\n")});
  CHECK(too_many.exit_code == 2);
  CHECK(too_many.output.find("distributed.simulate_byzantine.count: 3 Byzantine of 3 workers "
                             "leaves no honest one") != std::string::npos);
  const auto big_f = test::run_process(
      {test::rampart_binary(), "train",
       write_config(dir, "  workers: 4\n  aggregator: {name: krum, f: 2}\n")});
  CHECK(big_f.exit_code == 2);
  CHECK(big_f.output.find("distributed.aggregator.f: f = 2 needs 2f < workers = 4") !=
        std::string::npos);
}
