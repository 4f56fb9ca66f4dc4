// Retention under the Archives Act (檔案法) and the rules on agencies' retention periods
// and destruction (機關檔案保存年限及銷毀辦法): how long each message is kept, what holds it
// longer, and the one way mail ever leaves the archive — a destruction batch.
//
// - A *retention class* is permanent (永久) or 30, 25, 20, 15, 10, 5, 3 or 1 years,
//   counted from the message's date (its Date header, else when it was archived).
// - *Rules* assign classes: by sender, recipient, folder or search query. When several
//   rules match a message the longest class wins (no rule can shorten what another
//   requires); a message no rule matches has the default class, permanent unless an
//   operator sets another.
// - *Legal holds* (by the same criteria, or by message ids) suspend expiry: a held
//   message is never listed for destruction, nor destroyed, until every hold on it is
//   released.
// - *Destruction* happens only through a batch: Propose() lists the expired messages
//   that no hold keeps (the destruction list, 銷毀目錄); a second person Approve()s it (or
//   Reject()s it); Purge() then destroys the listed messages that are still expired and
//   not held at that moment, leaving a tombstone in the store's chain (message_store.hpp).
//
// Rules and holds that use a search query or a sender/recipient are answered by the
// search index, so evaluation refuses to run while the index is behind the store (a
// message not yet indexed could escape a longer class or a hold). Recording who did what
// in the audit log is the caller's job (the CLI and the server do it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "archive/message_store.hpp"
#include "base/status.hpp"

namespace tessera::archive {

class SearchIndex;

// Years, or kPermanent.
constexpr int kPermanent = 0;
// "permanent", "永久", or one of 30 25 20 15 10 5 3 1 (with or without "y"/"年").
Result<int> ParseRetentionClass(std::string_view text);
std::string RetentionClassName(int years);  // "permanent", "10 years"
// "12,15,40" to message ids; InvalidArgument naming the part that is not one.
Result<std::vector<int64_t>> ParseMessageIds(const std::string& text);

// What a rule or a hold applies to. Exactly one of these kinds:
//   sender     glob over the sender's address (From and envelope sender), e.g. *@ntbt.gov.tw
//   recipient  glob over any recipient's address (To, Cc and envelope recipients, Bcc too)
//   folder     glob over a delivery's folder, e.g. 公文/*
//   query      a search query (search_index.hpp), e.g. "國稅局 after:2020-01-01"
//   messages   a list of message ids (holds only)
struct Criterion {
  std::string kind;
  std::string pattern;               // for all kinds but messages
  std::vector<int64_t> message_ids;  // for messages
  std::string Describe() const;      // "sender *@ntbt.gov.tw"
};

struct RetentionRule {
  int64_t id = 0;
  Criterion criterion;
  int years = kPermanent;
  std::string created_by;
  int64_t created_at = 0;
};

struct LegalHold {
  int64_t id = 0;
  std::string name, reason;
  Criterion criterion;
  std::string created_by;
  int64_t created_at = 0;
  std::optional<int64_t> released_at;
  std::string released_by;
};

// One message's retention as the rules stand now.
struct MessageRetention {
  int64_t message = 0;
  int years = kPermanent;
  std::string assigned_by;         // "rule 3 (sender *@x)" or "default"
  int64_t starts = 0;              // the message's date, Unix seconds
  std::optional<int64_t> expires;  // none when permanent
  std::vector<int64_t> holds;      // active holds on it
};

// An entry of a destruction list: the message as it was when listed. The list outlives
// the messages (the catalogue of what was destroyed is itself a record to keep).
struct DestructionItem {
  int64_t message = 0;
  std::string sha256_hex, message_id, subject, from;
  std::optional<int64_t> date;
  uint64_t size = 0;
  int years = kPermanent;
  std::string assigned_by;
  int64_t expired_at = 0;
  std::string outcome;  // "" until purged; then "destroyed" or "kept: <why>"
};

struct DestructionBatch {
  int64_t id = 0;
  std::string state;  // "proposed", "approved", "rejected", "purged"
  std::string proposed_by, approved_by, rejected_by, purged_by, note, reason;
  int64_t proposed_at = 0, decided_at = 0, purged_at = 0;
  std::vector<DestructionItem> items;
};

struct PurgeReport {
  uint64_t destroyed = 0;
  uint64_t kept = 0;  // held or no longer expired since the batch was approved
};

class Retention {
 public:
  // Keeps its tables in the store's database, creating them on first use. `index` answers
  // the query, sender and recipient criteria; it must be caught up with `store`.
  static Result<std::unique_ptr<Retention>> Open(MessageStore& store, SearchIndex& index);
  ~Retention();

  Status SetDefaultClass(int years);
  Result<int> DefaultClass();

  Result<int64_t> AddRule(const Criterion& criterion, int years, const std::string& actor);
  Status RemoveRule(int64_t id);
  Result<std::vector<RetentionRule>> Rules();

  Result<int64_t> AddHold(const std::string& name, const Criterion& criterion,
                          const std::string& reason, const std::string& actor);
  Status ReleaseHold(int64_t id, const std::string& actor);
  Result<std::vector<LegalHold>> Holds(bool include_released);
  // The ids of the messages a hold covers now.
  Result<std::vector<int64_t>> HeldBy(int64_t hold);

  // Class, expiry and holds of the given messages (all when empty).
  Result<std::vector<MessageRetention>> Evaluate(const std::vector<int64_t>& messages = {});

  // Lists every message expired at `now` (Unix seconds) that no hold keeps and no open
  // batch already lists, as a new batch; FailedPrecondition when there is none.
  Result<DestructionBatch> Propose(int64_t now, const std::string& actor, const std::string& note);
  // Approval must come from someone other than the proposer (PermissionDenied otherwise).
  Status Approve(int64_t batch, const std::string& actor);
  Status Reject(int64_t batch, const std::string& actor, const std::string& reason);
  // Destroys what an approved batch lists, checking each message again first: one held,
  // or no longer expired under the rules as they are now (a longer class added since),
  // is kept and its entry says why. Running it again on a purged batch finishes what a
  // crash interrupted.
  Result<PurgeReport> Purge(int64_t batch, int64_t now, const std::string& actor);
  Result<DestructionBatch> Batch(int64_t id);
  Result<std::vector<DestructionBatch>> Batches();  // without their items, newest first

 private:
  struct Impl;
  explicit Retention(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Adds `years` calendar years to a Unix time (UTC); 29 February becomes 28 February.
int64_t AddYears(int64_t unix_seconds, int years);

}  // namespace tessera::archive
