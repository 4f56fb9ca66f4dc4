#include "base/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace tessera {

void SetLogLevel(const std::string& level) {
  // stdout carries a command's output (and its --json); messages go to stderr.
  static const bool on_stderr = [] {
    spdlog::set_default_logger(spdlog::stderr_color_mt("tessera"));
    return true;
  }();
  (void)on_stderr;
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace tessera
