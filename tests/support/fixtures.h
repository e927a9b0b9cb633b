#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

namespace rampart::test {

/// Where Debian's dataset-fashion-mnist installs Fashion-MNIST (IDX, gzip).
inline const std::string kFmnist = "/usr/share/datasets/fashion-mnist/";

/// A test whose fixture (Fashion-MNIST, python3-torch) is absent is skipped with the reason
/// printed, except under tools/test.sh (CI), which installs every fixture and sets
/// RAMPART_REQUIRE_FIXTURES=1: there a missing fixture fails the test.
/// Returns true when the caller should return (skip).
inline bool skip_without_fixture(const std::string& reason) {
  if (std::getenv("RAMPART_REQUIRE_FIXTURES") != nullptr) {
    FAIL("required fixture missing: " << reason);
  }
  WARN("skipped: " << reason);
  return true;
}

}  // namespace rampart::test
