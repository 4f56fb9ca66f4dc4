#include "server/audit.hpp"

#include "base/files.hpp"

namespace tessera::server {

Status RecordAudit(const std::filesystem::path& home, const std::string& action,
                   const std::string& target, const std::string& outcome) {
  TESSERA_ASSIGN_OR_RETURN(auto log, guard::AuditLog::Open(home));
  Status st = log->Append(guard::CurrentActor(), action, target, outcome);
  if (!st.ok())
    return Status(st.code(),
                  "the audit log could not record this " + action + " (" + st.message() +
                      "); searches, views, exports and restores are refused until it can");
  return st;
}

Result<std::optional<guard::AuditCheckpoint>> CheckpointIfGrown(
    const std::filesystem::path& home, const std::filesystem::path& copy_dir) {
  TESSERA_ASSIGN_OR_RETURN(auto log, guard::AuditLog::Open(home));
  TESSERA_ASSIGN_OR_RETURN(int64_t head, log->HeadSeq());
  TESSERA_ASSIGN_OR_RETURN(std::vector<guard::AuditCheckpoint> signed_before, log->Checkpoints());
  // A checkpoint of record `seq` is followed by its own record, seq + 1.
  if (!signed_before.empty() && head <= signed_before.back().seq + 1)
    return std::optional<guard::AuditCheckpoint>();
  TESSERA_ASSIGN_OR_RETURN(crypto::SigningKey key,
                           guard::AuditLog::LoadOrCreateCheckpointKey(home));
  TESSERA_ASSIGN_OR_RETURN(guard::AuditCheckpoint c, log->Checkpoint(key));
  if (!copy_dir.empty()) {
    TESSERA_RETURN_IF_ERROR(MakeDirs(copy_dir, 0755));
    const std::filesystem::path copy = copy_dir / ("checkpoint-" + std::to_string(c.seq) + ".json");
    if (Status st = WriteFileAtomic(copy, c.ToJson() + "\n", 0644); !st.ok())
      return Status(st.code(), "checkpoint of record " + std::to_string(c.seq) +
                                   " signed and recorded, but its copy kept apart could not be "
                                   "written: " +
                                   st.message());
  }
  return std::optional<guard::AuditCheckpoint>(std::move(c));
}

}  // namespace tessera::server
