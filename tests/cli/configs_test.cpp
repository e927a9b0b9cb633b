#include <catch2/catch.hpp>
#include <filesystem>

#include "core/config_node.h"
#include "core/atomic_file.h"
#include "defenses/defense_config.h"
#include "defenses/poisoning/data_audit.h"
#include "eval/eval_config.h"
#include "training/train_config.h"

using namespace rampart;

TEST_CASE("every config in configs/ loads and validates", "[configs]") {
  int train_configs = 0, eval_configs = 0, defense_configs = 0, audit_configs = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(RAMPART_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path().string());
    const auto root = core::load_config(entry.path().string());
    // A config is a train config (train:) or an eval config (attacks:), never both.
    REQUIRE(root.has("train") != root.has("attacks"));
    if (root.has("train")) {
      const auto config = training::parse_train_config(root);
      CHECK(config.epochs >= 1);
      CHECK_FALSE(config.output.empty());
      const auto defense = defenses::parse_defense_spec(root, config.model.input.range_min,
                                                        config.model.input.range_max);
      defense_configs += defense.adversarial.has_value() || defense.distillation.has_value();
      // An audit config (`rampart audit-data`) is a train config plus its audit: section.
      if (root.has("audit")) {
        const auto audit = defenses::poisoning::parse_audit_spec(root.child("audit"));
        CHECK_FALSE(audit.detectors.empty());
        ++audit_configs;
      }
      // Issue 15, item 7: the validation split picks the kept epoch of a defense, so it must
      // be held out of the training files, never a test set (t10k-*, test_batch), unless the
      // config says in its header that it only monitors test accuracy and trains no defense.
      const std::string text = core::read_file(entry.path().string());
      const bool monitors_test_set =
          text.find("validation on the test set") != std::string::npos &&
          !defense.adversarial && !defense.distillation;
      if (config.validation && !monitors_test_set) {
        const auto& v = *config.validation;
        for (const std::string& file : v.files) CHECK(file.find("test_batch") == std::string::npos);
        CHECK(v.images.find("t10k") == std::string::npos);
        // The same files as training: the two must not overlap.
        if (v.files == config.data.files && v.images == config.data.images) {
          CHECK(config.data.limit > 0);
          CHECK(v.offset >= config.data.offset + config.data.limit);
        }
      }
      ++train_configs;
    } else {
      const auto config = eval::parse_eval_config(root);
      CHECK_FALSE(config.attacks.empty());
      CHECK_FALSE(config.report.dir.empty());
      ++eval_configs;
    }
  }
  CHECK(train_configs >= 3);
  CHECK(eval_configs >= 2);
  CHECK(defense_configs >= 4);  // pgd_at, fgsm_rs, trades, distillation
  CHECK(audit_configs >= 1);    // fmnist_audit
}
