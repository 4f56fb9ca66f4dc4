#include "archive/message_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
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

constexpr int kSchemaVersion = 2;            // 2: retention and destruction (1 upgrades in place)
constexpr uint8_t kObjectVersion = 1;        // the message sealed whole
constexpr uint8_t kObjectVersionPieces = 2;  // sealed in pieces (docs/archive-format.md)
constexpr uint8_t kFlagCompressed = 1;
constexpr char kObjectMagic[4] = {'T', 'S', 'A', 'M'};
constexpr size_t kObjectHeader = sizeof(kObjectMagic) + 2;  // magic, version, flags
constexpr size_t kPiecesHeader = kObjectHeader + 4;         // and the piece size
constexpr uint32_t kPieceSize = 1u << 20;  // of the message, in each piece but the last
constexpr int kZstdLevel = 3;              // mail is small and text: level 3 costs little over 1
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

void PutU32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

uint32_t GetU32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// The associated data of piece `index` of an object in pieces: its header, the message's
// SHA-256, the piece's number and whether it is the last, so that a piece cannot be moved
// to another object or place, and an object cannot be cut short.
Bytes PieceAad(ByteView header, ByteView sha, uint64_t index, bool last) {
  Bytes aad(header.begin(), header.end());
  aad.insert(aad.end(), sha.begin(), sha.end());
  for (int shift = 56; shift >= 0; shift -= 8) aad.push_back(static_cast<uint8_t>(index >> shift));
  aad.push_back(last ? 1 : 0);
  return aad;
}

uint64_t PieceCount(uint64_t size, uint32_t piece_size) {
  return std::max<uint64_t>(1, (size + piece_size - 1) / piece_size);
}

// A message held whole, read at any position.
class MemorySource : public MessageSource {
 public:
  explicit MemorySource(Bytes raw) : raw_(std::move(raw)) {}
  uint64_t size() const override { return raw_.size(); }
  Result<size_t> ReadAt(uint64_t position, uint8_t* out, size_t n) override {
    if (position >= raw_.size()) return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, raw_.size() - position));
    std::memcpy(out, raw_.data() + position, n);
    return n;
  }

 private:
  Bytes raw_;
};

// An object in pieces, read a piece at a time: each piece is authenticated and
// decompressed when first needed, and the last one read is kept.
class PieceSource : public MessageSource {
 public:
  static Result<std::unique_ptr<PieceSource>> Open(const std::filesystem::path& path,
                                                   const std::string& what, const SecretBytes& key,
                                                   ByteView sha, uint64_t size) {
    std::unique_ptr<PieceSource> s(new PieceSource(what, key, sha, size));
    s->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (s->fd_ < 0) {
      if (errno == ENOENT) return Status::Corruption(what + " is missing from the archive store");
      return Status::FromErrno("cannot open " + path.string(), errno);
    }
    struct stat st {};
    if (::fstat(s->fd_, &st) != 0) return Status::FromErrno("cannot read " + path.string(), errno);
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    uint8_t header[kPiecesHeader];
    TESSERA_RETURN_IF_ERROR(s->ReadExactly(0, header, sizeof header));
    if (!std::equal(kObjectMagic, kObjectMagic + 4, header) || header[4] != kObjectVersionPieces ||
        (header[5] & ~kFlagCompressed) != 0)
      return s->Damaged("is not an archived message object in pieces");
    s->header_.assign(header, header + sizeof header);
    s->compressed_ = (header[5] & kFlagCompressed) != 0;
    s->piece_size_ = GetU32(header + kObjectHeader);
    if (s->piece_size_ < 4096 || s->piece_size_ > (64u << 20))
      return s->Damaged("has an implausible piece size");
    // Where each piece lies: a 4-byte length before each.
    const uint64_t pieces = PieceCount(size, s->piece_size_);
    const uint64_t max_sealed = ZSTD_compressBound(s->piece_size_) + crypto::kAeadOverhead;
    uint64_t at = kPiecesHeader;
    for (uint64_t i = 0; i < pieces; ++i) {
      uint8_t length[4];
      TESSERA_RETURN_IF_ERROR(s->ReadExactly(at, length, 4));
      const uint64_t n = GetU32(length);
      if (n < crypto::kAeadOverhead || n > max_sealed || at + 4 + n > file_size)
        return s->Damaged("has a damaged piece " + std::to_string(i));
      s->pieces_.push_back({at + 4, static_cast<uint32_t>(n)});
      at += 4 + n;
    }
    if (at != file_size) return s->Damaged("does not end after its last piece");
    return s;
  }
  ~PieceSource() override {
    if (fd_ >= 0) ::close(fd_);
  }

  uint64_t size() const override { return size_; }
  uint64_t pieces() const { return pieces_.size(); }

  Result<size_t> ReadAt(uint64_t position, uint8_t* out, size_t n) override {
    if (position >= size_) return size_t{0};
    const uint64_t index = position / piece_size_;
    TESSERA_ASSIGN_OR_RETURN(ByteView piece, Piece(index));
    const size_t offset = static_cast<size_t>(position - index * piece_size_);
    n = std::min(n, piece.size() - offset);
    std::memcpy(out, piece.data() + offset, n);
    return n;
  }

  // Piece `index`, opened and checked.
  Result<ByteView> Piece(uint64_t index) {
    if (cached_ == index) return ByteView(plain_);
    cached_ = ~uint64_t{0};
    const bool last = index + 1 == pieces_.size();
    const uint64_t expected = last ? size_ - index * piece_size_ : piece_size_;
    sealed_.resize(pieces_[index].length);
    TESSERA_RETURN_IF_ERROR(ReadExactly(pieces_[index].offset, sealed_.data(), sealed_.size()));
    auto opened = crypto::AeadOpen(key_.view(), sealed_, PieceAad(header_, sha_, index, last));
    if (!opened.ok())
      return Damaged("was altered or is not this archive's (piece " + std::to_string(index) +
                     " fails authentication)");
    if (compressed_) {
      plain_.resize(static_cast<size_t>(expected));
      const size_t n =
          ZSTD_decompress(plain_.data(), plain_.size(), opened->data(), opened->size());
      if (ZSTD_isError(n) || n != expected)
        return Damaged("cannot be decompressed (piece " + std::to_string(index) + ")");
    } else {
      if (opened->size() != expected) return Damaged("has a piece of the wrong size");
      plain_ = std::move(*opened);
    }
    cached_ = index;
    return ByteView(plain_);
  }

 private:
  struct Place {
    uint64_t offset;
    uint32_t length;
  };
  PieceSource(std::string what, const SecretBytes& key, ByteView sha, uint64_t size)
      : what_(std::move(what)), key_(key), sha_(sha.begin(), sha.end()), size_(size) {}
  Status Damaged(const std::string& why) const { return Status::Corruption(what_ + " " + why); }
  Status ReadExactly(uint64_t offset, uint8_t* out, size_t n) {
    while (n > 0) {
      const ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return Status::FromErrno("cannot read " + what_, errno);
      if (got == 0) return Damaged("is cut short");
      out += got;
      n -= static_cast<size_t>(got);
      offset += static_cast<uint64_t>(got);
    }
    return Status::Ok();
  }

  std::string what_;
  SecretBytes key_;
  Bytes sha_;
  uint64_t size_;
  int fd_ = -1;
  Bytes header_;
  bool compressed_ = true;
  uint32_t piece_size_ = 0;
  std::vector<Place> pieces_;
  uint64_t cached_ = ~uint64_t{0};
  Bytes sealed_, plain_;
};

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
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> existing, FindBySha256(sha));
  std::optional<uint64_t> stored_size;
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
  return Record(sha, raw.size(), &parsed, stored_size, delivery);
}

Result<AddOutcome> MessageStore::AddStreamed(const MessageWriter& write, const Delivery& delivery) {
  crypto::Sha256Hasher hasher;
  uint64_t size = 0;
  TESSERA_RETURN_IF_ERROR(write([&](ByteView piece) {
    hasher.Update(piece);
    size += piece.size();
    return Status::Ok();
  }));
  const Bytes sha = hasher.Final();
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> existing, FindBySha256(sha));
  if (existing) return Record(sha, size, nullptr, std::nullopt, delivery);

  // The object first, as in Add: each piece of the message compressed and sealed apart.
  Bytes header(kObjectMagic, kObjectMagic + sizeof(kObjectMagic));
  header.push_back(kObjectVersionPieces);
  header.push_back(kFlagCompressed);
  PutU32(header, kPieceSize);
  const uint64_t pieces = PieceCount(size, kPieceSize);
  const std::string name = MessageObjectName(sha);
  uint64_t stored_size = 0;
  auto store_object = [&](const std::function<Status(ByteView)>& out) -> Status {
    TESSERA_RETURN_IF_ERROR(out(header));
    stored_size = header.size();
    Bytes piece, compressed, length;
    piece.reserve(kPieceSize);
    uint64_t index = 0, seen = 0;
    auto seal = [&]() -> Status {
      const bool last = index + 1 == pieces;
      compressed.resize(ZSTD_compressBound(piece.size()));
      const size_t n = ZSTD_compress(compressed.data(), compressed.size(), piece.data(),
                                     piece.size(), kZstdLevel);
      if (ZSTD_isError(n)) return Status::Internal("zstd cannot compress a message piece");
      compressed.resize(n);
      TESSERA_ASSIGN_OR_RETURN(Bytes sealed, crypto::AeadSeal(keys_->message.view(), compressed,
                                                              PieceAad(header, sha, index, last)));
      length.clear();
      PutU32(length, static_cast<uint32_t>(sealed.size()));
      TESSERA_RETURN_IF_ERROR(out(length));
      TESSERA_RETURN_IF_ERROR(out(sealed));
      stored_size += length.size() + sealed.size();
      piece.clear();
      ++index;
      return Status::Ok();
    };
    TESSERA_RETURN_IF_ERROR(write([&](ByteView data) -> Status {
      seen += data.size();
      if (seen > size) return Status::InvalidArgument("the message changed while it was stored");
      while (!data.empty()) {
        const size_t take = std::min<size_t>(data.size(), kPieceSize - piece.size());
        piece.insert(piece.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
        data = data.subspan(take);
        if (piece.size() == kPieceSize && index + 1 < pieces) TESSERA_RETURN_IF_ERROR(seal());
      }
      return Status::Ok();
    }));
    if (seen != size || index + 1 != pieces)
      return Status::InvalidArgument("the message changed while it was stored");
    return seal();
  };
  TESSERA_RETURN_IF_ERROR(objects_->PutStreamed(name, store_object, !batch_));

  // What the records say of it, parsed from what was stored (its parts not decoded).
  StoredMessage stored;
  stored.sha256 = sha;
  stored.size = size;
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<MessageSource> source, OpenPieces(stored));
  auto parsed = ParseMessage(std::shared_ptr<MessageSource>(std::move(source)), 0);
  ParsedMessage none;
  if (!parsed.ok() && parsed.status().code() != StatusCode::kInvalidArgument)
    return parsed.status();
  return Record(sha, size, parsed.ok() ? &*parsed : &none, stored_size, delivery);
}

Result<AddOutcome> MessageStore::Record(ByteView sha, uint64_t size, const ParsedMessage* parsed,
                                        std::optional<uint64_t> object_size,
                                        const Delivery& delivery) {
  AddOutcome out;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::optional<Transaction> own;  // outside a batch, each Add commits on its own
  if (!batch_) {
    TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
    own.emplace(std::move(tx));
  }
  // Looked up again inside the transaction: another process may have added it meanwhile.
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> existing, FindBySha256(sha));
  if (existing) {
    out.message = *existing;
  } else {
    if (!object_size || parsed == nullptr)
      return Status::Internal("message object was not written");
    TESSERA_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare(std::string("INSERT INTO messages(id, sha256, size, stored_size, "
                                 "message_id, subject, from_addr, date, attachments, first_seen) "
                                 "VALUES(") +
                     NextId("messages", "floor_message_id") + ",?,?,?,?,?,?,?,?,?)"));
    insert.BindBlob(1, sha)
        .Bind(2, static_cast<int64_t>(size))
        .Bind(3, static_cast<int64_t>(*object_size))
        .Bind(4, parsed->message_id)
        .Bind(5, parsed->subject)
        .Bind(6, FirstAddress(parsed->from))
        .Bind(8, static_cast<int64_t>(parsed->attachments.size()))
        .Bind(9, now);
    if (parsed->date) insert.Bind(7, *parsed->date);
    TESSERA_RETURN_IF_ERROR(insert.Run());
    out.message = db_->LastInsertId();
    out.new_message = true;
    TESSERA_RETURN_IF_ERROR(AppendChain("message", out.message, MessageDigest(sha, size)));
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

Result<uint8_t> MessageStore::ObjectVersion(const StoredMessage& m) {
  const std::string name = MessageObjectName(m.sha256);
  const std::string what = "message " + std::to_string(m.id) + ": " + name;
  const std::filesystem::path path = objects_->root() / name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return Status::Corruption("message " + std::to_string(m.id) + ": its object " + name +
                                " is missing from the archive store");
    return Status::FromErrno("cannot open " + path.string(), errno);
  }
  uint8_t header[kObjectHeader];
  const ssize_t n = ::pread(fd, header, sizeof header, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof header) ||
      !std::equal(kObjectMagic, kObjectMagic + 4, header))
    return Status::Corruption(what + " is not an archived message object");
  if (header[4] != kObjectVersion && header[4] != kObjectVersionPieces)
    return Status::Corruption("message " + std::to_string(m.id) + ": object version " +
                              std::to_string(header[4]) + " is not one this tessera reads");
  return header[4];
}

Result<std::unique_ptr<MessageSource>> MessageStore::OpenPieces(const StoredMessage& m) {
  const std::string name = MessageObjectName(m.sha256);
  TESSERA_ASSIGN_OR_RETURN(
      std::unique_ptr<PieceSource> source,
      PieceSource::Open(objects_->root() / name, "message " + std::to_string(m.id) + ": " + name,
                        keys_->message, m.sha256, m.size));
  return std::unique_ptr<MessageSource>(std::move(source));
}

Result<std::unique_ptr<MessageSource>> MessageStore::OpenMessage(int64_t id) {
  TESSERA_ASSIGN_OR_RETURN(StoredMessage m, Find(id));
  TESSERA_ASSIGN_OR_RETURN(uint8_t version, ObjectVersion(m));
  if (version == kObjectVersionPieces) return OpenPieces(m);
  TESSERA_ASSIGN_OR_RETURN(Bytes raw, Raw(id));
  return std::unique_ptr<MessageSource>(new MemorySource(std::move(raw)));
}

Status MessageStore::ReadRaw(int64_t id, const std::function<Status(ByteView)>& sink) {
  TESSERA_ASSIGN_OR_RETURN(StoredMessage m, Find(id));
  TESSERA_ASSIGN_OR_RETURN(uint8_t version, ObjectVersion(m));
  if (version != kObjectVersionPieces) {
    TESSERA_ASSIGN_OR_RETURN(Bytes raw, Raw(id));
    return sink(raw);
  }
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<MessageSource> opened, OpenPieces(m));
  auto& source = static_cast<PieceSource&>(*opened);
  crypto::Sha256Hasher hasher;
  for (uint64_t i = 0; i < source.pieces(); ++i) {
    TESSERA_ASSIGN_OR_RETURN(ByteView piece, source.Piece(i));
    hasher.Update(piece);
    TESSERA_RETURN_IF_ERROR(sink(piece));
  }
  if (hasher.Final() != m.sha256)
    return Status::Corruption("message " + std::to_string(id) +
                              ": its bytes do not match the recorded SHA-256");
  return Status::Ok();
}

Status MessageStore::Check(int64_t id) {
  return ReadRaw(id, [](ByteView) { return Status::Ok(); });
}

Result<ParsedMessage> MessageStore::Parse(const StoredMessage& m, uint64_t whole_bytes) {
  if (m.size <= whole_bytes) {
    TESSERA_ASSIGN_OR_RETURN(Bytes raw, Raw(m.id));
    return ParseMessage(raw);
  }
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<MessageSource> source, OpenMessage(m.id));
  return ParseMessage(std::shared_ptr<MessageSource>(std::move(source)), whole_bytes);
}

Result<Bytes> MessageStore::Raw(int64_t id) {
  TESSERA_ASSIGN_OR_RETURN(StoredMessage m, Find(id));
  TESSERA_ASSIGN_OR_RETURN(uint8_t version, ObjectVersion(m));
  if (version == kObjectVersionPieces) {
    Bytes raw;
    raw.reserve(static_cast<size_t>(m.size));
    TESSERA_RETURN_IF_ERROR(ReadRaw(id, [&](ByteView piece) {
      raw.insert(raw.end(), piece.begin(), piece.end());
      return Status::Ok();
    }));
    return raw;
  }
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
      Status read = Check(id);
      if (!read.ok()) problem(read.message());
    }
  }
  return report;
}

}  // namespace tessera::archive
