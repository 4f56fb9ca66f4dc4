// `tessera serve`: the daemon roles of one installation, wired together. Today that is
// the archive role: the journaling listener (LMTP and SMTP) storing into the message
// store under the home directory. With no settings it runs on ./var, listening on
// 127.0.0.1 only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "archive/journal.hpp"
#include "base/status.hpp"

namespace tessera::server {

struct ArchiveRoleConfig {
  std::string lmtp = "127.0.0.1:10024";  // "" turns the LMTP listener off
  std::string smtp = "127.0.0.1:10025";  // "" turns the SMTP listener off
  std::string hostname;                  // in banners; default: this host's name
  uint64_t max_message_bytes = uint64_t{64} << 20;
  archive::JournalOptions journal;
};

struct ServeConfig {
  std::filesystem::path home = "var";
  ArchiveRoleConfig archive;
};

// "127.0.0.1:10024", "[::1]:24" or ":25" (all IPv4 interfaces) into address and port;
// InvalidArgument naming `text` otherwise.
Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& text);

// Opens every role's state, binds every listener, calls `ready` with what an operator
// needs to know (where the data is, what listens where), and serves until SIGINT or
// SIGTERM. Fails before serving anything if a listener cannot be bound or the state
// cannot be opened.
Status Serve(const ServeConfig& config, const std::function<void(const std::string&)>& ready);

}  // namespace tessera::server
