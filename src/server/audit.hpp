// Recording an action in the installation's audit log (guard/audit_log.hpp, in
// <home>/audit.db) before it is done: what the archive commands, the exchange roles and
// `tessera serve` share.
#pragma once

#include <filesystem>
#include <string>

#include "base/status.hpp"

namespace tessera::server {

// Appends (current actor, action, target, outcome) to the audit log under `home`. An
// error when it cannot, saying that the action is refused: the caller must then not do it.
Status RecordAudit(const std::filesystem::path& home, const std::string& action,
                   const std::string& target, const std::string& outcome);

}  // namespace tessera::server
