// Repairing a vault from its own redundancy, and moving one of its stores to a new place.
// Both write only whole shard files and descriptors with atomic puts, so a run killed at
// any point leaves a usable vault, and running the same command again continues.
#pragma once

#include <string>
#include <vector>

#include "base/progress.hpp"
#include "vault/checker.hpp"
#include "vault/repository.hpp"
#include "vault/vault.hpp"

namespace tessera::vault {

struct RebuiltObject {
  std::string name;
  std::vector<int> stores;  // 0-based stores that received a rebuilt shard
};

struct RepairReport {
  CheckReport check;  // what the check before the repair found (shards read and verified)
  std::vector<RebuiltObject> rebuilt;
  uint64_t shards_written = 0;
  std::vector<std::string> leftovers_removed;  // packs of interrupted uploads
  bool config_rewritten = false;               // the sealed config, from the local configuration
  int new_epoch = 0;                           // > 0 when the key shares were re-issued
  std::vector<int> descriptors_written;        // stores given a new key share (0-based)
  std::vector<std::string> locks_removed;      // left on this host by runs that died
  // Still wrong afterwards and beyond repair: objects with fewer than k healthy shards,
  // stores of another vault or slot (never written), failed writes, structural problems.
  std::vector<std::string> unrepaired;
  // Waiting for stores that could not be reached: run repair again when they are back.
  std::vector<std::string> waiting;
  std::vector<int> unreachable;  // 0-based

  bool Complete() const { return unrepaired.empty() && waiting.empty() && unreachable.empty(); }
};

// Takes the exclusive lock, checks with every shard read (so damaged shards are found,
// not only missing ones) and, on every reachable store of this vault's slot, rebuilds
// each missing or damaged shard from any k healthy ones; removes leftovers of
// interrupted uploads; rewrites the sealed config from the local one if it cannot be
// read; re-issues the key shares (a new epoch, written to every writable store) when a
// store lacks a current one. Stores holding another vault or another slot are never
// written. The Status is an error only when the repair could not run at all (the lock
// is held elsewhere, no store answers); what could not be repaired is in the report.
Result<RepairReport> RepairVault(Repository& repo, Progress* progress);

struct ReplaceReport {
  int store = 0;  // 0-based
  std::string old_url, new_url;
  bool resumed = false;  // the new store already held part of a previous run's work
  uint64_t objects = 0;  // objects of the vault
  uint64_t rebuilt = 0;  // shards rebuilt from the other stores onto the new one
  uint64_t copied = 0;   // taken from the old store where the others fell short
  uint64_t present = 0;  // already on the new store (a resumed run)
  // Objects with fewer than k healthy shards elsewhere: the new store lacks them.
  std::vector<std::string> lost;
  std::vector<std::string> leftovers;  // unreferenced packs of interrupted uploads, skipped
  int epoch = 0;                       // of the re-issued key shares
  std::vector<std::string> locks_removed;
};

// Replaces store `index` (0-based) by the new, empty store `url`: takes the exclusive
// lock; refuses a location that holds anything but this vault's shards for that slot
// (a location holding them is a previous run's work, which is continued); needs every
// other store reachable. Order, so that a crash anywhere leaves a usable vault: (1)
// every object's shard for the slot is rebuilt from the other stores onto the new store;
// (2) the key shares are re-issued with a new epoch and written to the new store, then
// to all the others, so the retired store's share no longer combines with them; (3) the
// sealed config names the new store; (4) the local configuration file
// (ctx.ConfigPath()) is rewritten. `repo` is left describing the old store list: open
// the vault again to use the new one.
Result<ReplaceReport> ReplaceStore(Repository& repo, const VaultContext& ctx, int index,
                                   const std::string& url, Progress* progress);

}  // namespace tessera::vault
