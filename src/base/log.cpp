#include "base/log.hpp"

namespace tessera {

void SetLogLevel(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace tessera
