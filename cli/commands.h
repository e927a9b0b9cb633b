#pragma once

#include <string>
#include <vector>

namespace rampart::cli {

/// `rampart train CONFIG [--set KEY=VALUE]... [--resume]`; returns the exit code.
int run_train(const std::string& config_path, const std::vector<std::string>& overrides,
              bool resume);

/// `rampart quickstart [--out DIR] [--set KEY=VALUE]...`: trains the small CNN on
/// Fashion-MNIST and prints its test accuracy and where the checkpoint went.
int run_quickstart(const std::string& out_dir, const std::vector<std::string>& overrides);

}  // namespace rampart::cli
