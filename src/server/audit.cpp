#include "server/audit.hpp"

#include "guard/audit_log.hpp"

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

}  // namespace tessera::server
