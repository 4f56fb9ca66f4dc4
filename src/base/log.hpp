// Logging: one spdlog logger for the whole program, to stderr. Never log a secret.
#pragma once

#include <spdlog/spdlog.h>

namespace tessera {

// Sets the level from "trace".."off"; the default is "warn" for the CLI.
void SetLogLevel(const std::string& level);

}  // namespace tessera
