#pragma once

#include "security/model_intake.h"

namespace rampart::test {

/// Intake options for tests of things other than pinning: unpinned files are accepted (the
/// tests of pinning itself build their own options).
inline security::IntakeOptions unpinned() {
  security::IntakeOptions options;
  options.policy.allow_unpinned = true;
  return options;
}

}  // namespace rampart::test
