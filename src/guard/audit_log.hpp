// The hash-chained audit log: who did what, when, to what — every search, view, export,
// restore and deletion of archived mail, and later the other roles' sensitive actions.
// Records are only ever appended (the table refuses UPDATE and DELETE), and each carries
// a keyed link (HMAC-SHA-256 under <home>/audit.key) over its content and the previous
// link, so Verify() detects a record that was edited, removed or reordered. Removing the
// newest records leaves a shorter valid chain: compare the head Verify() reports with one
// kept apart (signed checkpoints are issue #5's).
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <filesystem>
#include <memory>

#include <optional>
#include <string>
#include <vector>

#include "base/sqlite.hpp"
#include "base/status.hpp"

namespace tessera::guard {

struct AuditRecord {
  int64_t seq = 0;
  int64_t at = 0;       // Unix seconds
  std::string actor;    // who: see CurrentActor()
  std::string action;   // e.g. "archive.search"
  std::string target;   // what it was done to: a query, message ids, a path
  std::string outcome;  // e.g. "12 matches", "denied: ..."
};

struct AuditVerifyReport {
  uint64_t records = 0;
  std::vector<std::string> problems;  // empty when the chain holds
  std::string head;                   // the last link, hex
};

class AuditLog {
 public:
  // Opens (creating on first use) <dir>/audit.db and <dir>/audit.key.
  static Result<std::unique_ptr<AuditLog>> Open(const std::filesystem::path& dir);
  ~AuditLog();

  // Appends and commits one record (durable when this returns OK).
  Status Append(const std::string& actor, const std::string& action, const std::string& target,
                const std::string& outcome);
  // A transaction the appends made until its Commit join: one commit for many records,
  // none of them durable before it.
  Result<Transaction> BeginBatch() { return Transaction::Begin(*db_); }
  // Records at or after `since` (Unix seconds), oldest first.
  Result<std::vector<AuditRecord>> Read(std::optional<int64_t> since);
  Result<AuditVerifyReport> Verify();

 private:
  struct Key;
  AuditLog(std::unique_ptr<Database> db, std::unique_ptr<Key> key);
  std::unique_ptr<Database> db_;
  std::unique_ptr<Key> key_;
};

// The person running this process, as the audit log names them: the login name and uid,
// and the sudo user behind root when there is one ("alice (uid 1000)", "root (uid 0) via
// sudo from bob").
std::string CurrentActor();
// The person behind this process, for deciding what they may do: the sudo user behind
// root when there is one, else the login name. Empty when run by the owner of the data
// directly (root or the login given), who is its administrator.
std::string CurrentPerson(uid_t data_owner);

}  // namespace tessera::guard
