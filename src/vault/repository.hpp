// The repository: blobs packed into pack objects, the index that says where each blob
// is, and the snapshot, index and other objects of one vault, over a ShardedStore.
// A pack's blobs become visible (in the index) only once the pack is on the stores, and
// each pack's index entries are written as their own index object right after it, so a
// backup killed at any point leaves a valid vault, and the next run reuses every pack whose
// index object was written (a pack cut off before it is an orphan that prune removes).
#pragma once

#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/thread_pool.hpp"
#include "vault/config.hpp"
#include "vault/keys.hpp"
#include "vault/model.hpp"
#include "vault/sharded_store.hpp"

namespace tessera::vault {

struct BlobLocation {
  std::string pack_id;  // 64 hex digits
  BlobType type = BlobType::kData;
  bool compressed = false;
  uint32_t offset = 0, length = 0, raw_length = 0;
};

struct IndexEntry {
  BlobId id;
  BlobLocation loc;
};

// Serialised index objects and pack trailers (docs/vault-format.md).
Bytes SerializeIndex(const std::vector<IndexEntry>& entries,
                     const std::vector<std::string>& supersedes);
Result<std::vector<IndexEntry>> ParseIndex(ByteView data, std::vector<std::string>* supersedes);
// Reads the entries back from a pack's trailer (to rebuild a lost index).
Result<std::vector<IndexEntry>> ParsePackTrailer(ByteView pack, const std::string& pack_id);

// True when the stores that answer say fewer than min_write of them can hold a shard of
// `name` (the others answer NotFound): a committed object reached at least min_write
// stores, so this is a write cut short by a crash (or an object damaged since, which
// verify reports). Stores not opened or down count as possibly holding one. Meant for an
// object that could not be read: callers skip it with a warning instead of failing.
bool IsTornObject(ShardedStore& objects, const std::string& name);

class Repository {
 public:
  Repository(VaultConfig config, const SecretBytes& master,
             std::vector<std::shared_ptr<store::ObjectStore>> stores, size_t threads = 0);
  ~Repository();

  const VaultConfig& config() const { return config_; }
  const VaultKeys& keys() const { return keys_; }
  ShardedStore& objects() { return *objects_; }
  ThreadPool& cpu() { return cpu_; }
  ThreadPool& io() { return io_; }

  // Reads every index object. Safe to call again to pick up other writers' packs.
  // An index object named in another's `supersedes` list is ignored, and so is a failure
  // to read it: prune deletes superseded objects only after their replacement is written,
  // so one it left half-deleted (shards on fewer than k stores) must not block readers.
  // A torn index object (IsTornObject) is skipped too: its packs' blobs are then simply
  // not known, which costs a re-upload, never a wrong answer.
  // Any other index object that cannot be read fails the load, unless `gaps` is
  // kSkipUnreadable: readers (restore, dump) then go on with what the stores at hand hold
  // and name the skipped objects in UnreadableIndexObjects(). That matters after a degraded
  // write: an object committed on min_write stores is unreadable from some choices of k,
  // yet an older snapshot needs nothing from it.
  enum class IndexGaps { kFail, kSkipUnreadable };
  Status LoadIndex(IndexGaps gaps = IndexGaps::kFail);
  std::vector<std::string> UnreadableIndexObjects() const;
  // What to report for a blob the loaded index lacks: Unavailable, naming the index objects
  // the stores at hand could not supply, when there are any (the blob may be in one of
  // them); `otherwise` when the index is complete.
  Status MissingBlob(const BlobId& id, Status otherwise) const;
  // Index objects and snapshots that an interrupted run left on at least k stores but
  // not on every reachable one get their missing shards, rebuilt from the others: until
  // then a restore from some choices of k stores could not read them. Best effort: what
  // cannot be completed is logged and left to `vault repair`.
  void CompleteInterruptedObjects();
  // Drops the loaded index, so the next LoadIndex reads it afresh (after prune rewrote it).
  void ResetIndex();
  std::optional<BlobLocation> Find(const BlobId& id) const;
  size_t IndexSize() const;
  // Every index entry (for check/prune/stats).
  std::vector<IndexEntry> IndexEntries() const;
  // Names of the index objects loaded (superseded ones are not).
  std::vector<std::string> IndexObjects() const;

  BlobId ComputeId(ByteView plaintext) const;
  // The ids of several blobs; faster than a ComputeId call each on CPUs with SHA
  // extensions.
  std::vector<BlobId> ComputeIds(std::span<const ByteView> plaintexts) const;

  // Adds a blob unless the vault (or this run) already has it; returns whether it was
  // new. `plaintext` is compressed here when that pays. Thread-safe. Packs are uploaded
  // by the calling thread when full; an upload failure is kept and returned by Flush().
  Result<bool> AddBlob(BlobType type, const BlobId& id, ByteView plaintext,
                       uint64_t* stored_size = nullptr);
  // Like AddBlob but packs the blob even if the index already has it (prune copies the
  // used blobs of mostly unused packs into new ones this way); false only if this run
  // already packed it. The in-memory index keeps the old location until ResetIndex.
  Result<bool> AddBlobAgain(BlobType type, const BlobId& id, ByteView plaintext);
  // Uploads the partly filled packs and waits for all uploads. Returns the first error.
  Status Flush();

  // Reads, checks (the id is recomputed) and returns one blob.
  Result<Bytes> ReadBlob(const BlobId& id);
  // Opens a whole pack object (cached: the last few packs read stay in memory).
  Result<std::shared_ptr<const Bytes>> ReadPack(const std::string& pack_id);
  // Extracts and checks one blob from an opened pack.
  Result<Bytes> BlobFromPack(const Bytes& pack, const BlobId& id, const BlobLocation& loc) const;
  // The same for several blobs of one pack, one result per entry; their ids are computed
  // together (faster than a BlobFromPack each on CPUs with SHA extensions).
  std::vector<Result<Bytes>> BlobsFromPack(const Bytes& pack,
                                           std::span<const IndexEntry> entries) const;

  Result<Tree> ReadTree(const BlobId& id);
  Result<BlobId> SaveTree(const Tree& tree, uint64_t* stored_size = nullptr);

  Result<std::vector<Snapshot>> ListSnapshots();  // oldest first
  // Resolves "latest", a full id or a unique prefix of at least 4 hex digits.
  Result<Snapshot> FindSnapshot(const std::string& ref);
  Status SaveSnapshot(Snapshot& s);  // assigns s.id

  // Stores (0-based) that missed at least one shard in this run.
  std::vector<int> DegradedStores() const;

 private:
  struct OpenPack;
  Result<bool> AddBlobImpl(BlobType type, const BlobId& id, ByteView plaintext,
                           uint64_t* stored_size, bool even_if_indexed);
  Status UploadPack(std::unique_ptr<OpenPack> pack);
  void NoteFailedStores(const std::vector<int>& failed);

  VaultConfig config_;
  VaultKeys keys_;
  std::unique_ptr<ShardedStore> objects_;

  // An index entry as held in memory: the pack named by its number in pack_ids_, since
  // a 64-digit string per blob doubled the index's memory (one entry per ~300 KiB of
  // unique data: the index is the backup's largest structure on large vaults).
  struct StoredLocation {
    uint32_t pack = 0;
    uint32_t offset = 0, length = 0, raw_length = 0;
    BlobType type = BlobType::kData;
    bool compressed = false;
  };
  StoredLocation Store(BlobLocation loc);  // index_mu_ held exclusively
  BlobLocation Load(const StoredLocation& loc) const;

  // guards index_, pack_ids_, pack_numbers_, reserved_, index_objects_, superseded_,
  // unreadable_indexes_
  mutable std::shared_mutex index_mu_;
  std::unordered_map<BlobId, StoredLocation, BlobIdHash> index_;
  std::vector<std::string> pack_ids_;
  std::unordered_map<std::string, uint32_t> pack_numbers_;
  std::unordered_set<BlobId, BlobIdHash> reserved_;  // in an open or uploading pack
  std::unordered_set<std::string> index_objects_;
  std::unordered_set<std::string> superseded_;  // named by a loaded index object
  std::set<std::string> unreadable_indexes_;    // skipped by LoadIndex(kSkipUnreadable)

  std::mutex pack_mu_;                       // guards open_packs_ and first_error_
  std::unique_ptr<OpenPack> open_packs_[2];  // one per BlobType: trees apart from data
  Status first_error_;
  std::mutex degraded_mu_;  // guards degraded_
  std::vector<int> degraded_;

  std::mutex cache_mu_;  // guards pack_cache_
  std::list<std::pair<std::string, std::shared_ptr<const Bytes>>> pack_cache_;

  // Full packs are sealed and written by their own threads, so hashing and compressing
  // go on meanwhile; at most kMaxUploads packs are in flight, which bounds memory. Once
  // an upload has failed the run cannot commit, so later packs are dropped, not written,
  // and the first error is returned.
  Status StartUpload(std::unique_ptr<OpenPack> pack);
  void WaitUploads();
  std::mutex upload_mu_;  // guards uploads_in_flight_
  std::condition_variable upload_cv_;
  int uploads_in_flight_ = 0;
  // Last: destroyed, and so drained, before anything their tasks use.
  ThreadPool cpu_, io_;
  ThreadPool uploader_;
};

}  // namespace tessera::vault
