#include "security/model_warnings.h"

#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include "security/sandbox_probe.h"

namespace rampart::security {
namespace {

class EscapingWarningHandler : public c10::WarningHandler {
 public:
#if TORCH_VERSION_MAJOR >= 2
  void process(const c10::Warning& warning) override { log(warning.msg()); }
#else
  void process(const c10::SourceLocation&, const std::string& msg, const bool) override {
    log(msg);
  }
#endif

 private:
  static void log(const std::string& msg) {
    spdlog::warn("libtorch: {}", escape_untrusted(msg.substr(0, 1000)));
  }
};

}  // namespace

void route_libtorch_warnings_to_log() {
  static EscapingWarningHandler handler;
#if TORCH_VERSION_MAJOR >= 2
  c10::WarningUtils::set_warning_handler(&handler);  // 2.x: c10::Warning became a class
#else
  c10::Warning::set_warning_handler(&handler);
#endif
}

}  // namespace rampart::security
