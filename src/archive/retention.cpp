#include "archive/retention.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "archive/search_index.hpp"
#include "base/bytes.hpp"
#include "base/json_fields.hpp"

namespace tessera::archive {

namespace {

constexpr int kClasses[] = {30, 25, 20, 15, 10, 5, 3, 1};
constexpr char kDefaultClassKey[] = "retention_default";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS retention_rules(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  pattern TEXT NOT NULL,
  years INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS legal_holds(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  pattern TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  released_by TEXT NOT NULL DEFAULT '',
  released_at INTEGER);
CREATE TABLE IF NOT EXISTS destruction_batches(
  id INTEGER PRIMARY KEY,
  state TEXT NOT NULL,
  note TEXT NOT NULL,
  proposed_by TEXT NOT NULL,
  proposed_at INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_at INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  purged_by TEXT NOT NULL DEFAULT '',
  purged_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS destruction_items(
  batch INTEGER NOT NULL REFERENCES destruction_batches(id),
  message INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  message_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  from_addr TEXT NOT NULL,
  date INTEGER,
  size INTEGER NOT NULL,
  years INTEGER NOT NULL,
  assigned_by TEXT NOT NULL,
  expired_at INTEGER NOT NULL,
  outcome TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(batch, message));
)sql";

int64_t Now() {
  return static_cast<int64_t>(std::time(nullptr));
}

bool Glob(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), FNM_CASEFOLD) == 0;
}

// What the database says of a message, for matching criteria.
struct Facts {
  int64_t starts = 0;
  std::vector<std::string> senders, recipients, folders;
};

std::string IdsText(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

Status CheckCriterion(const Criterion& c) {
  if (c.kind == "messages") {
    if (c.message_ids.empty()) return Status::InvalidArgument("a hold by messages needs their ids");
    return Status::Ok();
  }
  if (c.kind != "sender" && c.kind != "recipient" && c.kind != "folder" && c.kind != "query")
    return Status::InvalidArgument("unknown criterion '" + c.kind +
                                   "' (known: sender, recipient, folder, query, messages)");
  if (c.pattern.empty()) return Status::InvalidArgument("the " + c.kind + " criterion is empty");
  if (c.kind == "query") return ParseSearchQuery(c.pattern).status();
  return Status::Ok();
}

Criterion ReadCriterion(const std::string& kind, const std::string& pattern) {
  Criterion c;
  c.kind = kind;
  if (kind == "messages") {
    auto ids = ParseMessageIds(pattern);
    if (ids.ok()) c.message_ids = *ids;
  } else {
    c.pattern = pattern;
  }
  return c;
}

std::string StoredPattern(const Criterion& c) {
  return c.kind == "messages" ? IdsText(c.message_ids) : c.pattern;
}

}  // namespace

Result<std::vector<int64_t>> ParseMessageIds(const std::string& text) {
  std::vector<int64_t> ids;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string part = text.substr(at, comma - at);
    char* end = nullptr;
    const long long id = std::strtoll(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || id <= 0)
      return Status::InvalidArgument("'" + part + "' is not a message id");
    ids.push_back(id);
    at = comma + 1;
  }
  return ids;
}

Result<int> ParseRetentionClass(std::string_view text) {
  std::string t(text);
  if (t == "permanent" || t == "永久" || t == "0") return kPermanent;
  for (const char* suffix : {"years", "year", "y", "年"}) {
    const std::string s(suffix);
    if (t.size() > s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0) {
      t.resize(t.size() - s.size());
      break;
    }
  }
  for (int years : kClasses)
    if (t == std::to_string(years)) return years;
  return Status::InvalidArgument("'" + std::string(text) +
                                 "' is not a retention class (permanent/永久, 30, 25, 20, 15, "
                                 "10, 5, 3 or 1 years)");
}

std::string RetentionClassName(int years) {
  if (years == kPermanent) return "permanent";
  return std::to_string(years) + (years == 1 ? " year" : " years");
}

std::string Criterion::Describe() const {
  return kind + " " + StoredPattern(*this);
}

int64_t AddYears(int64_t unix_seconds, int years) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  tm.tm_year += years;
  if (tm.tm_mon == 1 && tm.tm_mday == 29) {
    const int y = tm.tm_year + 1900;
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (!leap) tm.tm_mday = 28;
  }
  return static_cast<int64_t>(::timegm(&tm));
}

struct Retention::Impl {
  MessageStore& store;
  SearchIndex& index;
  Database& db() { return store.database(); }

  // The messages a criterion covers among `facts`.
  Result<std::set<int64_t>> Matching(const Criterion& c, const std::map<int64_t, Facts>& facts) {
    std::set<int64_t> out;
    if (c.kind == "messages") {
      for (int64_t id : c.message_ids)
        if (facts.count(id)) out.insert(id);
      return out;
    }
    if (c.kind == "query") {
      TESSERA_ASSIGN_OR_RETURN(SearchQuery q, ParseSearchQuery(c.pattern));
      TESSERA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, index.AllMatches(q));
      for (int64_t id : ids)
        if (facts.count(id)) out.insert(id);
      return out;
    }
    for (const auto& [id, f] : facts) {
      const std::vector<std::string>& values = c.kind == "sender"      ? f.senders
                                               : c.kind == "recipient" ? f.recipients
                                                                       : f.folders;
      bool hit = std::any_of(values.begin(), values.end(),
                             [&](const std::string& v) { return Glob(c.pattern, v); });
      if (!hit && c.kind == "recipient") {
        // To and Cc (and a Bcc header) are in the index, not in the records.
        auto summary = index.Summary(id);
        if (summary.ok())
          hit = std::any_of(summary->recipients.begin(), summary->recipients.end(),
                            [&](const std::string& v) { return Glob(c.pattern, v); });
        else if (summary.status().code() != StatusCode::kNotFound)
          return summary.status();
      }
      if (hit) out.insert(id);
    }
    return out;
  }

  Result<std::map<int64_t, Facts>> LoadFacts(const std::vector<int64_t>& only) {
    std::map<int64_t, Facts> facts;
    std::set<int64_t> wanted(only.begin(), only.end());
    TESSERA_ASSIGN_OR_RETURN(Statement q,
                             db().Prepare("SELECT id, from_addr, date, first_seen FROM messages"));
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      const int64_t id = q.Int(0);
      if (!wanted.empty() && !wanted.count(id)) continue;
      Facts& f = facts[id];
      f.starts = q.IsNull(2) ? q.Int(3) : q.Int(2);
      if (std::string from = AddressKey(q.Text(1)); !from.empty()) f.senders.push_back(from);
    }
    TESSERA_ASSIGN_OR_RETURN(
        Statement d,
        db().Prepare("SELECT message, folder, envelope_from, recipients FROM deliveries"));
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, d.Step());
      if (!row) break;
      auto it = facts.find(d.Int(0));
      if (it == facts.end()) continue;
      Facts& f = it->second;
      if (std::string folder = d.Text(1); !folder.empty()) f.folders.push_back(folder);
      if (std::string from = d.Text(2); !from.empty()) f.senders.push_back(AddressKey(from));
      auto list = nlohmann::json::parse(d.Text(3), nullptr, false);
      if (list.is_array())
        for (const auto& r : list)
          if (r.is_string()) f.recipients.push_back(AddressKey(r.get<std::string>()));
    }
    return facts;
  }

  Result<std::vector<RetentionRule>> Rules() {
    TESSERA_ASSIGN_OR_RETURN(
        Statement q, db().Prepare("SELECT id, kind, pattern, years, created_by, created_at FROM "
                                  "retention_rules ORDER BY id"));
    std::vector<RetentionRule> out;
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      RetentionRule r;
      r.id = q.Int(0);
      r.criterion = ReadCriterion(q.Text(1), q.Text(2));
      r.years = static_cast<int>(q.Int(3));
      r.created_by = q.Text(4);
      r.created_at = q.Int(5);
      out.push_back(std::move(r));
    }
    return out;
  }

  Result<std::vector<LegalHold>> Holds(bool include_released) {
    TESSERA_ASSIGN_OR_RETURN(
        Statement q,
        db().Prepare(std::string("SELECT id, name, kind, pattern, reason, created_by, created_at, "
                                 "released_by, released_at FROM legal_holds") +
                     (include_released ? "" : " WHERE released_at IS NULL") + " ORDER BY id"));
    std::vector<LegalHold> out;
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      LegalHold h;
      h.id = q.Int(0);
      h.name = q.Text(1);
      h.criterion = ReadCriterion(q.Text(2), q.Text(3));
      h.reason = q.Text(4);
      h.created_by = q.Text(5);
      h.created_at = q.Int(6);
      h.released_by = q.Text(7);
      if (!q.IsNull(8)) h.released_at = q.Int(8);
      out.push_back(std::move(h));
    }
    return out;
  }

  Result<int> DefaultClass() {
    TESSERA_ASSIGN_OR_RETURN(Statement q, db().Prepare("SELECT value FROM meta WHERE key=?"));
    q.Bind(1, std::string_view(kDefaultClassKey));
    TESSERA_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return kPermanent;
    return ParseRetentionClass(q.Text(0));
  }

  Result<std::vector<MessageRetention>> Evaluate(const std::vector<int64_t>& only) {
    // A criterion answered by an index that lags would let a message escape a longer
    // class or a hold.
    TESSERA_ASSIGN_OR_RETURN(bool behind, index.Behind(store));
    if (behind)
      return Status::FailedPrecondition(
          "the search index is behind the archive, and retention rules and holds are answered "
          "by it: update it first (any `tessera archive search` does, or a running `tessera "
          "serve` within seconds), then try again");
    TESSERA_ASSIGN_OR_RETURN(auto facts, LoadFacts(only));
    TESSERA_ASSIGN_OR_RETURN(int default_years, DefaultClass());
    std::map<int64_t, MessageRetention> result;
    for (const auto& [id, f] : facts) {
      MessageRetention& r = result[id];
      r.message = id;
      r.starts = f.starts;
      r.years = default_years;
      r.assigned_by = "default";
    }
    // The longest class of the rules that match wins; permanent is the longest.
    auto longer = [](int a, int b) {
      return a == kPermanent ? b != kPermanent : b != kPermanent && a > b;
    };
    std::map<int64_t, bool> ruled;
    TESSERA_ASSIGN_OR_RETURN(std::vector<RetentionRule> rules, Rules());
    for (const RetentionRule& rule : rules) {
      TESSERA_ASSIGN_OR_RETURN(std::set<int64_t> hits, Matching(rule.criterion, facts));
      for (int64_t id : hits) {
        MessageRetention& r = result[id];
        if (!ruled[id] || longer(rule.years, r.years)) {
          r.years = rule.years;
          r.assigned_by =
              "rule " + std::to_string(rule.id) + " (" + rule.criterion.Describe() + ")";
        }
        ruled[id] = true;
      }
    }
    TESSERA_ASSIGN_OR_RETURN(std::vector<LegalHold> holds, Holds(false));
    for (const LegalHold& hold : holds) {
      TESSERA_ASSIGN_OR_RETURN(std::set<int64_t> hits, Matching(hold.criterion, facts));
      for (int64_t id : hits) result[id].holds.push_back(hold.id);
    }
    std::vector<MessageRetention> out;
    for (auto& [id, r] : result) {
      if (r.years != kPermanent) r.expires = AddYears(r.starts, r.years);
      out.push_back(std::move(r));
    }
    return out;
  }

  Result<DestructionBatch> Batch(int64_t id, bool with_items) {
    TESSERA_ASSIGN_OR_RETURN(
        Statement q, db().Prepare("SELECT id, state, note, proposed_by, proposed_at, decided_by, "
                                  "decided_at, reason, purged_by, purged_at FROM "
                                  "destruction_batches WHERE id=?"));
    q.Bind(1, id);
    TESSERA_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return Status::NotFound("there is no destruction batch " + std::to_string(id));
    DestructionBatch b;
    b.id = q.Int(0);
    b.state = q.Text(1);
    b.note = q.Text(2);
    b.proposed_by = q.Text(3);
    b.proposed_at = q.Int(4);
    (b.state == "rejected" ? b.rejected_by : b.approved_by) = q.Text(5);
    b.decided_at = q.Int(6);
    b.reason = q.Text(7);
    b.purged_by = q.Text(8);
    b.purged_at = q.Int(9);
    if (!with_items) return b;
    TESSERA_ASSIGN_OR_RETURN(
        Statement items,
        db().Prepare("SELECT message, sha256, message_id, subject, from_addr, date, size, years, "
                     "assigned_by, expired_at, outcome FROM destruction_items WHERE batch=? "
                     "ORDER BY message"));
    items.Bind(1, id);
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, items.Step());
      if (!row) break;
      DestructionItem i;
      i.message = items.Int(0);
      i.sha256_hex = items.Text(1);
      i.message_id = items.Text(2);
      i.subject = items.Text(3);
      i.from = items.Text(4);
      if (!items.IsNull(5)) i.date = items.Int(5);
      i.size = static_cast<uint64_t>(items.Int(6));
      i.years = static_cast<int>(items.Int(7));
      i.assigned_by = items.Text(8);
      i.expired_at = items.Int(9);
      i.outcome = items.Text(10);
      b.items.push_back(std::move(i));
    }
    return b;
  }

  Status SetItemOutcome(int64_t batch, int64_t message, const std::string& outcome) {
    TESSERA_ASSIGN_OR_RETURN(
        Statement q,
        db().Prepare("UPDATE destruction_items SET outcome=? WHERE batch=? AND message=?"));
    return q.Bind(1, outcome).Bind(2, batch).Bind(3, message).Run();
  }
};

Retention::Retention(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Retention::~Retention() = default;

Result<std::unique_ptr<Retention>> Retention::Open(MessageStore& store, SearchIndex& index) {
  TESSERA_RETURN_IF_ERROR(store.database().Exec(kSchema));
  return std::unique_ptr<Retention>(new Retention(std::make_unique<Impl>(Impl{store, index})));
}

Status Retention::SetDefaultClass(int years) {
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           impl_->db().Prepare("INSERT OR REPLACE INTO meta VALUES(?, ?)"));
  return q.Bind(1, std::string_view(kDefaultClassKey))
      .Bind(2, years == kPermanent ? std::string("permanent") : std::to_string(years))
      .Run();
}

Result<int> Retention::DefaultClass() {
  return impl_->DefaultClass();
}

Result<int64_t> Retention::AddRule(const Criterion& criterion, int years,
                                   const std::string& actor) {
  if (criterion.kind == "messages")
    return Status::InvalidArgument(
        "a retention rule applies by sender, recipient, folder or "
        "query; to keep chosen messages longer, place a hold");
  TESSERA_RETURN_IF_ERROR(CheckCriterion(criterion));
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           impl_->db().Prepare("INSERT INTO retention_rules(kind, pattern, years, "
                                               "created_by, created_at) VALUES(?,?,?,?,?)"));
  TESSERA_RETURN_IF_ERROR(q.Bind(1, criterion.kind)
                              .Bind(2, criterion.pattern)
                              .Bind(3, static_cast<int64_t>(years))
                              .Bind(4, actor)
                              .Bind(5, Now())
                              .Run());
  return impl_->db().LastInsertId();
}

Status Retention::RemoveRule(int64_t id) {
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           impl_->db().Prepare("DELETE FROM retention_rules WHERE id=?"));
  TESSERA_RETURN_IF_ERROR(q.Bind(1, id).Run());
  if (impl_->db().Changes() == 0)
    return Status::NotFound("there is no retention rule " + std::to_string(id));
  return Status::Ok();
}

Result<std::vector<RetentionRule>> Retention::Rules() {
  return impl_->Rules();
}

Result<int64_t> Retention::AddHold(const std::string& name, const Criterion& criterion,
                                   const std::string& reason, const std::string& actor) {
  TESSERA_RETURN_IF_ERROR(CheckCriterion(criterion));
  if (name.empty()) return Status::InvalidArgument("a legal hold needs a name");
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           impl_->db().Prepare("INSERT INTO legal_holds(name, kind, pattern, "
                                               "reason, created_by, created_at) "
                                               "VALUES(?,?,?,?,?,?)"));
  TESSERA_RETURN_IF_ERROR(q.Bind(1, name)
                              .Bind(2, criterion.kind)
                              .Bind(3, StoredPattern(criterion))
                              .Bind(4, reason)
                              .Bind(5, actor)
                              .Bind(6, Now())
                              .Run());
  return impl_->db().LastInsertId();
}

Status Retention::ReleaseHold(int64_t id, const std::string& actor) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, impl_->db().Prepare("UPDATE legal_holds SET released_by=?, released_at=? "
                                       "WHERE id=? AND released_at IS NULL"));
  TESSERA_RETURN_IF_ERROR(q.Bind(1, actor).Bind(2, Now()).Bind(3, id).Run());
  if (impl_->db().Changes() == 0)
    return Status::NotFound("there is no legal hold " + std::to_string(id) + " in force");
  return Status::Ok();
}

Result<std::vector<LegalHold>> Retention::Holds(bool include_released) {
  return impl_->Holds(include_released);
}

Result<std::vector<int64_t>> Retention::HeldBy(int64_t hold) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<LegalHold> holds, impl_->Holds(true));
  for (const LegalHold& h : holds) {
    if (h.id != hold) continue;
    if (h.released_at) return std::vector<int64_t>();
    TESSERA_ASSIGN_OR_RETURN(auto facts, impl_->LoadFacts({}));
    TESSERA_ASSIGN_OR_RETURN(std::set<int64_t> ids, impl_->Matching(h.criterion, facts));
    return std::vector<int64_t>(ids.begin(), ids.end());
  }
  return Status::NotFound("there is no legal hold " + std::to_string(hold));
}

Result<std::vector<MessageRetention>> Retention::Evaluate(const std::vector<int64_t>& messages) {
  return impl_->Evaluate(messages);
}

Result<DestructionBatch> Retention::Propose(int64_t now, const std::string& actor,
                                            const std::string& note) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<MessageRetention> all, impl_->Evaluate({}));
  std::set<int64_t> listed;  // in a batch not yet purged or rejected
  {
    TESSERA_ASSIGN_OR_RETURN(
        Statement q,
        impl_->db().Prepare("SELECT i.message FROM destruction_items i JOIN destruction_batches b "
                            "ON b.id=i.batch WHERE b.state IN ('proposed','approved')"));
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      listed.insert(q.Int(0));
    }
  }
  std::vector<const MessageRetention*> expired;
  for (const MessageRetention& r : all)
    if (r.expires && *r.expires <= now && r.holds.empty() && !listed.count(r.message))
      expired.push_back(&r);
  if (expired.empty())
    return Status::FailedPrecondition(
        "no message is due for destruction: none has outlived its retention class without a "
        "hold or a listing in an open batch");
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(impl_->db()));
  TESSERA_ASSIGN_OR_RETURN(Statement batch,
                           impl_->db().Prepare("INSERT INTO destruction_batches(state, note, "
                                               "proposed_by, proposed_at) VALUES(?,?,?,?)"));
  TESSERA_RETURN_IF_ERROR(
      batch.Bind(1, std::string_view("proposed")).Bind(2, note).Bind(3, actor).Bind(4, now).Run());
  const int64_t id = impl_->db().LastInsertId();
  TESSERA_ASSIGN_OR_RETURN(
      Statement item,
      impl_->db().Prepare("INSERT INTO destruction_items(batch, message, sha256, message_id, "
                          "subject, from_addr, date, size, years, assigned_by, expired_at) "
                          "VALUES(?,?,?,?,?,?,?,?,?,?,?)"));
  for (const MessageRetention* r : expired) {
    TESSERA_ASSIGN_OR_RETURN(StoredMessage m, impl_->store.Find(r->message));
    item.Bind(1, id)
        .Bind(2, m.id)
        .Bind(3, HexEncode(m.sha256))
        .Bind(4, m.message_id)
        .Bind(5, m.subject)
        .Bind(6, m.from)
        .Bind(8, static_cast<int64_t>(m.size))
        .Bind(9, static_cast<int64_t>(r->years))
        .Bind(10, r->assigned_by)
        .Bind(11, *r->expires);
    if (m.date)
      item.Bind(7, *m.date);
    else
      item.BindNull(7);
    TESSERA_RETURN_IF_ERROR(item.Run());
  }
  TESSERA_RETURN_IF_ERROR(tx.Commit());
  return impl_->Batch(id, true);
}

Status Retention::Approve(int64_t id, const std::string& actor) {
  TESSERA_ASSIGN_OR_RETURN(DestructionBatch b, impl_->Batch(id, false));
  if (b.state != "proposed")
    return Status::FailedPrecondition("destruction batch " + std::to_string(id) + " is " + b.state +
                                      "; only a proposed batch can be approved");
  if (b.proposed_by == actor)
    return Status::PermissionDenied("destruction batch " + std::to_string(id) +
                                    " was proposed by " + actor +
                                    "; a second person must approve it (檔案銷毀須經另一人核准)");
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           impl_->db().Prepare("UPDATE destruction_batches SET state='approved', "
                                               "decided_by=?, decided_at=? WHERE id=? AND "
                                               "state='proposed'"));
  return q.Bind(1, actor).Bind(2, Now()).Bind(3, id).Run();
}

Status Retention::Reject(int64_t id, const std::string& actor, const std::string& reason) {
  TESSERA_ASSIGN_OR_RETURN(DestructionBatch b, impl_->Batch(id, false));
  if (b.state != "proposed" && b.state != "approved")
    return Status::FailedPrecondition("destruction batch " + std::to_string(id) + " is " + b.state +
                                      "; it can no longer be rejected");
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           impl_->db().Prepare("UPDATE destruction_batches SET state='rejected', "
                                               "decided_by=?, decided_at=?, reason=? WHERE id=?"));
  return q.Bind(1, actor).Bind(2, Now()).Bind(3, reason).Bind(4, id).Run();
}

Result<PurgeReport> Retention::Purge(int64_t id, int64_t now, const std::string& actor) {
  TESSERA_ASSIGN_OR_RETURN(DestructionBatch b, impl_->Batch(id, true));
  if (b.state != "approved" && b.state != "purged")
    return Status::FailedPrecondition("destruction batch " + std::to_string(id) + " is " + b.state +
                                      (b.state == "proposed"
                                           ? "; a second person must approve it before it is purged"
                                           : "; only an approved batch is purged"));
  std::vector<int64_t> pending;
  for (const DestructionItem& i : b.items)
    if (i.outcome.empty() || i.outcome == "destroyed") pending.push_back(i.message);
  std::vector<MessageRetention> now_due;
  if (!pending.empty()) {  // (an empty list would evaluate every message)
    TESSERA_ASSIGN_OR_RETURN(now_due, impl_->Evaluate(pending));
  }
  std::map<int64_t, const MessageRetention*> due;
  for (const MessageRetention& r : now_due) due[r.message] = &r;

  PurgeReport report;
  for (const DestructionItem& i : b.items) {
    if (!i.outcome.empty() && i.outcome != "destroyed") {
      report.kept++;
      continue;
    }
    auto it = due.find(i.message);
    if (it == due.end()) {
      // Gone from the store: destroyed by this batch before a crash, or before now.
      TESSERA_ASSIGN_OR_RETURN(std::optional<DestroyedMessage> d,
                               impl_->store.FindDestroyed(i.message));
      if (!d || d->batch != id)
        return Status::Corruption("message " + std::to_string(i.message) +
                                  " of destruction batch " + std::to_string(id) +
                                  " is missing from the archive and no "
                                  "destruction records it: run `tessera archive verify`");
      TESSERA_RETURN_IF_ERROR(impl_->store.RemoveDestroyedObject(*d));
      TESSERA_RETURN_IF_ERROR(impl_->SetItemOutcome(id, i.message, "destroyed"));
      report.destroyed++;
      continue;
    }
    const MessageRetention& r = *it->second;
    std::string kept;
    if (!r.holds.empty()) {
      kept = "kept: under legal hold " + std::to_string(r.holds.front());
    } else if (!r.expires || *r.expires > now) {
      kept = "kept: now " + RetentionClassName(r.years) + " by " + r.assigned_by;
    }
    if (!kept.empty()) {
      TESSERA_RETURN_IF_ERROR(impl_->SetItemOutcome(id, i.message, kept));
      report.kept++;
      continue;
    }
    TESSERA_RETURN_IF_ERROR(impl_->store.Destroy(i.message, id));
    TESSERA_RETURN_IF_ERROR(impl_->SetItemOutcome(id, i.message, "destroyed"));
    report.destroyed++;
  }
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           impl_->db().Prepare("UPDATE destruction_batches SET state='purged', "
                                               "purged_by=?, purged_at=? WHERE id=?"));
  TESSERA_RETURN_IF_ERROR(q.Bind(1, actor).Bind(2, now).Bind(3, id).Run());
  return report;
}

Result<DestructionBatch> Retention::Batch(int64_t id) {
  return impl_->Batch(id, true);
}

Result<std::vector<DestructionBatch>> Retention::Batches() {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, impl_->db().Prepare("SELECT id FROM destruction_batches ORDER BY id DESC"));
  std::vector<int64_t> ids;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    ids.push_back(q.Int(0));
  }
  std::vector<DestructionBatch> out;
  for (int64_t id : ids) {
    TESSERA_ASSIGN_OR_RETURN(DestructionBatch b, impl_->Batch(id, false));
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace tessera::archive
