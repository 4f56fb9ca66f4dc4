// The archive's message store. Every message is kept once (single instance: identical
// bytes are one message, found by their SHA-256), compressed and encrypted at rest
// (AES-256-GCM under the archive key) as an object of its own; every delivery of it (who
// sent it to whom, into which folder, from which source) is a row of its own, so no
// recipient or folder is lost to deduplication. Messages and deliveries are linked in a
// keyed hash chain in the order they were recorded: Verify() detects a message object
// that was changed or deleted, and a record that was edited, removed or reordered.
// Layout and formats: docs/archive-format.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/mime.hpp"
#include "base/bytes.hpp"
#include "base/sqlite.hpp"
#include "base/status.hpp"
#include "store/file_store.hpp"

namespace tessera::archive {

// How a message reached the archive.
struct Delivery {
  std::string source;  // "import", "lmtp", "smtp"
  std::string origin;  // the file (and position in it) or the peer it came from
  std::string folder;  // mailbox folder, "" when none
  std::string envelope_from;
  std::vector<std::string> recipients;  // envelope recipients, Bcc included
  int64_t received_at = 0;              // Unix seconds
};

struct StoredMessage {
  int64_t id = 0;
  Bytes sha256;
  uint64_t size = 0;         // of the raw message
  uint64_t stored_size = 0;  // of its object (compressed, encrypted)
  std::string message_id, subject, from;
  std::optional<int64_t> date;
  int attachments = 0;
  int64_t first_seen = 0;
};

struct StoredDelivery {
  int64_t id = 0;
  int64_t message = 0;
  Delivery delivery;
};

struct AddOutcome {
  int64_t message = 0;
  bool new_message = false;   // false: these bytes were archived before
  bool new_delivery = false;  // false: this very delivery was recorded before
};

// What is left of a message destroyed by a destruction batch (retention.hpp): enough to
// account for it in the chain, nothing of its content.
struct DestroyedMessage {
  int64_t seq = 0;  // order of destruction
  int64_t message = 0;
  Bytes sha256;
  uint64_t size = 0;
  int64_t batch = 0;
  int64_t destroyed_at = 0;
  std::vector<int64_t> deliveries;  // the ids of its deliveries, removed with it
};

struct VerifyReport {
  uint64_t messages = 0, deliveries = 0, chain_records = 0;
  std::vector<std::string> problems;  // empty when everything holds
  std::string head;                   // the chain's last link, to compare with a record kept apart
};

class MessageStore {
 public:
  // Opens the store in `dir` (its database, key file and message objects), creating it
  // on first use. The key file is created readable by its owner only; one readable by
  // others is refused (PermissionDenied).
  static Result<std::unique_ptr<MessageStore>> Open(const std::filesystem::path& dir);
  ~MessageStore();

  // Archives one message and its delivery. The message is on the device (object and
  // records committed) when this returns OK; a crash before leaves nothing half-recorded.
  Result<AddOutcome> Add(ByteView raw, const ParsedMessage& parsed, const Delivery& delivery);

  // The same for a message too large to hold in memory. `write` hands the message's bytes,
  // in order, to the function it is given; it is called more than once (to hash the
  // message, then to store it) and must hand over the same bytes each time. The message
  // is stored in pieces (object version 2) and parsed from what was stored, so memory
  // stays bounded whatever its size.
  using MessageWriter = std::function<Status(const std::function<Status(ByteView)>&)>;
  Result<AddOutcome> AddStreamed(const MessageWriter& write, const Delivery& delivery);

  // Groups the Adds that follow, until CommitBatch(), into one commit: their objects
  // reach the device together (one file-system sync, not two per message) and then their
  // records in one transaction. Nothing added in a batch counts as archived before
  // CommitBatch() returns OK; a crash before leaves none of it recorded. An import is many
  // times faster so.
  Status BeginBatch();
  Status CommitBatch();
  bool in_batch() const { return batch_.has_value(); }

  Result<StoredMessage> Find(int64_t id);
  Result<std::optional<int64_t>> FindBySha256(ByteView sha256);
  Result<std::vector<StoredDelivery>> Deliveries(int64_t message);
  // Up to `limit` deliveries recorded after the one with id `after`, in the order recorded
  // (for those that follow the archive, such as the search index).
  Result<std::vector<StoredDelivery>> DeliveriesAfter(int64_t after, size_t limit);
  // The message's bytes as received, checked against its recorded SHA-256. Holds the
  // whole message: for messages known to be small; others are read with ReadRaw.
  Result<Bytes> Raw(int64_t id);
  // The same handed to `sink` a piece at a time (memory bounded for a message stored in
  // pieces); the check against the SHA-256 fails after the last piece, so a reader that
  // must not give out a damaged message (an export, a redelivery) keeps what it wrote
  // from counting until ReadRaw returned OK. A message stored whole (version 1) is read
  // and checked whole, then handed over in one piece.
  Status ReadRaw(int64_t id, const std::function<Status(ByteView)>& sink);
  // Reads the message from start to end and checks it (every piece, its SHA-256) without
  // holding it: for readers that must know it is intact before they give out any of it.
  Status Check(int64_t id);
  // The message parsed: read whole when it is at most `whole_bytes` long, else through
  // OpenMessage with parts larger than `whole_bytes` left undecoded (ParseMessage of a
  // MessageSource), so memory stays bounded whatever its size. InvalidArgument when the
  // message is empty; other errors when it cannot be read.
  Result<ParsedMessage> Parse(const StoredMessage& m, uint64_t whole_bytes);
  // The message for reading at any position (ParseMessage of a MessageSource): a message
  // stored in pieces is read a piece at a time, each authenticated as it is read; one
  // stored whole is read whole.
  Result<std::unique_ptr<MessageSource>> OpenMessage(int64_t id);
  uint64_t MessageCount();

  // Whether an import already finished this file, unchanged since (same size and mtime).
  Result<bool> FileImported(const std::string& path, uint64_t size, int64_t mtime);
  Status MarkFileImported(const std::string& path, uint64_t size, int64_t mtime, uint64_t messages);

  // Destroys a message for destruction batch `batch`: its deliveries and its record are
  // removed and a tombstone is chained in one transaction, then its object is deleted
  // (kept if the same bytes have since been archived anew). Only retention's purge calls
  // this; nothing else in tessera deletes mail. NotFound when there is no such message.
  Status Destroy(int64_t message, int64_t batch);
  // Deletes the object of a destroyed message if it is still there (a crash between the
  // commit and the deletion leaves it) and no message archived since has the same bytes.
  Status RemoveDestroyedObject(const DestroyedMessage& destroyed);
  Result<std::optional<DestroyedMessage>> FindDestroyed(int64_t message);
  // The last destruction of these bytes, if a batch destroyed them (imports of old mail
  // use it not to bring destroyed mail back).
  Result<std::optional<DestroyedMessage>> FindDestroyedBySha256(ByteView sha256);
  // Destructions after the one numbered `after`, in order (for the search index).
  Result<std::vector<DestroyedMessage>> DestroyedAfter(int64_t after);

  // Checks the chain, every record against it, and (with `read_messages`) every message
  // object against its SHA-256.
  Result<VerifyReport> Verify(bool read_messages);

  Database& database() { return *db_; }

 private:
  struct Keys;
  MessageStore(std::unique_ptr<Database> db, std::unique_ptr<store::FileStore> objects,
               std::unique_ptr<Keys> keys);
  Status AppendChain(const std::string& kind, int64_t ref, ByteView digest);
  // The records of an Add: the message (when `object_size` is set, the size of its newly
  // written object) and its delivery, in one transaction unless a batch is open.
  Result<AddOutcome> Record(ByteView sha, uint64_t size, const ParsedMessage* parsed,
                            std::optional<uint64_t> object_size, const Delivery& delivery);
  // The version of the message's object (1 whole, 2 in pieces); Corruption when it is
  // missing or not a message object.
  Result<uint8_t> ObjectVersion(const StoredMessage& m);
  Result<std::unique_ptr<MessageSource>> OpenPieces(const StoredMessage& m);
  // Every delivery, or those of one message, or those after a delivery id, in the order
  // recorded.
  Result<std::vector<StoredDelivery>> SelectDeliveries(std::optional<int64_t> message,
                                                       std::optional<int64_t> after = {},
                                                       size_t limit = 0);

  std::unique_ptr<Database> db_;
  std::unique_ptr<store::FileStore> objects_;
  std::unique_ptr<Keys> keys_;
  std::optional<Transaction> batch_;  // while a batch is open
};

// The object name of a message: "messages/ab/<64 hex digits>".
std::string MessageObjectName(ByteView sha256);

}  // namespace tessera::archive
