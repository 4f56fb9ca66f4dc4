// Checking a vault's health store by store: which stores can be reached, which shards
// are there, missing or damaged, which objects can still be rebuilt (at least k healthy
// shards) and which cannot, whether each store's key share is current, and whether the
// snapshots, trees, index and packs hang together. `vault verify` prints this report;
// `vault repair` and `vault replace-store` act on it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/progress.hpp"
#include "vault/lock.hpp"
#include "vault/repository.hpp"

namespace tessera::vault {

// True for the names a check covers: the sealed objects of a vault (config, keys/*,
// index/*, data/*, snapshots/*, drills/*). Locks come and go and the store descriptor is
// not sharded, so neither is one.
bool IsCheckedObject(const std::string& name);

// What a store's descriptor (tessera-vault.json, its key share) says.
enum class DescriptorState {
  kOk,
  kMissing,    // none: a new or wiped store
  kDamaged,    // unreadable, another geometry, or its key check is not this vault's key
  kStale,      // an older epoch than the newest one: its share no longer combines
  kForeign,    // it names another vault: the URL probably points at the wrong place
  kWrongSlot,  // this vault's, but another store number's (stores listed out of order?)
  kUnknown,    // the store could not be read
};
std::string DescriptorStateName(DescriptorState s);  // "ok", "missing", "damaged", ...

struct StoreHealth {
  int index = 0;  // 0-based
  std::string url;
  bool reachable = false;
  std::string error;   // why the store is not reachable
  bool empty = false;  // reachable, but holds neither a descriptor nor any object
  DescriptorState descriptor = DescriptorState::kUnknown;
  std::string descriptor_problem;  // for people; empty when kOk
  int epoch = 0;                   // of its descriptor, 0 when there is none
  std::string foreign_vault_id;    // with kForeign
  // Shards of the expected objects on this store (nothing is counted while unreachable).
  uint64_t ok = 0, missing = 0, damaged = 0;

  // Whether repair may write here: reachable, and neither another vault's store nor
  // another slot of this one (writing there would destroy what it holds).
  bool Writable() const {
    return reachable && descriptor != DescriptorState::kForeign &&
           descriptor != DescriptorState::kWrongSlot;
  }
};

enum class ShardState { kOk, kMissing, kDamaged };

// A shard that a reachable store lacks or holds damaged.
struct ShardProblem {
  int store = 0;  // 0-based
  ShardState state = ShardState::kMissing;
  std::string reason;  // with kDamaged: which check failed
};

enum class ObjectVerdict {
  kRepairable,     // at least k healthy shards: repair rebuilds the others
  kUnrecoverable,  // fewer than k healthy shards even counting unreachable stores
  kNeedsStores,    // fewer than k now, but unreachable stores may hold the rest
  kLeftover,       // a pack no index refers to with fewer than k shards: an upload cut short,
                   // it never held committed data (repair removes it)
};
std::string ObjectVerdictName(ObjectVerdict v);  // "repairable", "unrecoverable", ...

// An object that lacks a healthy shard on some reachable store, or that cannot be read.
struct ObjectHealth {
  std::string name;
  int healthy = 0;      // shards that passed (authenticated with read_data, else present
                        // and of the size the other stores agree on)
  int unreachable = 0;  // stores that could not be asked
  std::vector<ShardProblem> problems;  // by store
  ObjectVerdict verdict = ObjectVerdict::kRepairable;
};

struct CheckReport {
  std::string vault_id;
  int k = 0, n = 0;
  bool read_data = false;
  std::vector<StoreHealth> stores;  // n entries
  uint64_t objects = 0;             // expected objects (each should have n shards)
  uint64_t snapshots = 0, index_objects = 0, packs = 0, trees = 0, blobs_checked = 0;
  int epoch = 0;                              // the newest key-share epoch found on the stores
  std::vector<ObjectHealth> damaged_objects;  // objects with problems, by name
  // Problems in what the objects say: snapshots, trees, the index, pack contents.
  std::vector<std::string> structural;
  uint64_t structural_more = 0;  // problems beyond those listed (the list is capped)
  // The sealed `config` object cannot be read or names another vault (repair rewrites it
  // from the local configuration).
  std::string config_problem;

  // Nothing to report: every store reachable and current, every shard healthy, no
  // structural problem. Leftovers of interrupted uploads do not count.
  bool Healthy() const;
  // Something `vault repair` would fix now (shards on writable stores, key shares,
  // leftovers, the config object).
  bool Repairable() const;
  size_t Count(ObjectVerdict v) const;
  bool AnyUnreachable() const;
};

// Checks every store of `repo`. With `read_data` every shard is downloaded and checked
// (header, vault, object name, length and MAC: flipped bytes, truncation, a shard of
// another object or another vault are each named), and every pack's blobs are decoded
// and checked against their ids; without it presence is checked against the stores'
// listings and shard sizes compared between stores. The expected objects are those any
// store lists plus every pack the index refers to, so a pack lost on all stores is
// still reported. A store that cannot be reached is reported, not an error: the Status
// is an error only when the check itself cannot run. Takes no lock (see LockForCheck).
Result<CheckReport> CheckVault(Repository& repo, bool read_data, Progress* progress);

// A vault lock taken for a check, repair or re-sharding. It is written only to stores
// whose descriptor is not another vault's or another slot's, so a misconfigured URL
// never gets this vault's objects. Releases on destruction.
class CheckLock {
 public:
  CheckLock(std::unique_ptr<Repository> view, std::unique_ptr<VaultLock> lock)
      : view_(std::move(view)), lock_(std::move(lock)) {}
  ~CheckLock() { (void)Release(); }
  CheckLock(const CheckLock&) = delete;
  CheckLock& operator=(const CheckLock&) = delete;
  Status Release() { return lock_ ? lock_->Release() : Status::Ok(); }

 private:
  std::unique_ptr<Repository> view_;  // `repo` without the excluded stores, when any
  std::unique_ptr<VaultLock> lock_;   // declared last: released before view_ goes
};

// Takes the lock (exclusive for repair and re-sharding). Locks left on this host by
// processes that no longer run (a run killed with kill -9) are removed first, so a
// re-run continues at once instead of waiting for them to go stale; `removed` receives
// their names. FailedPrecondition when another live run holds a conflicting lock.
Result<std::unique_ptr<CheckLock>> LockForCheck(Repository& repo, bool exclusive,
                                                const std::string& purpose,
                                                std::vector<std::string>* removed = nullptr);

}  // namespace tessera::vault
