// `rampart` keeps tensor-sized heap blocks for reuse (core/heap_tuning.h). Without it, training
// on data read from .npy ran 3-4x slower, and any step with blocks over 32 MiB (batch 512 here)
// 2-3x slower: every step's activations were mapped, zero-filled by page faults and unmapped
// again. Page faults, not time, are what this test counts.
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "datasets/npy.h"
#include "support/test_support.h"

using rampart::test::rampart_binary;
using rampart::test::run_process;
using rampart::test::write_bytes;

namespace {

// 4,096 random 28x28 images with random labels, as .npy in DIR, and a train config for them.
// Batch 512: 8 steps an epoch, and small_cnn's first activation alone is 51 MiB a step.
std::string write_npy_training(const std::string& dir) {
  at::manual_seed(3);
  rampart::datasets::write_npy(dir + "/x.npy", at::randint(0, 256, {4096, 1, 28, 28}, at::kByte));
  rampart::datasets::write_npy(dir + "/y.npy", at::randint(0, 10, {4096}, at::kLong));
  const std::string config = dir + "/train.yaml";
  write_bytes(config,
              "seed: 0\n"
              "model: {arch: small_cnn, num_classes: 10, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
              "data: {format: npy, images: " + dir + "/x.npy, labels: " + dir + "/y.npy, batch_size: 512}\n"
              "train: {epochs: 1, optimizer: {name: sgd, lr: 0.01}, export_torchscript: false, output: " +
                  dir + "/m}\n");
  return config;
}

int64_t faults_of_training(const std::string& config, int epochs) {
  const auto r = run_process({rampart_binary(), "train", config, "--set",
                              "train.epochs=" + std::to_string(epochs)});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  return r.minor_page_faults;
}

}  // namespace

TEST_CASE("training on .npy data reuses the heap: an epoch adds few page faults", "[cli][heap]") {
  const std::string dir = rampart::test::make_temp_dir("heap-tuning");
  const std::string config = write_npy_training(dir);
  // Measured on 2 cores: the second epoch added 18 faults; 382,000 with glibc's thresholds at
  // the most its own adjustment reaches (mmap 32 MiB, trim 64 MiB: this file's first version).
  // Identical runs differ by up to about 27,000 faults (96,000 to 123,000 for one epoch, in
  // steps of about 12,500: whether a 51 MiB block found room or grew the heap), so the bound
  // sits between that jitter and the untuned epoch's cost.
  const int64_t one = faults_of_training(config, 1);
  const int64_t two = faults_of_training(config, 2);
  INFO("1 epoch: " << one << " minor faults, 2 epochs: " << two);
  CHECK(two - one < 60 * 1000);

  // The user's own malloc settings win, and this count sees the difference: with those
  // thresholds the one epoch faulted 461,000 to 536,000 times against 101,000 to 115,000.
  REQUIRE(setenv("GLIBC_TUNABLES",
                 "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864", 1) == 0);
  const int64_t untuned = faults_of_training(config, 1);
  unsetenv("GLIBC_TUNABLES");
  INFO("1 epoch with the user's thresholds: " << untuned << " minor faults");
  CHECK(untuned - one > 100000);
}
