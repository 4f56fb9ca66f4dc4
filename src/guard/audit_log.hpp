// The hash-chained audit log: who did what, when, to what — every search, view, export,
// restore and deletion of archived mail, and later the other roles' sensitive actions.
// Records are only ever appended (the table refuses UPDATE and DELETE), and each carries
// a keyed link (HMAC-SHA-256 under <home>/audit.key) over its content and the previous
// link, so Verify() detects a record that was edited, removed or reordered. Removing the
// newest records leaves a shorter valid chain, and whoever holds the HMAC key can write a
// new one: signed checkpoints (below), kept apart from the host, show both.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <filesystem>
#include <memory>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/sqlite.hpp"
#include "base/status.hpp"
#include "crypto/signature.hpp"

namespace tessera::guard {

struct AuditRecord {
  int64_t seq = 0;
  int64_t at = 0;       // Unix seconds
  std::string actor;    // who: see CurrentActor()
  std::string action;   // e.g. "archive.search"
  std::string target;   // what it was done to: a query, message ids, a path
  std::string outcome;  // e.g. "12 matches", "denied: ..."
};

// A signed statement that the log's record `seq` ends in link `head`, made with an
// Ed25519 key (not the HMAC key) and recorded in the log itself, so it also reaches the
// SOC with the records. A copy kept apart (offline media, the SOC) and the public key
// checked against a copy kept apart show a log cut back below it, or rewritten.
struct AuditCheckpoint {
  int64_t seq = 0;        // 0 when the log was empty
  std::string head;       // the link of record `seq`, hex (64 zeros for an empty log)
  int64_t at = 0;         // Unix seconds
  std::string key;        // fingerprint of the signing key (crypto::PublicKey::Fingerprint)
  std::string signature;  // Ed25519 over SignedText(), hex

  std::string SignedText() const;  // "tessera-audit-checkpoint\n<seq>\n<head>\n<at>\n"
  std::string ToJson() const;
  // Corruption naming what is wrong when `text` is not a checkpoint ToJson wrote.
  static Result<AuditCheckpoint> FromJson(std::string_view text);
};

struct AuditVerifyReport {
  uint64_t records = 0;
  std::vector<std::string> problems;  // empty when the chain and every checkpoint hold
  std::string head;                   // the last link, hex
  uint64_t checkpoints = 0;           // checkpoints checked (recorded and given)
};

// What Verify checks checkpoints against: the public key they must be signed with (a
// copy kept apart), and checkpoints kept apart, besides those the log records.
struct CheckpointTrust {
  std::optional<crypto::PublicKey> key;  // none: the key beside the log (weaker: see guide)
  std::vector<AuditCheckpoint> kept_apart;
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
  // The sequence number of the newest record (0 when the log is empty).
  Result<int64_t> HeadSeq();
  // Checks the chain, and every checkpoint the log records or `trust` gives: its
  // signature under the trusted key, and that the log still holds its record with its
  // link. A checkpoint beyond the log's end means records were removed from the end.
  Result<AuditVerifyReport> Verify(const CheckpointTrust& trust = {});

  // Signs a checkpoint of the log as it is now with `key`, records it (a
  // "guard.audit-checkpoint" record follows it) and returns it.
  Result<AuditCheckpoint> Checkpoint(const crypto::SigningKey& key);
  // The checkpoints the log records, oldest first.
  Result<std::vector<AuditCheckpoint>> Checkpoints();
  // Where the checkpoint signing key of the log in `dir` is kept, and its public half.
  static std::filesystem::path CheckpointKeyPath(const std::filesystem::path& dir);
  static std::filesystem::path CheckpointPublicKeyPath(const std::filesystem::path& dir);
  // That key, made on first use with its public half written beside it (for copying
  // elsewhere).
  static Result<crypto::SigningKey> LoadOrCreateCheckpointKey(const std::filesystem::path& dir);

 private:
  struct Key;
  AuditLog(std::filesystem::path dir, std::unique_ptr<Database> db, std::unique_ptr<Key> key);
  std::filesystem::path dir_;
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
