// Recording an action in the installation's audit log (guard/audit_log.hpp, in
// <home>/audit.db) before it is done: what the archive commands, the exchange roles and
// `tessera serve` share.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "base/status.hpp"
#include "guard/audit_log.hpp"

namespace tessera::server {

// Appends (current actor, action, target, outcome) to the audit log under `home`. An
// error when it cannot, saying that the action is refused: the caller must then not do it.
Status RecordAudit(const std::filesystem::path& home, const std::string& action,
                   const std::string& target, const std::string& outcome);

// Signs a checkpoint of the audit log under `home` (with its checkpoint key, made on first
// use) when records were added since the last checkpoint, its own record aside, and writes
// it also to `copy_dir`/checkpoint-<seq>.json when `copy_dir` is not empty (a directory
// kept apart: offline media, a share the SOC reads). nullopt when nothing was added.
Result<std::optional<guard::AuditCheckpoint>> CheckpointIfGrown(
    const std::filesystem::path& home, const std::filesystem::path& copy_dir);

}  // namespace tessera::server
