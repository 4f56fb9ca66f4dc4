// An exchange center's spool: every item it accepted, and per recipient where that item
// is. Store-and-forward with at-least-once delivery:
//   queued ──Lease──► leased ──Acknowledge──► delivered
//      ▲                 │ lease runs out
//      └─────────────────┘
//   queued (for a peer center) ──MarkForwarded──► forwarded
//   queued ──Expire──► expired (the center then sends the sender an "expired" receipt)
// A payload is fsynced in the spool before the item's rows are committed, and the rows are
// committed before the sender hears "accepted", so an accepted item survives a crash. A
// payload no delivery needs any more is removed only after the rows saying so are
// committed (a batch hands those files to its caller, to remove off its thread). A
// resend of the same item (same sender, id and payload hash) is recognised and answered
// with the first receipt; a different payload under the same id is refused.
//
// Not thread-safe: the center uses it from one storage thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/sqlite.hpp"
#include "base/status.hpp"
#include "exchange/envelope.hpp"
#include "exchange/registry.hpp"

namespace tessera::exchange {

struct Route {
  std::string recipient;  // agency code
  std::string via;        // "" to deliver here, else the id of the peer center
};

struct AcceptedItem {
  int64_t seq = 0;
  bool duplicate = false;  // this was a resend of an item accepted before
  Bytes receipt;           // the "accepted" receipt given (the first one, for a resend)
};

struct LeasedItem {
  int64_t delivery = 0;  // the token to acknowledge
  int64_t seq = 0;
  Bytes header;  // the sealed routing header, as received
  std::filesystem::path payload;
  uint64_t payload_size = 0;
  std::vector<std::string> recipients;  // forwarding: those this peer takes
};

struct DeliveryStatus {
  std::string recipient;
  std::string state;  // queued, leased, delivered, forwarded, expired
  std::string via;    // peer center, if forwarded
  int64_t updated_at = 0;
  int attempts = 0;
};

struct ExpiredItem {
  std::string sender;
  std::string id;
  std::string recipient;
  std::string payload_sha256;
};

class CenterStore {
 public:
  // Opens (creating on first use) <dir>/center.db and <dir>/spool/.
  static Result<std::unique_ptr<CenterStore>> Open(const std::filesystem::path& dir);
  ~CenterStore();

  // A fresh path in the spool for a payload being received (the caller writes it, and
  // removes it if it does not call Accept).
  std::filesystem::path IncomingPath();

  // The item a sender already sent under `id`: nullopt if none; the first receipt if the
  // payload hash is the same; AlreadyExists if it differs.
  Result<std::optional<AcceptedItem>> FindExisting(const std::string& sender, const std::string& id,
                                                   const std::string& payload_sha256);
  // Moves `payload` (complete, checked against the header, and already synced to the
  // device: SyncFile) into the spool durably and commits the item with its routes;
  // `make_receipt` signs the accepted receipt.
  Result<AcceptedItem> Accept(const SealedHeader& header, const std::filesystem::path& payload,
                              const std::vector<Route>& routes,
                              const std::function<Result<Bytes>()>& make_receipt);

  // The oldest item waiting here for `agency`, leased to it for `lease_seconds`: it comes
  // back if not acknowledged in time. nullopt when there is none.
  Result<std::optional<LeasedItem>> Lease(const std::string& agency, int64_t now,
                                          int64_t lease_seconds);
  // NotFound when `delivery` is not a delivery to `agency`.
  Status Acknowledge(const std::string& agency, int64_t delivery, int64_t now);

  // The oldest item queued for the peer center `center` (with all its recipients there),
  // leased for `lease_seconds`.
  Result<std::optional<LeasedItem>> LeaseForPeer(const std::string& center, int64_t now,
                                                 int64_t lease_seconds);
  Status MarkForwarded(const std::string& center, int64_t seq, int64_t now);
  // Peer centers with items waiting for them.
  Result<std::vector<std::string>> PeersWithWork(int64_t now);

  // Deliveries queued here longer than `max_age_seconds`, for recipients `held` says are
  // not held (a suspended agency's documents wait for it), become expired; returned so the
  // center can tell each sender.
  Result<std::vector<ExpiredItem>> Expire(int64_t now, int64_t max_age_seconds,
                                          const std::function<bool(const std::string&)>& held);

  // Where each recipient of `sender`'s item `id` is, as this center knows it.
  Result<std::vector<DeliveryStatus>> StatusOf(const std::string& sender, const std::string& id);
  // Counts of deliveries by state, for health.
  Result<std::vector<std::pair<std::string, int64_t>>> Counts();

  // Suspensions made by this center (the registry carries the management center's).
  Status Suspend(const std::string& agency, const Suspension& suspension);
  Status Resume(const std::string& agency);
  Result<std::optional<Suspension>> LocalSuspension(const std::string& agency);
  Result<std::vector<std::pair<std::string, Suspension>>> LocalSuspensions();

  // Records that the warning `days` before a certificate's expiry went out; false when it
  // had already (each warning is given once).
  Result<bool> RecordCertificateWarning(const std::string& fingerprint, int days, int64_t now);

  // A transaction the calls made until its Commit join (their own become savepoints in
  // it), and the spool directories their payloads were moved into are synced once each,
  // just before it commits: one wait for the disk for many items. Nothing they changed
  // is durable before that Commit. One batch at a time.
  class Batch {
   public:
    Batch(Batch&& other) noexcept;
    Batch& operator=(Batch&&) = delete;
    ~Batch();  // uncommitted: rolled back
    Status Commit();
    // After a successful Commit: the payloads the batch's calls released (every delivery
    // of their item is done), which the caller removes with RemovePayloads. Until then
    // they stay on the disk; a crash before that leaves them to RemoveOrphanedPayloads.
    std::vector<std::filesystem::path> TakeReleasedPayloads();

   private:
    friend class CenterStore;
    Batch(CenterStore* store, Transaction tx) : store_(store), tx_(std::move(tx)) {}
    CenterStore* store_;  // null once moved from
    Transaction tx_;
    std::vector<std::filesystem::path> released_;
  };
  Result<Batch> BeginBatch();
  static void RemovePayloads(const std::vector<std::filesystem::path>& payloads);
  // Removes the payloads in the spool that no committed item still needs: those a crash
  // left between a commit and their removal. Only for the spool's one center, when it
  // starts (a payload moved in but not yet committed by a running center looks the same).
  Status RemoveOrphanedPayloads();

  const std::filesystem::path& spool() const { return spool_; }

 private:
  CenterStore(std::unique_ptr<Database> db, std::filesystem::path spool);
  // The directory of the current hour a payload moves into (spool/YYYYMMDDHH): the items of
  // a batch share one, so its sync is one wait for the disk, not one per item.
  std::filesystem::path PayloadDirectory();
  // Removes the empty payload directories of past hours.
  void RemoveEmptyPayloadDirectories();
  // Marks `seq`'s payload removed once no delivery still needs it, and returns its path
  // then: the caller hands it to Release after its transaction commits.
  Result<std::optional<std::filesystem::path>> ReleasePayloadIfDone(int64_t seq);
  // A released payload goes now, or in a batch, once the batch has committed.
  void Release(std::optional<std::filesystem::path> payload);

  std::unique_ptr<Database> db_;
  std::filesystem::path spool_;
  bool in_batch_ = false;                        // between BeginBatch and CommitBatch
  std::set<std::filesystem::path> to_sync_;      // directories to sync before CommitBatch
  std::vector<std::filesystem::path> released_;  // in a batch: payloads to remove after it
};

}  // namespace tessera::exchange
