#include "archive/message_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/files.hpp"
#include "base/json_fields.hpp"
#include "crypto/aead.hpp"
#include "crypto/hash.hpp"
#include "crypto/key_file.hpp"
#include "crypto/random.hpp"
#include "store/file_store.hpp"

namespace tessera::archive {

namespace {

constexpr int kSchemaVersion = 2;  // 2: retention and destruction (1 upgrades in place)
constexpr uint8_t kObjectVersion = 1;
constexpr uint8_t kFlagCompressed = 1;
constexpr char kObjectMagic[4] = {'T', 'S', 'A', 'M'};
constexpr size_t kObjectHeader = sizeof(kObjectMagic) + 2;  // magic, version, flags
constexpr int kZstdLevel = 3;  // mail is small and text: level 3 costs little over 1
constexpr char kKeyFile[] = "key";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages(
  id INTEGER PRIMARY KEY,
  sha256 BLOB NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  stored_size INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  from_addr TEXT NOT NULL,
  date INTEGER,
  attachments INTEGER NOT NULL,
  first_seen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries(
  id INTEGER PRIMARY KEY,
  message INTEGER NOT NULL REFERENCES messages(id),
  received_at INTEGER NOT NULL,
  source TEXT NOT NULL,
  origin TEXT NOT NULL,
  folder TEXT NOT NULL,
  envelope_from TEXT NOT NULL,
  recipients TEXT NOT NULL,
  UNIQUE(message, folder, envelope_from, recipients));
CREATE INDEX IF NOT EXISTS deliveries_by_message ON deliveries(message);
CREATE TABLE IF NOT EXISTS chain(
  seq INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  ref INTEGER NOT NULL,
  digest BLOB NOT NULL,
  link BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS destroyed_messages(
  seq INTEGER PRIMARY KEY,
  message INTEGER NOT NULL UNIQUE,
  sha256 BLOB NOT NULL,
  size INTEGER NOT NULL,
  batch INTEGER NOT NULL,
  destroyed_at INTEGER NOT NULL,
  deliveries TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS destroyed_by_sha256 ON destroyed_messages(sha256);
CREATE TABLE IF NOT EXISTS imported_files(
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  done_at INTEGER NOT NULL);
)sql";

std::string RecipientsJson(const std::vector<std::string>& recipients) {
  return JsonText(nlohmann::json(recipients));
}

// What the chain commits to for each kind of record: every field that matters later.
Bytes MessageDigest(ByteView sha256, uint64_t size) {
  return crypto::Sha256(
      ToBytes("message\n" + HexEncode(sha256) + "\n" + std::to_string(size) + "\n"));
}

Bytes DeliveryDigest(int64_t message, const Delivery& d) {
  nlohmann::json j = {{"message", message},        {"received_at", d.received_at},
                      {"source", d.source},        {"origin", d.origin},
                      {"folder", d.folder},        {"envelope_from", d.envelope_from},
                      {"recipients", d.recipients}};
  return crypto::Sha256(ToBytes("delivery\n" + JsonText(j)));
}

// SQL for the next id of `table`: above every id it holds and every id it ever held (a
// destroyed message's or delivery's id is never given again: the chain, the index and
// destruction records name them).
std::string NextId(const char* table, const char* floor_key) {
  return std::string("(SELECT max(coalesce((SELECT max(id) FROM ") + table +
         "), 0), coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key='" + floor_key +
         "'), 0)) + 1)";
}

std::string FirstAddress(const std::vector<MailAddress>& list) {
  if (list.empty()) return "";
  const MailAddress& a = list.front();
  return a.name.empty() ? a.email : a.name + " <" + a.email + ">";
}

}  // namespace

struct MessageStore::Keys {
  SecretBytes message;  // AES-256-GCM key of message objects
  std::unique_ptr<crypto::HmacKey> chain;
};

std::string MessageObjectName(ByteView sha256) {
  const std::string hex = HexEncode(sha256);
  return "messages/" + hex.substr(0, 2) + "/" + hex;
}

namespace {

// The archive key: 32 random bytes in a file only its owner may read. The message and
// chain keys are derived from it, so one file is all an operator must keep safe (and
// back up with the archive, apart from it).
}  // namespace

Result<std::unique_ptr<MessageStore>> MessageStore::Open(const std::filesystem::path& dir) {
  TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  // A new key next to an existing database would make every archived message unreadable.
  std::error_code ec;
  if (!std::filesystem::exists(dir / kKeyFile, ec) &&
      std::filesystem::exists(dir / "archive.db", ec))
    return Status::FailedPrecondition(
        "the archive key " + (dir / kKeyFile).string() +
        " is missing but the archive exists: put back the copy of the key kept apart "
        "(without it no archived message can be read)");
  TESSERA_ASSIGN_OR_RETURN(SecretBytes master,
                           crypto::LoadOrCreateKeyFile(dir / kKeyFile, "the archive key"));
  auto keys = std::make_unique<Keys>();
  keys->message = crypto::Hkdf(master.view(), {}, "tessera archive message v1", 32);
  SecretBytes chain = crypto::Hkdf(master.view(), {}, "tessera archive chain v1", 32);
  keys->chain = std::make_unique<crypto::HmacKey>(chain.view());

  const std::filesystem::path absolute = std::filesystem::absolute(dir);
  TESSERA_ASSIGN_OR_RETURN(auto objects, store::FileStore::Open("file://" + absolute.string()));
  TESSERA_ASSIGN_OR_RETURN(auto db, Database::Open(dir / "archive.db"));
  TESSERA_RETURN_IF_ERROR(db->Exec(kSchema));
  TESSERA_ASSIGN_OR_RETURN(Statement version,
                           db->Prepare("SELECT value FROM meta WHERE key='schema_version'"));
  TESSERA_ASSIGN_OR_RETURN(bool has_version, version.Step());
  if (!has_version) {
    TESSERA_RETURN_IF_ERROR(db->Exec("INSERT INTO meta VALUES('schema_version','" +
                                     std::to_string(kSchemaVersion) + "')"));
  } else if (version.Text(0) == "1") {
    // Version 2 only added tables, which kSchema has just created.
    TESSERA_RETURN_IF_ERROR(db->Exec("UPDATE meta SET value='" + std::to_string(kSchemaVersion) +
                                     "' WHERE key='schema_version'"));
  } else if (version.Text(0) != std::to_string(kSchemaVersion)) {
    return Status::FailedPrecondition(
        "the archive database " + (dir / "archive.db").string() + " has schema version " +
        version.Text(0) + "; this tessera reads version " + std::to_string(kSchemaVersion));
  }
  return std::unique_ptr<MessageStore>(
      new MessageStore(std::move(db), std::move(objects), std::move(keys)));
}

MessageStore::MessageStore(std::unique_ptr<Database> db, std::unique_ptr<store::FileStore> objects,
                           std::unique_ptr<Keys> keys)
    : db_(std::move(db)), objects_(std::move(objects)), keys_(std::move(keys)) {}

MessageStore::~MessageStore() = default;

Status MessageStore::BeginBatch() {
  if (batch_) return Status::FailedPrecondition("a batch of messages is already open");
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  batch_.emplace(std::move(tx));
  return Status::Ok();
}

Status MessageStore::CommitBatch() {
  if (!batch_) return Status::FailedPrecondition("no batch of messages is open");
  // The objects first, on the device before the records that name them.
  Status st = objects_->SyncAll();
  if (st.ok()) st = batch_->Commit();
  batch_.reset();  // rolled back if not committed
  return st;
}

Status MessageStore::AppendChain(const std::string& kind, int64_t ref, ByteView digest) {
  TESSERA_ASSIGN_OR_RETURN(Statement last,
                           db_->Prepare("SELECT seq, link FROM chain ORDER BY seq DESC LIMIT 1"));
  TESSERA_ASSIGN_OR_RETURN(bool any, last.Step());
  const int64_t seq = any ? last.Int(0) + 1 : 1;
  const Bytes previous = any ? last.Blob(1) : Bytes(32, 0);
  const std::string header = std::to_string(seq) + "\n" + kind + "\n" + std::to_string(ref) + "\n";
  const Bytes link = keys_->chain->Mac({previous, AsBytes(header), digest});
  TESSERA_ASSIGN_OR_RETURN(Statement insert,
                           db_->Prepare("INSERT INTO chain(seq, kind, ref, digest, link) "
                                        "VALUES(?, ?, ?, ?, ?)"));
  return insert.Bind(1, seq).Bind(2, kind).Bind(3, ref).BindBlob(4, digest).BindBlob(5, link).Run();
}

Result<AddOutcome> MessageStore::Add(ByteView raw, const ParsedMessage& parsed,
                                     const Delivery& delivery) {
  const Bytes sha = crypto::Sha256(raw);
  AddOutcome out;
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> existing, FindBySha256(sha));
  uint64_t stored_size = 0;
  if (!existing) {
    // The object first, on the device before any record names it: a crash in between
    // leaves an object no record names, which the next Add of these bytes overwrites.
    Bytes body;
    uint8_t flags = 0;
    body.resize(ZSTD_compressBound(raw.size()));
    const size_t n = ZSTD_compress(body.data(), body.size(), raw.data(), raw.size(), kZstdLevel);
    if (!ZSTD_isError(n) && n < raw.size()) {
      body.resize(n);
      flags |= kFlagCompressed;
    } else {
      body.assign(raw.begin(), raw.end());
    }
    Bytes header(kObjectMagic, kObjectMagic + sizeof(kObjectMagic));
    header.push_back(kObjectVersion);
    header.push_back(flags);
    Bytes aad = header;
    aad.insert(aad.end(), sha.begin(), sha.end());
    TESSERA_ASSIGN_OR_RETURN(Bytes sealed, crypto::AeadSeal(keys_->message.view(), body, aad));
    header.insert(header.end(), sealed.begin(), sealed.end());
    stored_size = header.size();
    if (batch_)
      TESSERA_RETURN_IF_ERROR(objects_->PutUnsynced(MessageObjectName(sha), header));
    else
      TESSERA_RETURN_IF_ERROR(objects_->Put(MessageObjectName(sha), header));
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::optional<Transaction> own;  // outside a batch, each Add commits on its own
  if (!batch_) {
    TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
    own.emplace(std::move(tx));
  }
  // Looked up again inside the transaction: another process may have added it meanwhile.
  TESSERA_ASSIGN_OR_RETURN(existing, FindBySha256(sha));
  if (existing) {
    out.message = *existing;
  } else {
    if (stored_size == 0) return Status::Internal("message object was not written");
    TESSERA_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare(std::string("INSERT INTO messages(id, sha256, size, stored_size, "
                                 "message_id, subject, from_addr, date, attachments, first_seen) "
                                 "VALUES(") +
                     NextId("messages", "floor_message_id") + ",?,?,?,?,?,?,?,?,?)"));
    insert.BindBlob(1, sha)
        .Bind(2, static_cast<int64_t>(raw.size()))
        .Bind(3, static_cast<int64_t>(stored_size))
        .Bind(4, parsed.message_id)
        .Bind(5, parsed.subject)
        .Bind(6, FirstAddress(parsed.from))
        .Bind(8, static_cast<int64_t>(parsed.attachments.size()))
        .Bind(9, now);
    if (parsed.date) insert.Bind(7, *parsed.date);
    TESSERA_RETURN_IF_ERROR(insert.Run());
    out.message = db_->LastInsertId();
    out.new_message = true;
    TESSERA_RETURN_IF_ERROR(AppendChain("message", out.message, MessageDigest(sha, raw.size())));
  }
  const std::string recipients = RecipientsJson(delivery.recipients);
  TESSERA_ASSIGN_OR_RETURN(
      Statement seen, db_->Prepare("SELECT id FROM deliveries WHERE message=? AND folder=? AND "
                                   "envelope_from=? AND recipients=?"));
  seen.Bind(1, out.message)
      .Bind(2, delivery.folder)
      .Bind(3, delivery.envelope_from)
      .Bind(4, recipients);
  TESSERA_ASSIGN_OR_RETURN(bool already, seen.Step());
  if (!already) {
    TESSERA_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare(std::string("INSERT INTO deliveries(id, message, received_at, source, "
                                 "origin, folder, envelope_from, recipients) VALUES(") +
                     NextId("deliveries", "floor_delivery_id") + ",?,?,?,?,?,?,?)"));
    TESSERA_RETURN_IF_ERROR(insert.Bind(1, out.message)
                                .Bind(2, delivery.received_at)
                                .Bind(3, delivery.source)
                                .Bind(4, delivery.origin)
                                .Bind(5, delivery.folder)
                                .Bind(6, delivery.envelope_from)
                                .Bind(7, recipients)
                                .Run());
    const int64_t id = db_->LastInsertId();
    TESSERA_RETURN_IF_ERROR(AppendChain("delivery", id, DeliveryDigest(out.message, delivery)));
    out.new_delivery = true;
  }
  if (own) TESSERA_RETURN_IF_ERROR(own->Commit());
  return out;
}

Result<std::optional<int64_t>> MessageStore::FindBySha256(ByteView sha256) {
  TESSERA_ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT id FROM messages WHERE sha256=?"));
  q.BindBlob(1, sha256);
  TESSERA_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return std::optional<int64_t>();
  return std::optional<int64_t>(q.Int(0));
}

Result<StoredMessage> MessageStore::Find(int64_t id) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db_->Prepare("SELECT id, sha256, size, stored_size, message_id, subject, "
                                "from_addr, date, attachments, first_seen FROM messages "
                                "WHERE id=?"));
  q.Bind(1, id);
  TESSERA_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return Status::NotFound("no archived message has id " + std::to_string(id));
  StoredMessage m;
  m.id = q.Int(0);
  m.sha256 = q.Blob(1);
  m.size = static_cast<uint64_t>(q.Int(2));
  m.stored_size = static_cast<uint64_t>(q.Int(3));
  m.message_id = q.Text(4);
  m.subject = q.Text(5);
  m.from = q.Text(6);
  if (!q.IsNull(7)) m.date = q.Int(7);
  m.attachments = static_cast<int>(q.Int(8));
  m.first_seen = q.Int(9);
  return m;
}

Result<std::vector<StoredDelivery>> MessageStore::Deliveries(int64_t message) {
  return SelectDeliveries(message);
}

Result<std::vector<StoredDelivery>> MessageStore::DeliveriesAfter(int64_t after, size_t limit) {
  return SelectDeliveries(std::nullopt, after, limit);
}

Result<std::vector<StoredDelivery>> MessageStore::SelectDeliveries(std::optional<int64_t> message,
                                                                   std::optional<int64_t> after,
                                                                   size_t limit) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare(std::string("SELECT id, message, received_at, source, origin, folder, "
                               "envelope_from, recipients FROM deliveries") +
                   (message ? " WHERE message=?"
                    : after ? " WHERE id>?"
                            : "") +
                   " ORDER BY id" + (limit ? " LIMIT " + std::to_string(limit) : "")));
  if (message) q.Bind(1, *message);
  if (!message && after) q.Bind(1, *after);
  std::vector<StoredDelivery> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    StoredDelivery d;
    d.id = q.Int(0);
    d.message = q.Int(1);
    d.delivery.received_at = q.Int(2);
    d.delivery.source = q.Text(3);
    d.delivery.origin = q.Text(4);
    d.delivery.folder = q.Text(5);
    d.delivery.envelope_from = q.Text(6);
    auto j = nlohmann::json::parse(q.Text(7), nullptr, false);
    if (j.is_array())
      for (auto& r : j)
        if (r.is_string()) d.delivery.recipients.push_back(r.get<std::string>());
    out.push_back(std::move(d));
  }
  return out;
}

Result<Bytes> MessageStore::Raw(int64_t id) {
  TESSERA_ASSIGN_OR_RETURN(StoredMessage m, Find(id));
  const std::string name = MessageObjectName(m.sha256);
  auto object = objects_->Get(name);
  if (!object.ok()) {
    if (object.status().code() == StatusCode::kNotFound)
      return Status::Corruption("message " + std::to_string(id) + ": its object " + name +
                                " is missing from the archive store");
    return object.status();
  }
  const Bytes& o = *object;
  if (o.size() < kObjectHeader || !std::equal(kObjectMagic, kObjectMagic + 4, o.begin()))
    return Status::Corruption("message " + std::to_string(id) + ": " + name +
                              " is not an archived message object");
  if (o[4] != kObjectVersion)
    return Status::Corruption("message " + std::to_string(id) + ": object version " +
                              std::to_string(o[4]) + " is not one this tessera reads");
  Bytes aad(o.begin(), o.begin() + kObjectHeader);
  aad.insert(aad.end(), m.sha256.begin(), m.sha256.end());
  auto body = crypto::AeadOpen(keys_->message.view(),
                               ByteView(o.data() + kObjectHeader, o.size() - kObjectHeader), aad);
  if (!body.ok())
    return Status::Corruption("message " + std::to_string(id) + ": " + name +
                              " was altered or is not this archive's (authentication failed)");
  Bytes raw;
  if (o[5] & kFlagCompressed) {
    raw.resize(m.size);
    const size_t n = ZSTD_decompress(raw.data(), raw.size(), body->data(), body->size());
    if (ZSTD_isError(n) || n != m.size)
      return Status::Corruption("message " + std::to_string(id) + ": cannot decompress " + name);
  } else {
    raw = std::move(*body);
  }
  if (crypto::Sha256(raw) != m.sha256)
    return Status::Corruption("message " + std::to_string(id) +
                              ": its bytes do not match the recorded SHA-256");
  return raw;
}

uint64_t MessageStore::MessageCount() {
  auto q = db_->Prepare("SELECT count(*) FROM messages");
  if (!q.ok()) return 0;
  auto row = q->Step();
  return row.ok() && *row ? static_cast<uint64_t>(q->Int(0)) : 0;
}

Result<bool> MessageStore::FileImported(const std::string& path, uint64_t size, int64_t mtime) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare("SELECT 1 FROM imported_files WHERE path=? AND size=? AND mtime=?"));
  q.Bind(1, path).Bind(2, static_cast<int64_t>(size)).Bind(3, mtime);
  return q.Step();
}

Status MessageStore::MarkFileImported(const std::string& path, uint64_t size, int64_t mtime,
                                      uint64_t messages) {
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           db_->Prepare("INSERT OR REPLACE INTO imported_files(path, size, mtime, "
                                        "messages, done_at) VALUES(?,?,?,?,?)"));
  return q.Bind(1, path)
      .Bind(2, static_cast<int64_t>(size))
      .Bind(3, mtime)
      .Bind(4, static_cast<int64_t>(messages))
      .Bind(5, static_cast<int64_t>(std::time(nullptr)))
      .Run();
}

namespace {

Bytes DestroyedDigest(const DestroyedMessage& d) {
  nlohmann::json j = {
      {"message", d.message}, {"sha256", HexEncode(d.sha256)},  {"size", d.size},
      {"batch", d.batch},     {"destroyed_at", d.destroyed_at}, {"deliveries", d.deliveries}};
  return crypto::Sha256(ToBytes("destroyed\n" + JsonText(j)));
}

}  // namespace

Status MessageStore::Destroy(int64_t message, int64_t batch) {
  if (batch_) return Status::FailedPrecondition("a message cannot be destroyed inside a batch");
  DestroyedMessage d;
  {
    TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
    TESSERA_ASSIGN_OR_RETURN(StoredMessage m, Find(message));
    TESSERA_ASSIGN_OR_RETURN(std::vector<StoredDelivery> deliveries, Deliveries(message));
    d.message = message;
    d.sha256 = m.sha256;
    d.size = m.size;
    d.batch = batch;
    d.destroyed_at = static_cast<int64_t>(std::time(nullptr));
    for (const StoredDelivery& x : deliveries) d.deliveries.push_back(x.id);
    TESSERA_ASSIGN_OR_RETURN(Statement insert,
                             db_->Prepare("INSERT INTO destroyed_messages(message, sha256, size, "
                                          "batch, destroyed_at, deliveries) VALUES(?,?,?,?,?,?)"));
    TESSERA_RETURN_IF_ERROR(insert.Bind(1, message)
                                .BindBlob(2, d.sha256)
                                .Bind(3, static_cast<int64_t>(d.size))
                                .Bind(4, batch)
                                .Bind(5, d.destroyed_at)
                                .Bind(6, JsonText(nlohmann::json(d.deliveries)))
                                .Run());
    d.seq = db_->LastInsertId();
    int64_t last_delivery = 0;
    for (int64_t id : d.deliveries) last_delivery = std::max(last_delivery, id);
    for (const auto& [key, id] : {std::pair<const char*, int64_t>{"floor_message_id", message},
                                  {"floor_delivery_id", last_delivery}}) {
      TESSERA_ASSIGN_OR_RETURN(
          Statement floor,
          db_->Prepare("INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE "
                       "SET value=max(CAST(value AS INTEGER), ?2)"));
      TESSERA_RETURN_IF_ERROR(floor.Bind(1, std::string_view(key)).Bind(2, id).Run());
    }
    TESSERA_ASSIGN_OR_RETURN(Statement drop_deliveries,
                             db_->Prepare("DELETE FROM deliveries WHERE message=?"));
    TESSERA_RETURN_IF_ERROR(drop_deliveries.Bind(1, message).Run());
    TESSERA_ASSIGN_OR_RETURN(Statement drop_message,
                             db_->Prepare("DELETE FROM messages WHERE id=?"));
    TESSERA_RETURN_IF_ERROR(drop_message.Bind(1, message).Run());
    TESSERA_RETURN_IF_ERROR(AppendChain("destroyed", message, DestroyedDigest(d)));
    TESSERA_RETURN_IF_ERROR(tx.Commit());
  }
  return RemoveDestroyedObject(d);
}

Status MessageStore::RemoveDestroyedObject(const DestroyedMessage& destroyed) {
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> again, FindBySha256(destroyed.sha256));
  if (again) return Status::Ok();  // the same bytes were archived anew: the object is theirs
  Status st = objects_->Delete(MessageObjectName(destroyed.sha256));
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  return Status::Ok();
}

namespace {

DestroyedMessage ReadDestroyed(Statement& q) {
  DestroyedMessage d;
  d.seq = q.Int(0);
  d.message = q.Int(1);
  d.sha256 = q.Blob(2);
  d.size = static_cast<uint64_t>(q.Int(3));
  d.batch = q.Int(4);
  d.destroyed_at = q.Int(5);
  auto j = nlohmann::json::parse(q.Text(6), nullptr, false);
  if (j.is_array())
    for (auto& id : j)
      if (id.is_number_integer()) d.deliveries.push_back(id.get<int64_t>());
  return d;
}

constexpr const char* kSelectDestroyed =
    "SELECT seq, message, sha256, size, batch, destroyed_at, deliveries FROM destroyed_messages";

}  // namespace

Result<std::optional<DestroyedMessage>> MessageStore::FindDestroyed(int64_t message) {
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           db_->Prepare(std::string(kSelectDestroyed) + " WHERE message=?"));
  q.Bind(1, message);
  TESSERA_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return std::optional<DestroyedMessage>();
  return std::optional<DestroyedMessage>(ReadDestroyed(q));
}

Result<std::optional<DestroyedMessage>> MessageStore::FindDestroyedBySha256(ByteView sha256) {
  TESSERA_ASSIGN_OR_RETURN(Statement q, db_->Prepare(std::string(kSelectDestroyed) +
                                                     " WHERE sha256=? ORDER BY seq DESC LIMIT 1"));
  q.BindBlob(1, sha256);
  TESSERA_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return std::optional<DestroyedMessage>();
  return std::optional<DestroyedMessage>(ReadDestroyed(q));
}

Result<std::vector<DestroyedMessage>> MessageStore::DestroyedAfter(int64_t after) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db_->Prepare(std::string(kSelectDestroyed) + " WHERE seq>? ORDER BY seq"));
  q.Bind(1, after);
  std::vector<DestroyedMessage> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(ReadDestroyed(q));
  }
  return out;
}

Result<VerifyReport> MessageStore::Verify(bool read_messages) {
  VerifyReport report;
  // Every record as it is now, to compare with what the chain committed to.
  std::map<int64_t, Bytes> message_digests, delivery_digests;
  {
    TESSERA_ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT id, sha256, size FROM messages"));
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      message_digests[q.Int(0)] = MessageDigest(q.Blob(1), static_cast<uint64_t>(q.Int(2)));
    }
  }
  TESSERA_ASSIGN_OR_RETURN(std::vector<StoredDelivery> deliveries, SelectDeliveries(std::nullopt));
  for (const StoredDelivery& d : deliveries)
    delivery_digests[d.id] = DeliveryDigest(d.message, d.delivery);
  // Destroyed messages: what the chain committed to for them, and for their tombstones.
  std::map<int64_t, Bytes> destroyed_message_digests, tombstone_digests;
  std::set<int64_t> destroyed_deliveries;
  {
    TESSERA_ASSIGN_OR_RETURN(std::vector<DestroyedMessage> destroyed, DestroyedAfter(0));
    for (const DestroyedMessage& d : destroyed) {
      destroyed_message_digests[d.message] = MessageDigest(d.sha256, d.size);
      tombstone_digests[d.message] = DestroyedDigest(d);
      destroyed_deliveries.insert(d.deliveries.begin(), d.deliveries.end());
    }
  }
  report.messages = message_digests.size();
  report.deliveries = delivery_digests.size();

  TESSERA_ASSIGN_OR_RETURN(
      Statement chain, db_->Prepare("SELECT seq, kind, ref, digest, link FROM chain ORDER BY seq"));
  Bytes previous(32, 0);
  int64_t expected_seq = 1;
  std::set<int64_t> chained_messages, chained_deliveries, chained_tombstones;
  auto problem = [&](std::string p) {
    if (report.problems.size() < 1000) report.problems.push_back(std::move(p));
  };
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, chain.Step());
    if (!row) break;
    report.chain_records++;
    const int64_t seq = chain.Int(0);
    const std::string kind = chain.Text(1);
    const int64_t ref = chain.Int(2);
    const Bytes digest = chain.Blob(3), link = chain.Blob(4);
    if (seq != expected_seq)
      problem(
          "chain: record " + std::to_string(expected_seq) +
          (seq > expected_seq ? " to " + std::to_string(seq - 1) + " removed" : " out of order"));
    expected_seq = seq + 1;
    const std::string header =
        std::to_string(seq) + "\n" + kind + "\n" + std::to_string(ref) + "\n";
    if (!crypto::ConstantTimeEqual(keys_->chain->Mac({previous, AsBytes(header), digest}), link))
      problem(
          "chain: record " + std::to_string(seq) +
          " does not follow from the one before (edited, inserted, or a record before it removed)");
    previous = link;
    if (kind == "destroyed") {
      chained_tombstones.insert(ref);
      auto it = tombstone_digests.find(ref);
      if (it == tombstone_digests.end())
        problem("the record of message " + std::to_string(ref) + "'s destruction was removed");
      else if (it->second != digest)
        problem("the record of message " + std::to_string(ref) + "'s destruction was changed");
      continue;
    }
    auto& current = kind == "message" ? message_digests : delivery_digests;
    if (kind != "message" && kind != "delivery") {
      problem("chain: record " + std::to_string(seq) + " has unknown kind " + kind);
      continue;
    }
    (kind == "message" ? chained_messages : chained_deliveries).insert(ref);
    auto it = current.find(ref);
    if (it != current.end()) {
      if (it->second != digest)
        problem(kind + " " + std::to_string(ref) + " was changed in the database");
      continue;
    }
    // Gone: rightly only when a destruction batch destroyed it.
    if (kind == "message") {
      auto d = destroyed_message_digests.find(ref);
      if (d == destroyed_message_digests.end())
        problem("message " + std::to_string(ref) + " was removed from the database");
      else if (d->second != digest)
        problem("message " + std::to_string(ref) + "'s destruction record names other bytes");
    } else if (!destroyed_deliveries.count(ref)) {
      problem("delivery " + std::to_string(ref) + " was removed from the database");
    }
  }
  for (auto& [id, digest] : tombstone_digests)
    if (!chained_tombstones.count(id))
      problem("the destruction of message " + std::to_string(id) +
              " is not in the chain (recorded behind the archive's back)");
  for (auto& [id, digest] : message_digests)
    if (!chained_messages.count(id))
      problem("message " + std::to_string(id) +
              " is not in the chain (added behind the archive's back)");
  for (auto& [id, digest] : delivery_digests)
    if (!chained_deliveries.count(id))
      problem("delivery " + std::to_string(id) +
              " is not in the chain (added behind the archive's back)");
  report.head = std::to_string(expected_seq - 1) + ":" + HexEncode(previous);

  if (read_messages) {
    for (auto& [id, digest] : message_digests) {
      auto raw = Raw(id);
      if (!raw.ok()) problem(raw.status().message());
    }
  }
  return report;
}

}  // namespace tessera::archive
