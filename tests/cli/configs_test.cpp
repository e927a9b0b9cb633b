#include <catch2/catch.hpp>
#include <filesystem>

#include "core/config_node.h"
#include "training/train_config.h"

using namespace rampart;

TEST_CASE("every config in configs/ loads and validates", "[configs]") {
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(RAMPART_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path().string());
    const auto root = core::load_config(entry.path().string());
    REQUIRE(root.has("train"));  // every config so far is a train config
    const auto config = training::parse_train_config(root);
    CHECK(config.epochs >= 1);
    CHECK_FALSE(config.output.empty());
    ++count;
  }
  CHECK(count >= 3);
}
