#include "guard/audit_log.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include <map>
#include <nlohmann/json.hpp>

#include "base/files.hpp"
#include "crypto/hash.hpp"
#include "crypto/key_file.hpp"

namespace tessera::guard {
namespace fs = std::filesystem;
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  link BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_checkpoints(
  seq INTEGER NOT NULL,
  head TEXT NOT NULL,
  at INTEGER NOT NULL,
  key TEXT NOT NULL,
  signature TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

constexpr const char* kCheckpointAction = "guard.audit-checkpoint";

// The content a link covers: every field, each with its length, so that no two records
// encode the same.
Bytes Canonical(const AuditRecord& r) {
  Bytes out;
  auto put = [&](std::string_view s) {
    PutU32(out, static_cast<uint32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  };
  put(std::to_string(r.seq));
  put(std::to_string(r.at));
  put(r.actor);
  put(r.action);
  put(r.target);
  put(r.outcome);
  return out;
}

}  // namespace

std::string AuditCheckpoint::SignedText() const {
  return "tessera-audit-checkpoint\n" + std::to_string(seq) + "\n" + head + "\n" +
         std::to_string(at) + "\n";
}

std::string AuditCheckpoint::ToJson() const {
  return nlohmann::json{{"format", "tessera-audit-checkpoint"},
                        {"seq", seq},
                        {"head", head},
                        {"at", at},
                        {"key", key},
                        {"signature", signature}}
      .dump();
}

Result<AuditCheckpoint> AuditCheckpoint::FromJson(std::string_view text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    if (j.at("format").get<std::string>() != "tessera-audit-checkpoint")
      return Status::Corruption("not an audit checkpoint (format is not tessera-audit-checkpoint)");
    AuditCheckpoint c{j.at("seq").get<int64_t>(), j.at("head").get<std::string>(),
                      j.at("at").get<int64_t>(), j.at("key").get<std::string>(),
                      j.at("signature").get<std::string>()};
    if (c.seq < 0 || c.head.size() != 64 || !HexDecode(c.head).ok() || !HexDecode(c.signature).ok())
      return Status::Corruption("an audit checkpoint with a bad seq, head or signature");
    return c;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("not an audit checkpoint: ") + e.what());
  }
}

struct AuditLog::Key {
  explicit Key(ByteView k) : hmac(k) {}
  crypto::HmacKey hmac;
};

AuditLog::AuditLog(fs::path dir, std::unique_ptr<Database> db, std::unique_ptr<Key> key)
    : dir_(std::move(dir)), db_(std::move(db)), key_(std::move(key)) {}
AuditLog::~AuditLog() = default;

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::filesystem::path& dir) {
  TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::error_code ec;
  if (!std::filesystem::exists(dir / "audit.key", ec) &&
      std::filesystem::exists(dir / "audit.db", ec))
    return Status::FailedPrecondition("the audit key " + (dir / "audit.key").string() +
                                      " is missing but the audit log exists: put back its copy "
                                      "(without it the log cannot be verified)");
  TESSERA_ASSIGN_OR_RETURN(SecretBytes key,
                           crypto::LoadOrCreateKeyFile(dir / "audit.key", "the audit key"));
  TESSERA_ASSIGN_OR_RETURN(auto db, Database::Open(dir / "audit.db"));
  TESSERA_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<AuditLog>(
      new AuditLog(dir, std::move(db), std::make_unique<Key>(key.view())));
}

Status AuditLog::Append(const std::string& actor, const std::string& action,
                        const std::string& target, const std::string& outcome) {
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  TESSERA_ASSIGN_OR_RETURN(Statement last,
                           db_->Prepare("SELECT seq, link FROM audit ORDER BY seq DESC LIMIT 1"));
  TESSERA_ASSIGN_OR_RETURN(bool any, last.Step());
  AuditRecord r;
  r.seq = any ? last.Int(0) + 1 : 1;
  Bytes previous = any ? last.Blob(1) : Bytes(32, 0);
  r.at = static_cast<int64_t>(std::time(nullptr));
  r.actor = actor;
  r.action = action;
  r.target = target;
  r.outcome = outcome;
  const Bytes link = key_->hmac.Mac({previous, Canonical(r)});
  TESSERA_ASSIGN_OR_RETURN(
      Statement insert,
      db_->Prepare("INSERT INTO audit(seq, at, actor, action, target, outcome, link) "
                   "VALUES(?,?,?,?,?,?,?)"));
  TESSERA_RETURN_IF_ERROR(insert.Bind(1, r.seq)
                              .Bind(2, r.at)
                              .Bind(3, r.actor)
                              .Bind(4, r.action)
                              .Bind(5, r.target)
                              .Bind(6, r.outcome)
                              .BindBlob(7, link)
                              .Run());
  return tx.Commit();
}

Result<std::vector<AuditRecord>> AuditLog::Read(std::optional<int64_t> since) {
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           db_->Prepare("SELECT seq, at, actor, action, target, outcome FROM audit "
                                        "WHERE at >= ? ORDER BY seq"));
  q.Bind(1, since.value_or(0));
  std::vector<AuditRecord> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Int(0), q.Int(1), q.Text(2), q.Text(3), q.Text(4), q.Text(5)});
  }
  return out;
}

Result<int64_t> AuditLog::HeadSeq() {
  TESSERA_ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT COALESCE(MAX(seq), 0) FROM audit"));
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

fs::path AuditLog::CheckpointKeyPath(const fs::path& dir) {
  return dir / "audit-checkpoint.key";
}

fs::path AuditLog::CheckpointPublicKeyPath(const fs::path& dir) {
  return dir / "audit-checkpoint.pub.pem";
}

Result<crypto::SigningKey> AuditLog::LoadOrCreateCheckpointKey(const fs::path& dir) {
  TESSERA_ASSIGN_OR_RETURN(
      crypto::SigningKey key,
      crypto::SigningKey::LoadOrCreate(CheckpointKeyPath(dir), "the audit checkpoint key"));
  const fs::path pub = CheckpointPublicKeyPath(dir);
  std::error_code ec;
  if (!fs::exists(pub, ec))
    TESSERA_RETURN_IF_ERROR(WriteFileAtomic(pub, key.public_key().Pem(), 0644));
  return key;
}

Result<AuditCheckpoint> AuditLog::Checkpoint(const crypto::SigningKey& key) {
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  TESSERA_ASSIGN_OR_RETURN(Statement last,
                           db_->Prepare("SELECT seq, link FROM audit ORDER BY seq DESC LIMIT 1"));
  TESSERA_ASSIGN_OR_RETURN(bool any, last.Step());
  AuditCheckpoint c;
  c.seq = any ? last.Int(0) : 0;
  c.head = HexEncode(any ? last.Blob(1) : Bytes(32, 0));
  c.at = static_cast<int64_t>(std::time(nullptr));
  c.key = key.public_key().Fingerprint();
  c.signature = HexEncode(key.Sign(AsBytes(c.SignedText())));
  TESSERA_ASSIGN_OR_RETURN(
      Statement insert,
      db_->Prepare(
          "INSERT INTO audit_checkpoints(seq, head, at, key, signature) VALUES(?,?,?,?,?)"));
  TESSERA_RETURN_IF_ERROR(insert.Bind(1, c.seq)
                              .Bind(2, c.head)
                              .Bind(3, c.at)
                              .Bind(4, c.key)
                              .Bind(5, c.signature)
                              .Run());
  // Recorded as a record too, so that it travels to the SOC with the rest.
  TESSERA_RETURN_IF_ERROR(Append(CurrentActor(), kCheckpointAction,
                                 "seq " + std::to_string(c.seq) + " head " + c.head,
                                 "signed by key " + c.key + ": " + c.signature));
  TESSERA_RETURN_IF_ERROR(tx.Commit());
  return c;
}

Result<std::vector<AuditCheckpoint>> AuditLog::Checkpoints() {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db_->Prepare("SELECT seq, head, at, key, signature FROM audit_checkpoints "
                                "ORDER BY rowid"));
  std::vector<AuditCheckpoint> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Int(0), q.Text(1), q.Int(2), q.Text(3), q.Text(4)});
  }
  return out;
}

Result<AuditVerifyReport> AuditLog::Verify(const CheckpointTrust& trust) {
  std::vector<std::pair<std::string, AuditCheckpoint>> checkpoints;  // (where from, checkpoint)
  TESSERA_ASSIGN_OR_RETURN(std::vector<AuditCheckpoint> recorded, Checkpoints());
  for (AuditCheckpoint& c : recorded) checkpoints.emplace_back("recorded", std::move(c));
  for (const AuditCheckpoint& c : trust.kept_apart) checkpoints.emplace_back("kept apart", c);
  std::optional<crypto::PublicKey> key = trust.key;
  if (!key && !checkpoints.empty()) {
    auto beside = crypto::PublicKey::Load(CheckpointPublicKeyPath(dir_));
    if (beside.ok()) key = std::move(beside).value();
  }
  // The links the checkpoints name, filled in as the chain is read.
  std::map<int64_t, std::string> links_wanted;
  for (const auto& [from, c] : checkpoints) links_wanted[c.seq];

  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db_->Prepare("SELECT seq, at, actor, action, target, outcome, link FROM audit "
                                "ORDER BY seq"));
  AuditVerifyReport report;
  Bytes previous(32, 0);
  int64_t expected = 1;
  int64_t last_seq = 0;
  links_wanted[0] = HexEncode(previous);
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    AuditRecord r{q.Int(0), q.Int(1), q.Text(2), q.Text(3), q.Text(4), q.Text(5)};
    const Bytes link = q.Blob(6);
    report.records++;
    if (r.seq != expected)
      report.problems.push_back("record " + std::to_string(expected) +
                                (r.seq > expected ? " is missing (removed)" : " is out of order"));
    if (key_->hmac.Mac({previous, Canonical(r)}) != link)
      report.problems.push_back("record " + std::to_string(r.seq) +
                                " does not match its link: edited, or a record before it was "
                                "removed or reordered");
    if (auto it = links_wanted.find(r.seq); it != links_wanted.end()) it->second = HexEncode(link);
    previous = link;
    expected = r.seq + 1;
    last_seq = r.seq;
  }
  report.head = HexEncode(previous);

  for (const auto& [from, c] : checkpoints) {
    const std::string name = "the " + from + " checkpoint of record " + std::to_string(c.seq);
    report.checkpoints++;
    auto signature = HexDecode(c.signature);
    if (!key) {
      report.problems.push_back(name +
                                " cannot be checked: no checkpoint public key (give "
                                "--key, or put back " +
                                CheckpointPublicKeyPath(dir_).string() + ")");
    } else if (c.key != key->Fingerprint()) {
      report.problems.push_back(name + " is signed by key " + c.key.substr(0, 16) +
                                ", not the trusted key " + key->Fingerprint().substr(0, 16));
    } else if (!signature.ok() || !key->Verify(AsBytes(c.SignedText()), *signature)) {
      report.problems.push_back(name + " has a signature that does not verify: it was altered");
    }
    if (c.seq > last_seq)
      report.problems.push_back(name + " lies beyond the log's end (record " +
                                std::to_string(last_seq) + "): records were removed from the end");
    else if (links_wanted[c.seq] != c.head)
      report.problems.push_back("record " + std::to_string(c.seq) + " is not the one " + name +
                                " signed: the log was rewritten");
  }
  return report;
}

std::string CurrentActor() {
  const uid_t uid = ::geteuid();
  std::string name = "uid" + std::to_string(uid);
  char buf[4096];
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) name = found->pw_name;
  std::string actor = name + " (uid " + std::to_string(uid) + ")";
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo && uid == 0)
    actor += " via sudo from " + std::string(sudo);
  return actor;
}

std::string CurrentPerson(uid_t data_owner) {
  const uid_t uid = ::geteuid();
  if (uid == 0) {
    if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo) return sudo;
    return "";
  }
  if (uid == data_owner) return "";
  char buf[4096];
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
  return "uid" + std::to_string(uid);
}

}  // namespace tessera::guard
