// Who may do what with archived mail. People hold one role each:
//
//   clerk    searches, views, exports and restores their own mail only: messages one of
//            their addresses sent (From or envelope sender) or received (To, Cc, Bcc or
//            envelope recipient)
//   auditor  searches, views and exports all mail, and reads the audit log; changes
//            nothing and re-sends nothing
//   records  the records officer (檔案管理人員): reads all mail, and keeps retention —
//            rules, holds, destruction batches
//   admin    everything, and grants roles
//
// Roles live in the archive's database (so they travel with its backups). Until the first
// role is granted, access control is off: whoever can open the archive's files runs it
// (a single operator). Enforcement and recording denials in the audit log are the
// caller's (the CLI, the server); this module says who is who and what they may do.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/message_store.hpp"
#include "base/status.hpp"

namespace tessera::archive {

class SearchIndex;

enum class Role { kClerk, kAuditor, kRecords, kAdmin };
Result<Role> ParseRole(std::string_view name);
std::string RoleName(Role role);

enum class Permission {
  kReadOwnMail,      // search, show, export one's own mail
  kReadAllMail,      // the same for all mail
  kRestoreMail,      // re-deliver (of the mail one may read)
  kImportMail,       // import, journal
  kReadRetention,    // rules, holds, status, batches
  kChangeRetention,  // rules, holds, propose, approve, reject, purge
  kReadAuditLog,
  kAdminister,  // roles, backups, recovery, volumes
};
bool Allows(Role role, Permission permission);

struct Principal {
  std::string name;  // login name
  Role role = Role::kAdmin;
  std::vector<std::string> addresses;  // lower case
  bool access_control_on = false;      // false: no role granted yet, everyone is admin
};

class AccessRegistry {
 public:
  static Result<std::unique_ptr<AccessRegistry>> Open(MessageStore& store);
  ~AccessRegistry();

  // Gives `name` a role (replacing any other) and, for clerks, the addresses that are
  // theirs (at least one).
  Status Grant(const std::string& name, Role role, const std::vector<std::string>& addresses,
               const std::string& granted_by);
  Status Revoke(const std::string& name);
  Result<std::vector<Principal>> Users();
  // Who `name` is: their role, or admin when access control is off; PermissionDenied
  // (saying how to get a role) when it is on and they hold none.
  Result<Principal> Resolve(const std::string& name);

 private:
  explicit AccessRegistry(Database& db) : db_(db) {}
  Database& db_;
};

// Whether one of `addresses` sent or received the message (exactly, case aside).
Result<bool> Involves(MessageStore& store, SearchIndex& index, int64_t message,
                      const std::vector<std::string>& addresses);
// Every message one of `addresses` sent or received, in id order. `index` must be caught up.
Result<std::vector<int64_t>> MessagesOf(MessageStore& store, SearchIndex& index,
                                        const std::vector<std::string>& addresses);

}  // namespace tessera::archive
