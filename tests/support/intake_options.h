#pragma once

#include <string>

#include "security/model_intake.h"

namespace rampart::test {

/// Intake options for tests of things other than pinning: unpinned files are accepted (the
/// tests of pinning itself build their own options).
inline security::IntakeOptions unpinned() {
  security::IntakeOptions options;
  options.policy.allow_unpinned = true;
  return options;
}

/// A pickle inspector's global check that allows every global (tests of the opcode walk itself).
inline std::string allow_all_globals(const std::string&, const std::string&) { return ""; }

}  // namespace rampart::test
