#pragma once

// Small formatting helpers shared by the report writers.

#include <cstdio>
#include <string>

#include "attacks/attack_ops.h"
#include "eval/evaluation.h"

namespace rampart::eval::detail {

/// 0.8734 -> "87.34%"
inline std::string percent(double fraction, int decimals = 2) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f%%", decimals, fraction * 100.0);
  return text;
}

/// A number with `digits` significant digits ("0.0123", "1.5").
inline std::string number(double value, int digits = 4) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*g", digits, value);
  return text;
}

/// "Linf eps 0.1", "L2 eps 1.5" or "L2, minimal" (CW).
inline std::string budget_text(const AttackReport& a) {
  const std::string norm = a.norm == attacks::Norm::kLinf ? "Linf" : "L2";
  return a.bounded ? norm + " eps " + attacks::detail::format_eps(a.eps) : norm + ", minimal";
}

/// "pass" / "FAIL" for gates; "ok" / "WARN" (or "FAIL" under --strict) for sanity checks.
inline std::string sanity_verdict(const SanityCheck& check, bool strict) {
  return check.flagged ? (strict ? "FAIL" : "WARN") : "ok";
}

/// Escapes text for XML and HTML content and attribute values.
inline std::string escape_markup(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

}  // namespace rampart::eval::detail
