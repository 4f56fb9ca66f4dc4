// The archive part of the console's API (docs/api.md, "Archive"): search, a message's view
// with its HTML made safe, EML and attachment downloads, restore to a mailbox, and retention
// (rules, legal holds, destruction batches with a second person's approval).
//
// What a console account may do here is the archive's decision once the archive has roles
// (archive/access.hpp): the account is resolved as the archive user of the same name.
// Before that, the console's role decides: admin, auditor and records act as their archive
// namesakes; clerks and operators have no access (a clerk has no addresses until granted).
// Every search, view, download and change, and every refusal, is in the audit log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "archive/access.hpp"
#include "archive/message_store.hpp"
#include "server/console_call.hpp"

namespace tessera::server {

struct ArchiveApiOptions {
  uint64_t max_part_bytes = uint64_t{32} << 20;       // larger messages are read in pieces
  std::string restore_relay = "smtp://127.0.0.1:25";  // where restored mail is re-sent
};

class ArchiveApi {
 public:
  ArchiveApi(std::filesystem::path home, ArchiveApiOptions options);
  // A call under /api/v1/archive/.
  ApiResponse Handle(const ApiCall& call);

 private:
  ApiResponse Search(const ApiCall& call);
  ApiResponse Message(const ApiCall& call, int64_t id);
  ApiResponse Restore(const ApiCall& call, int64_t id);
  // Whether the account may restore message `id`, and its own addresses (a clerk's).
  ApiResponse RestoreCheck(const ApiCall& call, int64_t id);
  ApiResponse Retention(const ApiCall& call);
  // NotFound (recorded) when `who` may not read message `id`, or it is not there.
  Status MayRead(const ApiCall& call, archive::MessageStore& store, const archive::Principal& who,
                 int64_t id, const std::string& action);

  std::filesystem::path home_;
  ArchiveApiOptions options_;
};

// Who the call's account is to the archive, or PermissionDenied (recorded as `action` on
// `target`) when they may not do `permission` there.
Result<archive::Principal> ArchivePrincipal(const ApiCall& call, archive::MessageStore& store,
                                            archive::Permission permission,
                                            const std::string& action, const std::string& target);

}  // namespace tessera::server
