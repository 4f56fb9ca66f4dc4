// The vault's object layer: every object the vault writes is compressed (when that pays),
// sealed with AES-256-GCM, Reed-Solomon split into n shards, and shard i is written to
// store i with a header and a MAC. Any k authentic shards give the object back. See
// docs/vault-format.md ("Shards") for the bytes.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/memory.hpp"
#include "base/status.hpp"
#include "base/thread_pool.hpp"
#include "erasure/reed_solomon.hpp"
#include "store/object_store.hpp"
#include "vault/keys.hpp"

namespace tessera::vault {

constexpr size_t kVaultIdSize = 16;
// Shard files are written in format version 2; version 1 (HMAC-SHA-256 shard MACs) is
// still read. Header and MAC sizes differ between the versions, their sum does not.
constexpr uint8_t kShardVersion = 2;
constexpr size_t kShardHeaderSize = 72;  // version 2
constexpr size_t kShardHeaderSizeV1 = 56;
constexpr size_t kShardMacSize = 16;                                 // version 2
constexpr size_t kShardOverhead = kShardHeaderSize + kShardMacSize;  // every version
constexpr size_t kShardNonceSize = 16;

struct ShardHeader {
  uint8_t version = kShardVersion;
  uint8_t k = 0, n = 0, index = 0;
  Bytes vault_id;   // 16 bytes
  Bytes name_hash;  // first 16 bytes of SHA-256(object name)
  uint64_t sealed_size = 0;
  uint32_t shard_size = 0;
  Bytes nonce;  // version 2: 16 random bytes, fresh for every shard file written
};

// The n shard files of one object, file i for store i, in one buffer. Each file starts at
// a multiple of 4 KiB, so that a file store writes it with direct I/O straight from here.
class ShardFiles {
 public:
  ShardFiles(int n, size_t file_size);  // uninitialised: the encoder writes every byte
  size_t size() const { return n_; }
  ByteView operator[](size_t i) const { return {buffer_.data() + i * stride_, file_size_}; }
  uint8_t* data(size_t i) { return buffer_.data() + i * stride_; }

 private:
  size_t n_, file_size_, stride_;
  AlignedBuffer buffer_;
};

// What happened to one object's shards on a write.
struct PutOutcome {
  std::vector<int> failed_stores;  // stores that did not take their shard
};

class ShardedStore {
 public:
  // `stores` has n entries; a null entry is a store this run must not use (excluded or
  // known to be down). `io` runs the store requests.
  ShardedStore(Bytes vault_id, int k, int n, int min_write,
               std::vector<std::shared_ptr<store::ObjectStore>> stores, const VaultKeys& keys,
               ThreadPool& io);

  int k() const { return k_; }
  int n() const { return n_; }
  int min_write() const { return min_write_; }
  store::ObjectStore* store(int i) const { return stores_[i].get(); }

  // Seals and writes `plaintext` as object `name`. Unavailable when fewer than
  // min_write stores took their shard (then the shards written are deleted again); when
  // at least min_write did, repair fills in the rest. `min_stores` overrides min_write
  // for short-lived objects that only need to stay readable (locks: k is enough).
  Result<PutOutcome> Put(const std::string& name, ByteView plaintext, bool compress,
                         int min_stores = 0);
  // Writes shard files made by EncodeShardFiles, file i to store i; the same outcome
  // and errors as Put.
  Result<PutOutcome> WriteShardFiles(const std::string& name, const ShardFiles& files,
                                     int min_stores = 0);
  // Reads any k authentic shards and opens the object. Shards that fail their MAC are
  // skipped (and reported by verify); Corruption/Unavailable when fewer than k remain.
  Result<Bytes> Get(const std::string& name);
  // Names (below `prefix`) present on any usable store, each once, sorted.
  Result<std::vector<std::string>> List(const std::string& prefix);
  // Deletes the object's shard from every usable store.
  Status Delete(const std::string& name);

  // The whole shard files of an object, index i for store i (for repair and tests).
  Result<ShardFiles> EncodeShardFiles(const std::string& name, ByteView plaintext,
                                      bool compress) const;
  // Checks a shard file read from store `index` for object `name`: header, vault, name,
  // length and MAC. The message says which check failed.
  Result<ShardHeader> CheckShard(const std::string& name, ByteView file, int index) const;
  // Opens the object from whole shard files that CheckShard has accepted (files[i] from
  // store i, nullopt where there is none; all of one version of the object, `sealed_size`
  // from their headers), without checking their MACs again: for verify, which reads every
  // shard anyway. The files are consumed. Corruption when fewer than k are given or the object
  // does not open.
  Result<Bytes> OpenCheckedShards(const std::string& name, std::vector<std::optional<Bytes>> files,
                                  uint64_t sealed_size) const;
  // Rebuilds the shard files for `wanted` stores from any k authentic shards elsewhere.
  Result<std::vector<Bytes>> RebuildShardFiles(const std::string& name,
                                               const std::vector<int>& wanted);

  // Stores marked down during this run (after an Unavailable answer), with the reason.
  std::vector<std::pair<int, Status>> DownStores() const;
  bool IsDown(int i) const;
  void MarkDown(int i, const Status& why);

 private:
  // Opens a sealed object that lies in one or more pieces.
  Result<Bytes> Open(const std::string& name, std::span<const ByteView> sealed) const;
  // Opens the object from its shards' payloads (by slot, nullopt where absent).
  Result<Bytes> DecodeAndOpen(const std::string& name,
                              const erasure::ReedSolomon::ShardViews& payloads,
                              uint64_t sealed_size) const;
  Bytes Aad(const std::string& name) const;
  // The MAC of a shard file of either version whose header and payload are in place.
  Bytes ShardMac(const std::string& name, ByteView file, size_t shard_size) const;
  // `file` is kShardOverhead + h.shard_size bytes with the payload in place: writes the
  // current version's header (with a fresh nonce) before it and the MAC after it.
  void FinishShardFile(const std::string& name, ShardHeader h, std::span<uint8_t> file) const;
  // Gathers k authentic shard files (preferring data shards) and the header of the first.
  Result<std::pair<std::vector<std::optional<Bytes>>, ShardHeader>> FetchShards(
      const std::string& name, const std::vector<int>& exclude);

  Bytes vault_id_;
  int k_, n_, min_write_;
  std::vector<std::shared_ptr<store::ObjectStore>> stores_;
  const VaultKeys& keys_;
  ThreadPool& io_;
  erasure::ReedSolomon rs_;
  mutable std::mutex mu_;  // guards down_
  std::vector<std::optional<Status>> down_;
};

// Object names. Packs fan out over 256 folders to keep directories and listings small.
std::string PackObjectName(const std::string& pack_id);

}  // namespace tessera::vault
