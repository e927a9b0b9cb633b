#include "core/atomic_file.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/error.h"
#include "core/remove_tree.h"
#include "support/test_support.h"

using namespace rampart;

TEST_CASE("write_file_atomic replaces a file whole and leaves no temporary behind", "[core]") {
  const std::string dir = test::make_temp_dir("atomic");
  const std::string path = dir + "/sub/out.bin";
  core::write_file_atomic(path, std::string("first\0x", 7));
  CHECK(core::read_file(path) == std::string("first\0x", 7));
  core::write_file_atomic(path, "second");
  CHECK(core::read_file(path) == "second");
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/sub")) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
  rampart::core::remove_tree(dir);
}

TEST_CASE("read_file names the path and enforces the size limit", "[core]") {
  const std::string dir = test::make_temp_dir("read");
  test::write_bytes(dir + "/f", std::string(100, 'a'));
  CHECK(core::read_file(dir + "/f", 100).size() == 100);
  CHECK_THROWS_WITH(core::read_file(dir + "/f", 99), Catch::Contains("over the limit of 99 bytes"));
  CHECK_THROWS_AS(core::read_file(dir + "/missing"), DataError);
  CHECK_THROWS_WITH(core::read_file(dir), Catch::Contains("is a folder"));
  CHECK_THROWS_AS(core::write_file_atomic("/proc/rampart-cannot/x", "y"), DataError);
  rampart::core::remove_tree(dir);
}
