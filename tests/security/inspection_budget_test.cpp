// The inspection has a budget and no step that grows faster than the file: each file here
// made an earlier version run for minutes to hours (argument copies per REDUCE, a search of
// the code per GLOBAL, a linear lookup per storage) or hits a limit, and each is decided in
// under 5 s: accepted when it is only large, rejected with the budget it exceeded.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "core/error.h"
#include "models/safetensors.h"
#include "security/libtorch_policy.h"
#include "security/pickle_inspector.h"
#include "security/torchscript_inspection.h"
#include "support/intake_options.h"
#include "zip_builder.h"

using namespace rampart;

// A byte string literal with embedded NULs.
#define BYTES(literal) std::string(literal, sizeof(literal) - 1)

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// PROTO 2, then `body`, then NONE and STOP: one value left.
std::string pickle(const std::string& body) { return "\x80\x02" + body + "N."; }

}  // namespace

TEST_CASE("budget: REDUCE with one large memoized tuple, many times, is linear",
          "[security][budget]") {
  // A 100,000-item tuple in memo slot 0, a callable in slot 1, then 100,000 REDUCEs of it:
  // 10^10 argument copies before, 2 * 10^5 steps now.
  std::string body = "(";
  for (int i = 0; i < 100000; ++i) body += "K\x01";
  body += BYTES("tq\x00" "0" "ccollections\nOrderedDict\nq\x01" "0");
  for (int i = 0; i < 100000; ++i) body += BYTES("h\x01h\x00R0");
  const auto start = std::chrono::steady_clock::now();
  const auto summary = security::inspect_pickle(pickle(body), "big.pkl", test::allow_all_globals);
  CHECK(summary.opcodes > 500000);
  CHECK(seconds_since(start) < 5.0);
}

TEST_CASE("budget: a million GLOBALs against large code are judged once each",
          "[security][budget]") {
  // 8 MB of code defining class Net at its end, and a data.pkl naming __torch__.Net a million
  // times: a code search per GLOBAL was 8 * 10^12 byte comparisons.
  std::string code(8 << 20, ' ');
  for (std::size_t i = 79; i < code.size(); i += 80) code[i] = '\n';
  code += "\nclass Net(Module):\n  pass\n";
  std::string body;
  for (int i = 0; i < 1000000; ++i) body += "c__torch__\nNet\n0";
  const auto archive = test::build_zip({{"m/version", "3\n"},
                                        {"m/code/__torch__.py", code},
                                        {"m/data.pkl", pickle(body)}});
  const auto start = std::chrono::steady_clock::now();
  const auto inspection = security::inspect_torchscript(archive, security::libtorch_limits());
  INFO((inspection.problems.empty() ? "" : inspection.problems.front().what()));
  CHECK(inspection.accepted());
  CHECK(inspection.globals == std::vector<std::string>{"__torch__.Net"});
  CHECK(seconds_since(start) < 5.0);
}

TEST_CASE("budget: the inspection's wall clock is a budget, exceeding it rejects",
          "[security][budget]") {
  std::string body;
  for (int i = 0; i < 200000; ++i) body += "K\x01" "0";
  const auto archive =
      test::build_zip({{"m/version", "3\n"}, {"m/data.pkl", pickle(body)}});
  auto limits = security::libtorch_limits();
  limits.max_seconds = 0.0;  // already spent: the first check rejects
  const auto start = std::chrono::steady_clock::now();
  const auto inspection = security::inspect_torchscript(archive, limits);
  REQUIRE_FALSE(inspection.accepted());
  CHECK(inspection.problems.front().code() == "inspection_budget");
  CHECK(seconds_since(start) < 5.0);
  CHECK(security::inspect_torchscript(archive, security::libtorch_limits()).accepted());
}

TEST_CASE("budget: the inspection's memory is a budget, exceeding it rejects",
          "[security][budget]") {
  // A 64 MiB code record, which the inspection copies, against a 16 MiB budget.
  const auto archive = test::build_zip({{"m/version", "3\n"},
                                        {"m/code/__torch__.py", std::string(64 << 20, '#')},
                                        {"m/data.pkl", pickle("")}});
  auto limits = security::libtorch_limits();
  limits.max_memory_bytes = 16 << 20;
  const auto start = std::chrono::steady_clock::now();
  const auto inspection = security::inspect_torchscript(archive, limits);
  REQUIRE_FALSE(inspection.accepted());
  CHECK(inspection.problems.front().code() == "inspection_budget");
  CHECK_THAT(inspection.problems.front().what(), Catch::Contains("more than its 16 MiB"));
  CHECK(seconds_since(start) < 5.0);
  // The cap is lifted afterwards (this would throw std::bad_alloc under it), and the default
  // budget takes the same file.
  std::string large(256 << 20, 'x');
  CHECK(large.size() == 256u << 20);
  const auto again = security::inspect_torchscript(archive, security::libtorch_limits());
  INFO((again.problems.empty() ? "" : again.problems.front().what()));
  CHECK(again.accepted());
}

std::string pickle_refusal(const std::string& bytes) {
  try {
    security::inspect_pickle(bytes, "p.pkl", test::allow_all_globals);
  } catch (const security::InspectionError& e) {
    return e.what();
  }
  return "accepted";
}

TEST_CASE("budget: memo, stack and nesting have limits", "[security][budget]") {
  auto start = std::chrono::steady_clock::now();
  std::string memo = "N";
  for (int i = 0; i < 1000001; ++i) memo += "\x94";  // MEMOIZE
  CHECK_THAT(pickle_refusal(pickle(memo + "0")), Catch::Contains("more than a million values"));
  CHECK(seconds_since(start) < 5.0);
  start = std::chrono::steady_clock::now();
  std::string stack;
  for (int i = 0; i < 1000002; ++i) stack += "N";
  CHECK_THAT(pickle_refusal("\x80\x02" + stack + "."), Catch::Contains("past a million values"));
  CHECK(seconds_since(start) < 5.0);
  std::string deep = "N";
  for (int i = 0; i < 600; ++i) deep += "\x85";  // TUPLE1 of TUPLE1 of ...
  CHECK_THAT(pickle_refusal(pickle(deep + "0")), Catch::Contains("deeper than 512"));
  // A REDUCE on an integer: libtorch's unpickler would call the global with that index.
  CHECK_THAT(pickle_refusal(pickle(BYTES("K\x00)R0"))), Catch::Contains("not a global"));
}

TEST_CASE("budget: a safetensors header lists at most 131,072 tensors", "[security][budget]") {
  std::string header = "{";
  const std::size_t count = models::kSafetensorsMaxTensors + 1;
  for (std::size_t i = 0; i < count; ++i) {
    header += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
              "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}";
  }
  header += "}";
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(models::parse_safetensors(test::little_endian(header.size(), 8) + header, "many.safetensors"),
                    Catch::Contains("more than the limit of 131072 tensors"));
  CHECK(seconds_since(start) < 5.0);
}
