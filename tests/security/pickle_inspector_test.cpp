// The pickle disassembler and the zip inspector on exact small cases: globals are resolved
// through the memo, storages and tensors are read from real TorchScript pickles, and the
// inspector reads what libtorch writes (data descriptors, zip64 end records, deflated code).
#include "security/pickle_inspector.h"

#include <torch/script.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "models/small_cnn.h"
#include "security/zip_inspector.h"
#include "support/intake_options.h"
#include "zip_builder.h"

using namespace rampart;

namespace {

// A byte string literal with embedded NULs.
#define BYTES(literal) std::string(literal, sizeof(literal) - 1)

security::PickleSummary inspect(const std::string& bytes) {
  return security::inspect_pickle(bytes, "test.pkl", test::allow_all_globals);
}

}  // namespace

TEST_CASE("pickle: GLOBAL, INST and STACK_GLOBAL are resolved, through the memo too",
          "[security][pickle]") {
  // protocol 0: GLOBAL, PUT, GET of the same global, a REDUCE
  auto p0 = inspect("cmod\nfn\np0\n(g0\ntR.");
  CHECK(p0.globals == std::vector<std::string>{"mod.fn"});
  CHECK(p0.protocol == 0);
  // protocol 4: names memoized, popped, fetched back with BINGET, then STACK_GLOBAL
  auto p4 = inspect(BYTES("\x80\x04\x8c\x01" "a\x94\x8c\x02" "bc\x94" "00h\x00h\x01\x93)R."));
  CHECK(p4.globals == std::vector<std::string>{"a.bc"});
  CHECK(p4.protocol == 4);
  // MEMOIZE numbers slots in order; LONG_BINGET reads them
  auto memo = inspect(BYTES("\x80\x04\x8c\x01x\x94\x8c\x01y\x94" "00j\x00\x00\x00\x00j\x01\x00\x00\x00\x93."));
  CHECK(memo.globals == std::vector<std::string>{"x.y"});
  // INST names its class in the instruction itself
  auto inst = inspect("(S'a'\nimod\nCls\n.");
  CHECK(inst.globals == std::vector<std::string>{"mod.Cls"});

  const security::GlobalPolicy deny_os = [](const std::string& module, const std::string&) {
    return module == "os" ? std::string("no") : std::string();
  };
  try {
    security::inspect_pickle(BYTES("\x80\x04\x8c\x02os\x94\x8c\x06system\x94" "00h\x00h\x01\x93."),
                             "data.pkl", deny_os);
    FAIL("os.system through the memo was not refused");
  } catch (const security::InspectionError& e) {
    CHECK(e.code() == "forbidden_global");
    CHECK(std::string(e.what()) == "data.pkl: global 'os.system' is not allowed: no");
  }
  // A STACK_GLOBAL whose operands are not strings cannot be resolved: refused.
  CHECK_THROWS_AS(inspect("\x80\x04K\x01K\x02\x93."), security::InspectionError);
}

// libtorch's unpickler (torch/csrc/jit/serialization/unpickler.cpp) calls on BUILD exactly as
// on REDUCE, NEWOBJ only pops its arguments, and torch.<X>Storage is an integer (a scalar type),
// not a callable: the inspector follows it, where it had read BUILD and NEWOBJ as Python does.
TEST_CASE("pickle: BUILD calls, NEWOBJ only pops, a storage type is not callable",
          "[security][pickle]") {
  const std::string rebuild = BYTES(
      "ctorch._utils\n_rebuild_tensor_v2\n((S'storage'\nctorch\nFloatStorage\nS'0'\nS'cpu'\n"
      "K\x04tQK\x00(K\x08t(K\x01tI00\n}t");
  // The rebuild BUILT is a call: its tensor is recorded and checked like a REDUCE's.
  const auto built = inspect(rebuild + "b.");
  REQUIRE(built.tensors.size() == 1);
  CHECK(built.tensors[0].sizes == std::vector<int64_t>{8});
  CHECK(built.storages.size() == 1);
  CHECK(inspect(rebuild + "R.").tensors.size() == 1);
  // An object as TorchScript pickles one: GLOBAL, EMPTY_TUPLE, NEWOBJ, state, BUILD.
  const auto object = inspect("c__torch__\nNet\n)\x81}b.");
  CHECK(object.globals == std::vector<std::string>{"__torch__.Net"});
  // NEWOBJ then BUILD on the rebuild: the call is BUILD's, with its state as the arguments.
  const auto newobj = inspect("ctorch._utils\n_rebuild_tensor_v2\n)\x81" +
                              rebuild.substr(rebuild.find("((")) + "b.");
  CHECK(newobj.tensors.size() == 1);
  for (const std::string& bytes :
       {std::string("ctorch\nCharStorage\n)R."), std::string("ctorch\nper_tensor_affine\n)b.")}) {
    INFO(bytes);
    try {
      inspect(bytes);
      FAIL("a REDUCE or BUILD on a torch constant was accepted");
    } catch (const security::InspectionError& e) {
      CHECK(e.code() == "bad_pickle");
      CHECK_THAT(e.what(), Catch::Contains("which libtorch reads as an integer"));
    }
  }
}

TEST_CASE("pickle: storages and tensors of a real TorchScript data.pkl", "[security][pickle]") {
  const std::string bytes = test::small_cnn_archive();
  torch::manual_seed(0);
  models::SmallCNN net(models::InputSpec{{1, 28, 28}, 0, 1}, 10);  // the same weights' shapes
  const security::Archive archive = security::inspect_archive(bytes);
  const security::ArchiveEntry* data = archive.find("data.pkl");
  REQUIRE(data != nullptr);
  const auto summary = inspect(security::read_entry(bytes, *data));
  // one storage and one tensor per parameter and buffer
  const auto state = net.named_parameters();
  const auto buffers = net.named_buffers();
  CHECK(summary.tensors.size() == state.size() + buffers.size());
  CHECK(summary.storages.size() == summary.tensors.size());
  int64_t elements = 0;
  for (const auto& s : summary.storages) {
    CHECK((s.type == "FloatStorage" || s.type == "LongStorage"));
    elements += s.numel;
    const security::ArchiveEntry* record = archive.find("data/" + s.key);
    REQUIRE(record != nullptr);
    CHECK(static_cast<int64_t>(record->size) == s.numel * s.itemsize);
  }
  int64_t expected = 0;
  for (const auto& p : state) expected += p.value().numel();
  for (const auto& b : buffers) expected += b.value().numel();
  CHECK(elements == expected);
}

TEST_CASE("zip: libtorch's archives pass, each structural defect is named", "[security][zip]") {
  const std::string bytes = test::small_cnn_archive();
  const security::Archive archive = security::inspect_archive(bytes);
  CHECK_FALSE(archive.prefix.empty());
  CHECK(archive.find("version") != nullptr);
  // Rebuilt by the test's writer (no descriptors, no zip64): still the same records.
  const auto records = test::read_zip(bytes);
  const std::string rebuilt = test::build_zip(records);
  const security::Archive again = security::inspect_archive(rebuilt);
  REQUIRE(again.entries.size() == archive.entries.size());
  for (std::size_t i = 0; i < again.entries.size(); ++i) {
    CHECK(security::read_entry(rebuilt, again.entries[i]) ==
          security::read_entry(bytes, archive.entries[i]));
  }
  // The limits hold.
  security::ArchiveLimits tight;
  tight.max_entries = 2;
  try {
    security::inspect_archive(bytes, tight);
    FAIL("the entry limit did not hold");
  } catch (const security::InspectionError& e) {
    CHECK(e.code() == "too_many_entries");
  }
  tight = {};
  tight.max_total_bytes = 1000;
  CHECK_THROWS_AS(security::inspect_archive(bytes, tight), security::InspectionError);
}
