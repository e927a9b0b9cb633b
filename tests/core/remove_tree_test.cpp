#include "core/remove_tree.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::vector<std::string> g_sources;  // filled by collect_source (nftw takes no context)

int collect_source(const char* path, const struct stat*, int type, struct FTW* ftw) {
  const std::string p(path);
  const std::string name = p.substr(p.find_last_of('/') + 1);
  // The tree's build folders (build/, build-gpu/, ...) and hidden folders (.git, .gpu-deps).
  if (type == FTW_D && ftw->level > 0 && (name.rfind("build", 0) == 0 || name[0] == '.')) {
    return FTW_SKIP_SUBTREE;
  }
  const auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return p.size() >= s.size() && p.compare(p.size() - s.size(), s.size(), s) == 0;
  };
  if (type == FTW_F && (ends_with(".cpp") || ends_with(".h") || ends_with(".cu") ||
                        ends_with(".cuh"))) {
    g_sources.push_back(p);
  }
  return FTW_CONTINUE;
}

}  // namespace

TEST_CASE("remove_tree removes a folder tree like rm -rf, links but not their targets",
          "[core]") {
  const std::string outside = rampart::test::make_temp_dir("remove-tree-outside");
  write(outside + "/kept.txt", "kept");
  const std::string dir = rampart::test::make_temp_dir("remove-tree");
  REQUIRE(::mkdir((dir + "/a").c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir + "/a/b").c_str(), 0700) == 0);
  write(dir + "/top.txt", "1");
  write(dir + "/a/b/deep.txt", "2");
  REQUIRE(::symlink(outside.c_str(), (dir + "/a/link").c_str()) == 0);
  REQUIRE(::symlink("/nonexistent/target", (dir + "/dangling").c_str()) == 0);

  CHECK(rampart::core::remove_tree(dir));
  CHECK_FALSE(exists(dir));
  CHECK(exists(outside + "/kept.txt"));  // the link went, not what it pointed to

  CHECK(rampart::core::remove_tree(dir));  // a missing path is not an error
  write(outside + "/file.txt", "x");
  CHECK(rampart::core::remove_tree(outside + "/file.txt"));  // a plain file
  CHECK_FALSE(exists(outside + "/file.txt"));
  CHECK(rampart::core::remove_tree(outside));
  CHECK_FALSE(exists(outside));
}

TEST_CASE("no source calls std::filesystem's remove_all (it crashes against PyTorch's 2.x wheels)",
          "[core]") {
  // core/remove_tree.h says why: libtorch.so of the 2.x wheels exports its own copy.
  g_sources.clear();
  REQUIRE(nftw(RAMPART_SOURCE_DIR, collect_source, 32, FTW_PHYS | FTW_ACTIONRETVAL) == 0);
  REQUIRE(g_sources.size() > 100);
  const std::string needle = std::string("remove_") + "all(";
  std::vector<std::string> offenders;
  for (const auto& path : g_sources) {
    std::ifstream in(path);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    if (text.find(needle) != std::string::npos) offenders.push_back(path);
  }
  INFO("call rampart::core::remove_tree instead in: " << offenders.size() << " file(s), first "
                                                       << (offenders.empty() ? "" : offenders[0]));
  CHECK(offenders.empty());
}
