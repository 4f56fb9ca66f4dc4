// A consistent copy of the archive, for a backup tool (the vault) to take, and the way
// back from such a copy to a working archive.
//
// The copy ("staging") is one directory: archive/archive.db copied inside one read
// transaction (so it is consistent however busy the archive is), the archive's key files,
// archive/messages/... hard links to exactly the message objects that copy names (objects
// are immutable and named by their hash, so a link is a snapshot of one; a message
// archived after the copy is simply not in it, and one destroyed after it keeps its
// link), and audit.db and audit.key, the audit log that goes with the mail. The search
// index is left out: it is rebuilt from the store.
#pragma once

#include <cstdint>
#include <filesystem>

#include "archive/message_store.hpp"
#include "base/status.hpp"

namespace tessera::archive {

struct StagedArchive {
  uint64_t messages = 0;  // message objects in the copy
  uint64_t bytes = 0;     // their size, with the databases
};

// Stages the archive of `home` (<home>/archive, <home>/audit.*) into `staging`, which is
// replaced. `staging` must be on the same file system as `home` (objects are hard-linked;
// where they cannot be, they are copied).
Result<StagedArchive> StageArchive(const std::filesystem::path& home,
                                   const std::filesystem::path& staging);

// Moves a staged archive (as StageArchive made it, e.g. restored from the vault) into
// `home`, then checks it end to end (the chain, every record, every message). Refuses
// (AlreadyExists) when `home` already holds an archive or an audit log: it never
// overwrites one.
Result<VerifyReport> InstallStagedArchive(const std::filesystem::path& staged,
                                          const std::filesystem::path& home);

}  // namespace tessera::archive
