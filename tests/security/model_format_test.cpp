// The format decision and the strict archive rules that make the scanner read exactly what
// libtorch reads. Each ambiguous file here is first shown to load in plain libtorch (outside
// Rampart, in a throwaway child): the differential is real. Then Rampart refuses it by name.
#include <torch/script.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/remove_tree.h"
#include "core/error.h"
#include "hostile_models.h"
#include "models/torchscript_loader.h"
#include "security/inspection_error.h"
#include "security/libtorch_policy.h"
#include "security/model_format.h"
#include "security/model_intake.h"
#include "security/torchscript_inspection.h"
#include "support/intake_options.h"
#include "support/test_support.h"
#include "zip_builder.h"

using namespace rampart;

namespace {

// The reason code Rampart's intake gives `bytes`: from the format decision, or from the
// archive inspection; "" when accepted.
std::string refusal(const std::string& bytes) {
  try {
    if (security::decide_model_format(bytes) == security::ModelFormat::kSafetensors) return "";
  } catch (const security::InspectionError& e) {
    return e.code();
  }
  const auto inspection = security::inspect_torchscript(bytes, security::libtorch_limits());
  return inspection.accepted() ? "" : inspection.problems.front().code();
}

}  // namespace

TEST_CASE("model format: torch.jit.save output is a TorchScript archive and nothing else",
          "[security][format]") {
  const std::string valid = test::small_cnn_archive();
  CHECK(security::decide_model_format(valid) == security::ModelFormat::kTorchScript);
  CHECK(refusal(valid).empty());
  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string safetensors = test::little_endian(header.size(), 8) + header + std::string(8, '\0');
  CHECK(security::decide_model_format(safetensors) == security::ModelFormat::kSafetensors);
  CHECK(security::decide_model_format("\x80\x02K\x01.") == security::ModelFormat::kUnknown);
  // Random weights that happen to hold the end-record signature are not a zip archive.
  const std::string unlucky = test::little_endian(header.size(), 8) + header + "PK\x05\x06" + std::string(4, '\7');
  CHECK(security::decide_model_format(unlucky) == security::ModelFormat::kSafetensors);
}

TEST_CASE("model format: every file libtorch reads differently from the scanner is refused",
          "[security][format]") {
  const std::string valid = test::small_cnn_archive();
  const std::vector<int64_t> input{1, 1, 28, 28};
  std::map<std::string, std::pair<std::string, std::string>> files;  // name -> bytes, code

  // A comment after the end record (where a second archive or a signature would hide).
  std::string commented = valid;
  commented[commented.size() - 2] = 5;
  commented += "hello";
  files["archive_comment"] = {commented, "archive_comment"};

  // A prefix before the archive (libtorch's zip reader finds the archive behind it).
  files["prefix"] = {test::with_prefix("#!/bin/sh\n# a prefix before the archive\n", valid),
                     "not_an_archive"};

  // Two names equal up to case: libtorch's lookups ignore case.
  {
    auto records = test::read_zip(valid);
    for (const auto& r : records) {
      if (r.name.size() > 9 && r.name.compare(r.name.size() - 9, 9, "/data.pkl") == 0) {
        records.emplace_back(r.name.substr(0, r.name.size() - 8) + "DATA.pkl", r.data);
        break;
      }
    }
    files["case_duplicate"] = {test::build_zip(records), "duplicate_name"};
  }

  // A safetensors file whose one tensor holds a whole TorchScript archive.
  {
    const std::string header = "{\"w\":{\"dtype\":\"U8\",\"shape\":[" +
                               std::to_string(valid.size()) + "],\"data_offsets\":[0," +
                               std::to_string(valid.size()) + "]}}";
    files["safetensors_zip_polyglot"] = {
        test::with_prefix(test::little_endian(header.size(), 8) + header, valid), "ambiguous_format"};
  }

  // A FlatBuffer mobile module's magic.
  files["flatbuffer_magic"] = {std::string("\x18\0\0\0PTMF", 8) + std::string(64, '\0'),
                               "flatbuffer_module"};

  for (const auto& [name, file] : files) {
    INFO(name);
    CHECK(refusal(file.first) == file.second);
  }
  // The differentials are real: plain libtorch loads and runs these files.
  for (const char* name :
       {"archive_comment", "prefix", "safetensors_zip_polyglot", "case_duplicate"}) {
    INFO(name);
    CHECK(test::run_unconfined(files.at(name).first, input).exit_code == 0);
  }
  // Through the one intake path: refused with exit 3 and the reason code in the message.
  const std::string dir = test::make_temp_dir("format");
  for (const auto& [name, file] : files) {
    INFO(name);
    test::write_bytes(dir + "/" + name + ".pt", file.first);
    try {
      models::load_torchscript(dir + "/" + name + ".pt", test::unpinned());
      FAIL("accepted");
    } catch (const ModelRejected& e) {
      CHECK_THAT(e.what(), Catch::Contains(file.second));
    }
  }
  rampart::core::remove_tree(dir);
}

TEST_CASE("scan --json: names that are not UTF-8 are reported, not an internal error",
          "[security][format]") {
  auto records = test::read_zip(test::small_cnn_archive());
  const std::string prefix = records.front().name.substr(0, records.front().name.find('/'));
  // A pickle record: its name is listed in the report.
  records.emplace_back(prefix + "/extra/\xff\xfe-latin1-\xe9.pkl", "\x80\x02N.");
  const std::string dir = test::make_temp_dir("format-utf8");
  test::write_bytes(dir + "/model.pt", test::build_zip(records));
  const auto scan =
      test::run_process({test::rampart_binary(), "scan", "--json", dir + "/model.pt"});
  INFO(scan.output);
  CHECK((scan.exit_code == 0 || scan.exit_code == 3));  // never 5
  const auto json = nlohmann::json::parse(scan.output.substr(scan.output.find('{')));
  CHECK(json.contains("verdict"));
  rampart::core::remove_tree(dir);
}
