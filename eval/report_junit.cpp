#include <cmath>
#include <sstream>

#include "eval/report_format.h"
#include "eval/reports.h"

namespace rampart::eval {
using detail::escape_markup;

std::string report_junit(const Evaluation& ev) {
  const int64_t gate_failures = ev.gates_failed();
  const int64_t sanity_failures = ev.strict ? ev.sanity_flagged() : 0;
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x << "<testsuites name=\"rampart\" tests=\"" << ev.gates.size() + ev.sanity.size()
    << "\" failures=\"" << gate_failures + sanity_failures << "\">\n";
  x << "  <testsuite name=\"rampart.gates\" tests=\"" << ev.gates.size() << "\" failures=\""
    << gate_failures << "\" errors=\"0\" time=\"" << ev.seconds << "\">\n";
  for (const auto& g : ev.gates) {
    const std::string text =
        g.gate.name + " = " +
        (std::isnan(g.value) ? std::string("not measured (no point was attacked)")
                             : detail::gate_rendering(g, 6, 1.0, [&](int d) {
                                 return detail::number(g.value, d);
                               })) +
        ", required " + g.threshold;
    x << "    <testcase classname=\"rampart.gates\" name=\"" << escape_markup(g.gate.name) << "\">";
    if (!g.passed) {
      x << "\n      <failure message=\"" << escape_markup(text) << "\" type=\"gate\">"
        << escape_markup(text) << "</failure>\n    ";
    } else {
      x << "<system-out>" << escape_markup(text) << "</system-out>";
    }
    x << "</testcase>\n";
  }
  x << "  </testsuite>\n";
  x << "  <testsuite name=\"rampart.sanity\" tests=\"" << ev.sanity.size() << "\" failures=\""
    << sanity_failures << "\" errors=\"0\">\n";
  for (const auto& c : ev.sanity) {
    x << "    <testcase classname=\"rampart.sanity\" name=\"" << escape_markup(c.id) << "\">";
    if (c.flagged && ev.strict) {
      x << "\n      <failure message=\"" << escape_markup(c.message) << "\" type=\"sanity\">"
        << escape_markup(c.message) << "</failure>\n    ";
    } else {
      x << "<system-out>" << (c.flagged ? "WARNING: " : "") << escape_markup(c.message)
        << "</system-out>";
    }
    x << "</testcase>\n";
  }
  x << "  </testsuite>\n</testsuites>\n";
  return x.str();
}

}  // namespace rampart::eval
