#include "exchange/center_store.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <set>
#include <utility>

#include "base/clock.hpp"
#include "base/files.hpp"

namespace tessera::exchange {
namespace fs = std::filesystem;
namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS items(
  seq INTEGER PRIMARY KEY,
  sender TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  header BLOB NOT NULL,
  payload_sha256 TEXT NOT NULL,
  payload_size INTEGER NOT NULL,
  path TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  receipt BLOB NOT NULL,
  payload_removed INTEGER NOT NULL DEFAULT 0,
  UNIQUE(sender, id));
CREATE TABLE IF NOT EXISTS deliveries(
  delivery INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL REFERENCES items(seq),
  recipient TEXT NOT NULL,
  via TEXT NOT NULL,
  state TEXT NOT NULL,
  lease_until INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  queued_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE(seq, recipient));
DROP INDEX IF EXISTS deliveries_waiting;
DROP INDEX IF EXISTS deliveries_via;
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(recipient, via, delivery)
  WHERE state IN ('queued', 'leased');
CREATE INDEX IF NOT EXISTS deliveries_pending_via ON deliveries(via, delivery)
  WHERE state IN ('queued', 'leased');
CREATE TABLE IF NOT EXISTS certificate_warnings(
  fingerprint TEXT NOT NULL,
  days INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY(fingerprint, days));
CREATE TABLE IF NOT EXISTS suspensions(
  agency TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  note TEXT NOT NULL,
  by TEXT NOT NULL,
  at INTEGER NOT NULL);
)";

// A delivery is waiting when queued, or leased and the lease ran out. The IN term lets
// SQLite use the indexes of pending deliveries, so finding work does not slow down as
// delivered items pile up.
constexpr const char* kWaiting =
    "d.state IN ('queued', 'leased') AND (d.state = 'queued' OR d.lease_until <= ?)";

// An incoming file is named "<pid>-<n>.part" after the process writing it.
bool WriterIsAlive(const std::string& name) {
  const size_t dash = name.find('-');
  if (dash == std::string::npos || dash == 0 || dash > 9) return false;
  pid_t pid = 0;
  for (size_t i = 0; i < dash; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    pid = pid * 10 + (name[i] - '0');
  }
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

CenterStore::CenterStore(std::unique_ptr<Database> db, fs::path spool)
    : db_(std::move(db)), spool_(std::move(spool)) {}
CenterStore::~CenterStore() = default;

Result<std::unique_ptr<CenterStore>> CenterStore::Open(const fs::path& dir) {
  TESSERA_RETURN_IF_ERROR(MakeDirs(dir / "spool" / "incoming", 0700));
  TESSERA_ASSIGN_OR_RETURN(auto db, Database::Open(dir / "center.db"));
  TESSERA_RETURN_IF_ERROR(db->Exec(kSchema));
  // Payloads half received by a center that stopped are of no use: the sender resends.
  // Those of a live process (a running center, while the CLI opens its spool) are kept.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "spool" / "incoming", ec))
    if (!WriterIsAlive(e.path().filename().string())) fs::remove(e.path(), ec);
  return std::unique_ptr<CenterStore>(new CenterStore(std::move(db), dir / "spool"));
}

fs::path CenterStore::IncomingPath() {
  // Shared by every CenterStore in the process: the center opens two on one spool.
  static std::atomic<uint64_t> counter{0};
  return spool_ / "incoming" /
         (std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".part");
}

fs::path CenterStore::PayloadDirectory() {
  std::string hour;
  for (char c : FormatRfc3339(NowUnixNanos()))
    if (c >= '0' && c <= '9') hour += c;
  return spool_ / hour.substr(0, 10);
}

void CenterStore::RemoveEmptyPayloadDirectories() {
  const std::string current = PayloadDirectory().filename().string();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(spool_, ec)) {
    const std::string name = e.path().filename().string();
    const bool hour = name.size() == 10 && std::all_of(name.begin(), name.end(), ::isdigit);
    std::error_code ignored;
    if (hour && name < current) fs::remove(e.path(), ignored);  // fails unless it is empty
  }
}

Result<CenterStore::Batch> CenterStore::BeginBatch() {
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  in_batch_ = true;
  to_sync_.clear();
  released_.clear();
  return Batch(this, std::move(tx));
}

CenterStore::Batch::Batch(Batch&& other) noexcept
    : store_(std::exchange(other.store_, nullptr)),
      tx_(std::move(other.tx_)),
      released_(std::move(other.released_)) {}

CenterStore::Batch::~Batch() {
  if (store_ == nullptr) return;
  store_->in_batch_ = false;
  store_->to_sync_.clear();
  store_->released_.clear();  // rolled back: the rows still need those payloads
}

Status CenterStore::Batch::Commit() {
  store_->in_batch_ = false;
  std::set<fs::path> directories;
  directories.swap(store_->to_sync_);
  std::vector<fs::path> released;
  released.swap(store_->released_);
  // The payloads' directory entries must be on the disk before the rows naming them.
  for (const fs::path& d : directories) TESSERA_RETURN_IF_ERROR(SyncDirectory(d));
  TESSERA_RETURN_IF_ERROR(tx_.Commit());
  released_ = std::move(released);
  return Status::Ok();
}

std::vector<fs::path> CenterStore::Batch::TakeReleasedPayloads() {
  return std::move(released_);
}

Result<std::optional<AcceptedItem>> CenterStore::FindExisting(const std::string& sender,
                                                              const std::string& id,
                                                              const std::string& payload_sha256) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare("SELECT seq, payload_sha256, receipt FROM items WHERE sender = ? AND id = ?"));
  q.Bind(1, sender).Bind(2, id);
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<AcceptedItem>();
  if (q.Text(1) != payload_sha256)
    return Status::AlreadyExists("item " + id + " from " + sender +
                                 " was accepted before with different content: send a new "
                                 "document under a new id");
  return std::optional<AcceptedItem>(AcceptedItem{q.Int(0), true, q.Blob(2)});
}

Result<AcceptedItem> CenterStore::Accept(const SealedHeader& sealed, const fs::path& payload,
                                         const std::vector<Route>& routes,
                                         const std::function<Result<Bytes>()>& make_receipt) {
  const RoutingHeader& h = sealed.header;
  Result<std::optional<AcceptedItem>> existing = FindExisting(h.from, h.id, h.payload_sha256);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    std::error_code ec;
    fs::remove(payload, ec);
    return std::move(existing).value().value();
  }
  const fs::path directory = PayloadDirectory();
  TESSERA_RETURN_IF_ERROR(MakeDirs(directory, 0700));
  const fs::path final_path = directory / (h.payload_sha256 + "-" + h.id);
  std::error_code ec;
  fs::rename(payload, final_path, ec);
  if (ec) return Status::IOError("cannot move a payload into the spool: " + ec.message());
  if (in_batch_)
    to_sync_.insert(directory);
  else
    TESSERA_RETURN_IF_ERROR(SyncDirectory(directory));
  TESSERA_ASSIGN_OR_RETURN(Bytes receipt, make_receipt());

  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  TESSERA_ASSIGN_OR_RETURN(
      Statement insert,
      db_->Prepare(
          "INSERT INTO items(sender, id, kind, header, payload_sha256, payload_size, "
          "path, accepted_at, receipt) VALUES(?, ?, ?, ?, ?, ?, ?, strftime('%s','now'), ?)"));
  insert.Bind(1, h.from)
      .Bind(2, h.id)
      .Bind(3, ItemKindName(h.kind))
      .BindBlob(4, sealed.der)
      .Bind(5, h.payload_sha256)
      .Bind(6, static_cast<int64_t>(h.payload_size))
      .Bind(7, final_path.string())
      .BindBlob(8, receipt);
  TESSERA_RETURN_IF_ERROR(insert.Run());
  const int64_t seq = db_->LastInsertId();
  TESSERA_ASSIGN_OR_RETURN(
      Statement route,
      db_->Prepare("INSERT INTO deliveries(seq, recipient, via, state, queued_at, updated_at) "
                   "VALUES(?, ?, ?, 'queued', strftime('%s','now'), strftime('%s','now'))"));
  for (const Route& r : routes) {
    route.Bind(1, seq).Bind(2, r.recipient).Bind(3, r.via);
    TESSERA_RETURN_IF_ERROR(route.Run());
  }
  TESSERA_RETURN_IF_ERROR(tx.Commit());
  return AcceptedItem{seq, false, std::move(receipt)};
}

Result<std::optional<LeasedItem>> CenterStore::Lease(const std::string& agency, int64_t now,
                                                     int64_t lease_seconds) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare(std::string("SELECT d.delivery, d.seq, i.header, i.path, i.payload_size "
                               "FROM deliveries d JOIN items i ON i.seq = d.seq "
                               "WHERE d.recipient = ? AND d.via = '' AND ") +
                   kWaiting + " ORDER BY d.delivery LIMIT 1"));
  q.Bind(1, agency).Bind(2, now);
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<LeasedItem>();
  LeasedItem item{q.Int(0), q.Int(1), q.Blob(2), q.Text(3), static_cast<uint64_t>(q.Int(4)),
                  {agency}};
  TESSERA_ASSIGN_OR_RETURN(
      Statement lease,
      db_->Prepare(
          "UPDATE deliveries SET state = 'leased', lease_until = ?, attempts = attempts + 1, "
          "updated_at = ? WHERE delivery = ?"));
  lease.Bind(1, now + lease_seconds).Bind(2, now).Bind(3, item.delivery);
  TESSERA_RETURN_IF_ERROR(lease.Run());
  return std::optional<LeasedItem>(std::move(item));
}

Result<std::optional<fs::path>> CenterStore::ReleasePayloadIfDone(int64_t seq) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare(
          "SELECT count(*) FROM deliveries WHERE seq = ? AND state IN ('queued', 'leased')"));
  q.Bind(1, seq);
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row || q.Int(0) > 0) return std::optional<fs::path>();
  TESSERA_ASSIGN_OR_RETURN(
      Statement p, db_->Prepare("SELECT path FROM items WHERE seq = ? AND payload_removed = 0"));
  p.Bind(1, seq);
  TESSERA_ASSIGN_OR_RETURN(bool has, p.Step());
  if (!has) return std::optional<fs::path>();
  fs::path path = p.Text(0);
  TESSERA_ASSIGN_OR_RETURN(Statement mark,
                           db_->Prepare("UPDATE items SET payload_removed = 1 WHERE seq = ?"));
  mark.Bind(1, seq);
  TESSERA_RETURN_IF_ERROR(mark.Run());
  return std::optional<fs::path>(std::move(path));
}

void CenterStore::Release(std::optional<fs::path> payload) {
  if (!payload) return;
  if (in_batch_)
    released_.push_back(std::move(*payload));
  else
    RemovePayloads({*payload});
}

void CenterStore::RemovePayloads(const std::vector<fs::path>& payloads) {
  for (const fs::path& p : payloads) {
    std::error_code ec;
    fs::remove(p, ec);
  }
}

Status CenterStore::RemoveOrphanedPayloads() {
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           db_->Prepare("SELECT path FROM items WHERE payload_removed = 0"));
  // Compared by hour and name, not by the whole path: a home given another way (relative,
  // through a link) since the rows were written must not make every payload look orphaned.
  auto hour_and_name = [](const fs::path& p) { return p.parent_path().filename() / p.filename(); };
  std::set<fs::path> needed;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    needed.insert(hour_and_name(q.Text(0)));
  }
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(spool_, ec)) {
    const std::string name = d.path().filename().string();
    if (name.size() != 10 || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::error_code inner;
    for (const auto& f : fs::directory_iterator(d.path(), inner))
      if (!needed.contains(hour_and_name(f.path()))) fs::remove(f.path(), inner);
  }
  if (ec) return Status::IOError("cannot list the spool " + spool_.string() + ": " + ec.message());
  return Status::Ok();
}

Status CenterStore::Acknowledge(const std::string& agency, int64_t delivery, int64_t now) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare(
          "SELECT seq, state FROM deliveries WHERE delivery = ? AND recipient = ? AND via = ''"));
  q.Bind(1, delivery).Bind(2, agency);
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row)
    return Status::NotFound("delivery " + std::to_string(delivery) + " is not one to " + agency);
  const int64_t seq = q.Int(0);
  if (q.Text(1) == "delivered") return Status::Ok();  // an acknowledgement repeated
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  TESSERA_ASSIGN_OR_RETURN(
      Statement u,
      db_->Prepare("UPDATE deliveries SET state = 'delivered', updated_at = ? WHERE delivery = ?"));
  u.Bind(1, now).Bind(2, delivery);
  TESSERA_RETURN_IF_ERROR(u.Run());
  TESSERA_ASSIGN_OR_RETURN(std::optional<fs::path> released, ReleasePayloadIfDone(seq));
  TESSERA_RETURN_IF_ERROR(tx.Commit());
  Release(std::move(released));
  return Status::Ok();
}

Result<std::optional<LeasedItem>> CenterStore::LeaseForPeer(const std::string& center, int64_t now,
                                                            int64_t lease_seconds) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare(std::string("SELECT d.seq, i.header, i.path, i.payload_size FROM deliveries d "
                               "JOIN items i ON i.seq = d.seq WHERE d.via = ? AND ") +
                   kWaiting + " ORDER BY d.delivery LIMIT 1"));
  q.Bind(1, center).Bind(2, now);
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<LeasedItem>();
  LeasedItem item{0, q.Int(0), q.Blob(1), q.Text(2), static_cast<uint64_t>(q.Int(3)), {}};
  TESSERA_ASSIGN_OR_RETURN(
      Statement r,
      db_->Prepare("SELECT recipient FROM deliveries WHERE seq = ? AND via = ? ORDER BY delivery"));
  r.Bind(1, item.seq).Bind(2, center);
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool more, r.Step());
    if (!more) break;
    item.recipients.push_back(r.Text(0));
  }
  TESSERA_ASSIGN_OR_RETURN(
      Statement lease,
      db_->Prepare(
          "UPDATE deliveries SET state = 'leased', lease_until = ?, attempts = attempts + 1, "
          "updated_at = ? WHERE seq = ? AND via = ? AND state IN ('queued', 'leased')"));
  lease.Bind(1, now + lease_seconds).Bind(2, now).Bind(3, item.seq).Bind(4, center);
  TESSERA_RETURN_IF_ERROR(lease.Run());
  return std::optional<LeasedItem>(std::move(item));
}

Status CenterStore::MarkForwarded(const std::string& center, int64_t seq, int64_t now) {
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  TESSERA_ASSIGN_OR_RETURN(
      Statement u, db_->Prepare("UPDATE deliveries SET state = 'forwarded', updated_at = ? "
                                "WHERE seq = ? AND via = ? AND state IN ('queued', 'leased')"));
  u.Bind(1, now).Bind(2, seq).Bind(3, center);
  TESSERA_RETURN_IF_ERROR(u.Run());
  TESSERA_ASSIGN_OR_RETURN(std::optional<fs::path> released, ReleasePayloadIfDone(seq));
  TESSERA_RETURN_IF_ERROR(tx.Commit());
  Release(std::move(released));
  return Status::Ok();
}

Result<std::vector<std::string>> CenterStore::PeersWithWork(int64_t now) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare(std::string("SELECT DISTINCT d.via FROM deliveries d WHERE d.via != '' AND ") +
                   kWaiting));
  q.Bind(1, now);
  std::vector<std::string> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(q.Text(0));
  }
  return out;
}

Result<std::vector<ExpiredItem>> CenterStore::Expire(
    int64_t now, int64_t max_age_seconds, const std::function<bool(const std::string&)>& held) {
  RemoveEmptyPayloadDirectories();
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare(
          "SELECT d.delivery, d.seq, d.recipient, i.sender, i.id, i.payload_sha256, i.kind "
          "FROM deliveries d JOIN items i ON i.seq = d.seq "
          "WHERE d.state IN ('queued', 'leased') AND d.queued_at <= ?"));
  q.Bind(1, now - max_age_seconds);
  std::vector<ExpiredItem> out;
  std::vector<std::pair<int64_t, int64_t>> rows;  // delivery, seq
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    if (held(q.Text(2))) continue;
    rows.emplace_back(q.Int(0), q.Int(1));
    // A receipt that cannot be delivered is dropped, not answered with another receipt.
    if (q.Text(6) == "document") out.push_back({q.Text(3), q.Text(4), q.Text(2), q.Text(5)});
  }
  if (rows.empty()) return out;
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  TESSERA_ASSIGN_OR_RETURN(
      Statement u,
      db_->Prepare("UPDATE deliveries SET state = 'expired', updated_at = ? WHERE delivery = ?"));
  std::set<int64_t> seqs;
  for (auto [delivery, seq] : rows) {
    u.Bind(1, now).Bind(2, delivery);
    TESSERA_RETURN_IF_ERROR(u.Run());
    seqs.insert(seq);
  }
  std::vector<std::optional<fs::path>> released;
  for (int64_t seq : seqs) {
    TESSERA_ASSIGN_OR_RETURN(std::optional<fs::path> p, ReleasePayloadIfDone(seq));
    released.push_back(std::move(p));
  }
  TESSERA_RETURN_IF_ERROR(tx.Commit());
  for (auto& p : released) Release(std::move(p));
  return out;
}

Result<std::vector<DeliveryStatus>> CenterStore::StatusOf(const std::string& sender,
                                                          const std::string& id) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare(
          "SELECT d.recipient, d.state, d.via, d.updated_at, d.attempts FROM deliveries d "
          "JOIN items i ON i.seq = d.seq WHERE i.sender = ? AND i.id = ? ORDER BY d.delivery"));
  q.Bind(1, sender).Bind(2, id);
  std::vector<DeliveryStatus> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Text(0), q.Text(1), q.Text(2), q.Int(3), static_cast<int>(q.Int(4))});
  }
  if (out.empty()) return Status::NotFound("this center has no item " + id + " from " + sender);
  return out;
}

Result<std::vector<std::pair<std::string, int64_t>>> CenterStore::Counts() {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare("SELECT state, count(*) FROM deliveries GROUP BY state ORDER BY state"));
  std::vector<std::pair<std::string, int64_t>> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.emplace_back(q.Text(0), q.Int(1));
  }
  return out;
}

Status CenterStore::Suspend(const std::string& agency, const Suspension& s) {
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           db_->Prepare("INSERT OR REPLACE INTO suspensions(agency, reason, note, "
                                        "by, at) VALUES(?, ?, ?, ?, ?)"));
  q.Bind(1, agency).Bind(2, s.reason).Bind(3, s.note).Bind(4, s.by).Bind(5, s.at);
  return q.Run();
}

Status CenterStore::Resume(const std::string& agency) {
  TESSERA_ASSIGN_OR_RETURN(Statement q, db_->Prepare("DELETE FROM suspensions WHERE agency = ?"));
  q.Bind(1, agency);
  TESSERA_RETURN_IF_ERROR(q.Run());
  if (db_->Changes() == 0) return Status::NotFound(agency + " is not suspended at this center");
  return Status::Ok();
}

Result<std::optional<Suspension>> CenterStore::LocalSuspension(const std::string& agency) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db_->Prepare("SELECT reason, note, by, at FROM suspensions WHERE agency = ?"));
  q.Bind(1, agency);
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Suspension>();
  return std::optional<Suspension>(Suspension{q.Text(0), q.Text(1), q.Text(2), q.Int(3)});
}

Result<std::vector<std::pair<std::string, Suspension>>> CenterStore::LocalSuspensions() {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare("SELECT agency, reason, note, by, at FROM suspensions ORDER BY agency"));
  std::vector<std::pair<std::string, Suspension>> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.emplace_back(q.Text(0), Suspension{q.Text(1), q.Text(2), q.Text(3), q.Int(4)});
  }
  return out;
}

Result<bool> CenterStore::RecordCertificateWarning(const std::string& fingerprint, int days,
                                                   int64_t now) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare(
          "INSERT OR IGNORE INTO certificate_warnings(fingerprint, days, at) VALUES(?, ?, ?)"));
  q.Bind(1, fingerprint).Bind(2, days).Bind(3, now);
  TESSERA_RETURN_IF_ERROR(q.Run());
  return db_->Changes() > 0;
}

}  // namespace tessera::exchange
