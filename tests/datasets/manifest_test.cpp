// Provenance manifests: `rampart data manifest` writes one, `data.manifest` checks the data
// against it and names the first point that differs (exit 4).
#include <ATen/ATen.h>  // before Catch: glog defines a CHECK macro too
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <catch2/catch.hpp>

#include <cctype>
#include <cstdio>
#include <functional>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/dataset_spec.h"
#include "datasets/manifest.h"
#include "datasets/npy.h"
#include "support/test_support.h"

using namespace rampart;

namespace {

// SHA-256 of `bytes` in lowercase hex, by OpenSSL's one-shot digest: the oracle for the
// manifest's own hashing.
std::string sha256_hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) == 1);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += "0123456789abcdef"[md[i] >> 4];
    out += "0123456789abcdef"[md[i] & 15];
  }
  return out;
}

// The bytes that `hex` (lowercase, even length) spells.
std::string unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// Writes `images` and `labels` as npy files in `dir`.
std::pair<at::Tensor, at::Tensor> write_data(const std::string& dir, const at::Tensor& images,
                                             const at::Tensor& labels) {
  datasets::write_npy(dir + "/x.npy", images.contiguous());
  datasets::write_npy(dir + "/y.npy", labels.contiguous());
  return {images, labels};
}

std::string config(const std::string& dir, const std::string& manifest) {
  const std::string path = dir + "/train.yaml";
  test::write_bytes(path,
                    "model: {arch: small_cnn, num_classes: 4, input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
                    "data: {format: npy, images: " + dir + "/x.npy, labels: " + dir + "/y.npy" +
                        manifest + "}\n"
                    "train: {epochs: 1, output: " + dir + "/out}\n");
  return path;
}

datasets::Dataset load(const std::string& dir, const std::string& manifest,
                       const std::string& signature = "", const std::string& key = "") {
  datasets::DatasetSpec spec;
  spec.format = "npy";
  spec.images = dir + "/x.npy";
  spec.labels = dir + "/y.npy";
  spec.manifest = manifest;
  spec.manifest_signature = signature;
  spec.manifest_public_key = key;
  return datasets::load_dataset(spec, 4, {1, 28, 28});
}

// The DataError (exit 4) that loading against the manifest throws ("" when none).
std::string refusal(const std::string& dir, const std::string& manifest,
                    const std::string& signature = "", const std::string& key = "") {
  try {
    load(dir, manifest, signature, key);
  } catch (const DataError& e) {
    CHECK(e.code() == ExitCode::kDataError);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a data manifest names the first changed, relabelled, added or removed point",
          "[datasets][manifest]") {
  const std::string dir = test::make_temp_dir("manifest");
  const at::Tensor images = at::rand({40, 1, 28, 28}, at::kFloat);
  const at::Tensor labels = at::arange(40, at::kLong).remainder(4);
  write_data(dir, images, labels);
  const auto made = test::run_process({test::rampart_binary(), "data", "manifest",
                                       config(dir, ""), "--out", dir + "/m.json"});
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  const auto json = nlohmann::json::parse(core::read_file(dir + "/m.json"));
  CHECK(json["points"] == 40);
  CHECK(json["label_histogram"] == nlohmann::json({10, 10, 10, 10}));
  CHECK(json["files"].size() == 2);
  // The root is SHA-256 over the digests; a point's digest is over its label and pixels.
  const datasets::Dataset data = load(dir, dir + "/m.json");
  CHECK(data.manifest_root == json["root"].get<std::string>());
  CHECK(made.output.find(data.manifest_root) != std::string::npos);
  CHECK(datasets::point_digests(data)[7] == json["digests"][7].get<std::string>());
  // Every hash recomputed here: each file's (and its size), point 7's (its label as int64, then
  // its float32 pixels, both little-endian as on every machine Rampart builds for) and the root
  // (over the points' 32-byte digests in order).
  for (const auto& file : json["files"]) {
    const std::string bytes = core::read_file(file["path"].get<std::string>());
    CHECK(file["sha256"] == sha256_hex(bytes));
    CHECK(file["bytes"].get<std::size_t>() == bytes.size());
  }
  const int64_t label7 = labels[7].item<int64_t>();
  const at::Tensor image7 = images[7].contiguous();
  std::string point7(reinterpret_cast<const char*>(&label7), sizeof(label7));
  point7.append(reinterpret_cast<const char*>(image7.data_ptr<float>()), image7.numel() * sizeof(float));
  CHECK(json["digests"][7] == sha256_hex(point7));
  std::string joined;
  for (const auto& digest : json["digests"]) joined += unhex(digest.get<std::string>());
  CHECK(json["root"] == sha256_hex(joined));
  CHECK_THAT(json["tool"].get<std::string>(), Catch::StartsWith("rampart "));

  SECTION("one pixel") {
    at::Tensor changed = images.clone();
    changed[17][0][3][2] += 1e-3f;
    write_data(dir, changed, labels);
    CHECK(refusal(dir, dir + "/m.json").find("m.json: point 17 of " + dir + "/x.npy has a changed image (label 1)") !=
          std::string::npos);
  }
  SECTION("a swapped label") {
    at::Tensor relabelled = labels.clone();
    relabelled[23] = 0;
    write_data(dir, images, relabelled);
    CHECK(refusal(dir, dir + "/m.json").find("point 23 of " + dir + "/x.npy has label 0, the manifest says 3") !=
          std::string::npos);
  }
  SECTION("an added point") {
    write_data(dir, at::cat({images.slice(0, 0, 30), images.slice(0, 5, 6), images.slice(0, 30)}),
               at::cat({labels.slice(0, 0, 30), labels.slice(0, 5, 6), labels.slice(0, 30)}));
    CHECK(refusal(dir, dir + "/m.json").find("point 30 of " + dir + "/x.npy was added (the data has 41 points, the manifest 40)") !=
          std::string::npos);
  }
  SECTION("a removed point") {
    write_data(dir, at::cat({images.slice(0, 0, 12), images.slice(0, 13)}),
               at::cat({labels.slice(0, 0, 12), labels.slice(0, 13)}));
    CHECK(refusal(dir, dir + "/m.json").find("point 12 of the manifest was removed from " + dir + "/x.npy (the data has 39 points, the manifest 40)") !=
          std::string::npos);
  }
  SECTION("the last point removed") {
    write_data(dir, images.slice(0, 0, 39), labels.slice(0, 0, 39));
    CHECK(refusal(dir, dir + "/m.json").find("point 39 of the manifest was removed from " + dir +
                                             "/x.npy (the data has 39 points, the manifest 40)") !=
          std::string::npos);
  }
  SECTION("the matched data: train and eval record the manifest's root; eval refuses a change") {
    const auto train = test::run_process(
        {test::rampart_binary(), "train", config(dir, ", manifest: " + dir + "/m.json")});
    INFO(train.output);
    REQUIRE(train.exit_code == 0);
    CHECK_THAT(train.output,
               Catch::Contains("data manifest:       root " + data.manifest_root + ", every point matched"));
    // The checkpoint's metadata records the root (trainer.cpp: data_manifest_root).
    CHECK_THAT(core::read_file(dir + "/out/checkpoint.safetensors"),
               Catch::Contains("\"data_manifest_root\":\"" + data.manifest_root + "\""));
    const std::string eval = dir + "/eval.yaml";
    test::write_bytes(eval, "model: {arch: small_cnn, checkpoint: " + dir +
                                "/out/checkpoint.safetensors, num_classes: 4, "
                                "input: {shape: [1, 28, 28], range: [0.0, 1.0]}}\n"
                                "data: {format: npy, images: " + dir + "/x.npy, labels: " + dir +
                                "/y.npy, manifest: " + dir + "/m.json}\n"
                                "attacks: [{name: fgsm, norm: linf, eps: 0.05}]\n");
    const auto evaluated = test::run_process(
        {test::rampart_binary(), "eval", eval, "--out", dir + "/report", "--allow-unpinned", "-q"});
    INFO(evaluated.output);
    REQUIRE(evaluated.exit_code == 0);
    const auto report = nlohmann::json::parse(core::read_file(dir + "/report/report.json"));
    CHECK(report["provenance"]["data"]["manifest_root"] == data.manifest_root);
    // The same evaluation on data with one label changed: exit 4, the point named, no report.
    at::Tensor relabelled = labels.clone();
    relabelled[31] = 2;
    write_data(dir, images, relabelled);
    const auto refused = test::run_process(
        {test::rampart_binary(), "eval", eval, "--out", dir + "/report2", "--allow-unpinned", "-q"});
    INFO(refused.output);
    CHECK(refused.exit_code == 4);
    CHECK_THAT(refused.output, Catch::Contains("point 31 of " + dir + "/x.npy has label 2, the manifest says 3"));
    CHECK(!std::filesystem::exists(dir + "/report2/report.json"));
  }
  SECTION("rampart train refuses the changed data before training, exit 4") {
    at::Tensor changed = images.clone();
    changed[0][0][0][0] = 1.0f - changed[0][0][0][0].item<float>();
    write_data(dir, changed, labels);
    const auto run = test::run_process(
        {test::rampart_binary(), "train", config(dir, ", manifest: " + dir + "/m.json")});
    INFO(run.output);
    CHECK(run.exit_code == 4);
    CHECK(run.output.find("point 0 of " + dir + "/x.npy has a changed image") != std::string::npos);
    CHECK(!std::filesystem::exists(dir + "/out/checkpoint.safetensors"));
  }
  SECTION("the same values read with another point shape are other data") {
    write_data(dir, images.reshape({40, 1, 14, 56}), labels);
    datasets::DatasetSpec spec;
    spec.format = "npy";
    spec.images = dir + "/x.npy";
    spec.labels = dir + "/y.npy";
    spec.manifest = dir + "/m.json";
    try {
      datasets::load_dataset(spec, 4, {1, 14, 56});
      FAIL("the reshaped points matched the manifest");
    } catch (const DataError& e) {
      CHECK_THAT(std::string(e.what()),
                 Catch::Contains("m.json: the points of " + dir + "/x.npy have shape [1, 14, 56], "
                                 "the manifest's [1, 28, 28]"));
    }
  }
  SECTION("a manifest whose fields disagree with each other is not one, exit 4") {
    const auto edited_refusal = [&](const std::function<void(nlohmann::json&)>& edit) {
      auto edited = json;
      edit(edited);
      core::write_file_atomic(dir + "/edited.json", edited.dump());
      return refusal(dir, dir + "/edited.json");
    };
    // Each of these was read without a word, or with a JSON library's message (exit 5).
    CHECK_THAT(edited_refusal([](nlohmann::json& j) { j.erase("points"); }),
               Catch::Contains("edited.json: not a Rampart data manifest: a field is missing"));
    CHECK_THAT(edited_refusal([](nlohmann::json& j) { j["points"] = "40"; }),
               Catch::Contains("edited.json: not a Rampart data manifest: a field is missing or malformed"));
    CHECK_THAT(edited_refusal([](nlohmann::json& j) { j["labels"][5] = 3; }),
               Catch::Contains("edited.json: not a Rampart data manifest: label_histogram does not count its labels"));
    CHECK_THAT(edited_refusal([](nlohmann::json& j) { j["labels"][5] = 7; }),
               Catch::Contains("a label is not one of its num_classes classes"));
    CHECK_THAT(edited_refusal([](nlohmann::json& j) { j["num_classes"] = 7; }),
               Catch::Contains("num_classes and label_histogram disagree"));
    CHECK_THAT(edited_refusal([](nlohmann::json& j) { j["shape"] = {3, 0, 2}; }),
               Catch::Contains("shape is not a point shape"));
    // Labels 5 and 6 (1 and 2) swapped: the histogram still counts them, the digests do not.
    CHECK_THAT(edited_refusal([](nlohmann::json& j) { std::swap(j["labels"][5], j["labels"][6]); }),
               Catch::Contains("edited.json: not a Rampart data manifest: labels[5] is 2 but its "
                               "digest is of label 1"));
    CHECK_THAT(edited_refusal([](nlohmann::json& j) {
                 auto d = j["digests"][2].get<std::string>();
                 for (char& c : d) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                 j["digests"][2] = d;
               }),
               Catch::Contains("edited.json: not a Rampart data manifest: digests[2] is not 64 lowercase hex digits"));
  }
  SECTION("a manifest whose root does not match its digests is not one") {
    auto edited = json;
    edited["digests"][3] = std::string(64, '0');
    core::write_file_atomic(dir + "/edited.json", edited.dump());
    CHECK(refusal(dir, dir + "/edited.json").find("its root does not match its digests") !=
          std::string::npos);
  }
}

TEST_CASE("a signed data manifest: the right key verifies, a wrong key is refused",
          "[datasets][manifest]") {
  const std::string dir = test::make_temp_dir("manifest-signed");
  write_data(dir, at::rand({12, 1, 28, 28}, at::kFloat), at::arange(12, at::kLong).remainder(4));
  const auto keypair = [&](const std::string& name) {
    EVP_PKEY* key = nullptr;
    std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> ctx(
        EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
    REQUIRE(EVP_PKEY_keygen_init(ctx.get()) == 1);
    REQUIRE(EVP_PKEY_keygen(ctx.get(), &key) == 1);
    FILE* pub = std::fopen((dir + "/" + name + ".pub.pem").c_str(), "w");
    PEM_write_PUBKEY(pub, key);
    std::fclose(pub);
    FILE* priv = std::fopen((dir + "/" + name + ".pem").c_str(), "w");
    PEM_write_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(priv);
    EVP_PKEY_free(key);
  };
  keypair("signer");
  keypair("other");
  const auto made = test::run_process({test::rampart_binary(), "data", "manifest",
                                       config(dir, ""), "--out", dir + "/m.json", "--sign",
                                       dir + "/signer.pem"});
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  CHECK(refusal(dir, dir + "/m.json", dir + "/m.json.sig", dir + "/signer.pub.pem").empty());
  CHECK(refusal(dir, dir + "/m.json", dir + "/m.json.sig", dir + "/other.pub.pem")
            .find("m.json: the Ed25519 signature " + dir + "/m.json.sig does not verify with the public key " + dir + "/other.pub.pem") !=
        std::string::npos);

  // A key that cannot sign (a public key) fails before anything is written: the signed pair
  // stays as it was (it was written over before the signing failed).
  const std::string manifest_before = core::read_file(dir + "/m.json");
  const std::string signature_before = core::read_file(dir + "/m.json.sig");
  write_data(dir, at::rand({12, 1, 28, 28}, at::kFloat), at::arange(12, at::kLong).remainder(4));
  const auto bad_key = test::run_process({test::rampart_binary(), "data", "manifest",
                                          config(dir, ""), "--out", dir + "/m.json", "--sign",
                                          dir + "/other.pub.pem"});
  INFO(bad_key.output);
  CHECK(bad_key.exit_code == 4);
  CHECK(core::read_file(dir + "/m.json") == manifest_before);
  CHECK(core::read_file(dir + "/m.json.sig") == signature_before);
  // An unsigned manifest written over a signed one removes the signature it no longer matches.
  const auto unsigned_run = test::run_process(
      {test::rampart_binary(), "data", "manifest", config(dir, ""), "--out", dir + "/m.json"});
  INFO(unsigned_run.output);
  CHECK(unsigned_run.exit_code == 0);
  CHECK(core::read_file(dir + "/m.json") != manifest_before);
  CHECK_FALSE(std::filesystem::exists(dir + "/m.json.sig"));
  CHECK_THAT(unsigned_run.output, Catch::Contains("removed:  " + dir + "/m.json.sig"));
}

TEST_CASE("rampart data manifest covers the data before data.exclude, which data.manifest checks",
          "[datasets][manifest]") {
  const std::string dir = test::make_temp_dir("manifest-exclude");
  write_data(dir, at::rand({12, 1, 28, 28}, at::kFloat), at::arange(12, at::kLong).remainder(4));
  test::write_bytes(dir + "/audit.json",
                    R"({"schema": "rampart-data-audit/1", "data": {"points": 12}, "flagged": [2, 5, 7]})");
  const auto made = test::run_process({test::rampart_binary(), "data", "manifest",
                                       config(dir, ", exclude: " + dir + "/audit.json"), "--out",
                                       dir + "/m.json"});
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  CHECK(nlohmann::json::parse(core::read_file(dir + "/m.json"))["points"] == 12);
  datasets::DatasetSpec spec;
  spec.format = "npy";
  spec.images = dir + "/x.npy";
  spec.labels = dir + "/y.npy";
  spec.manifest = dir + "/m.json";
  spec.exclude = dir + "/audit.json";
  const datasets::Dataset data = datasets::load_dataset(spec, 4, {1, 28, 28});
  CHECK(data.size() == 9);
  CHECK(data.excluded_points == 3);
}
