// Prune: frees the space of blobs no snapshot uses any more. Under an exclusive vault lock
// (a backup holds a shared one, so no running backup can lose data it is about to
// reference) it walks every tree of every snapshot, then deletes packs without a used
// blob, and repacks those whose unused share is above a threshold: their used blobs are
// copied into new packs. The index is rewritten as a few combined index objects.
//
// Crash safety comes from the order of the steps: new packs (each with its own index
// object) -> combined index (its last object lists every index object it replaces in
// `supersedes`) -> old index objects deleted -> unused and repacked packs deleted. Killed
// at any point, the vault still restores every snapshot: until the old index objects are
// gone the old packs are all still there, and once they are gone the combined index
// covers every used blob. A blob may meanwhile be listed twice, which readers tolerate.
// The next prune deletes what a crashed one left: superseded index objects, and packs no
// index lists.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/progress.hpp"
#include "vault/repository.hpp"

namespace tessera::vault {

// The points between prune's steps, in order (for tests that simulate a crash).
enum class PruneStep {
  kPacksWritten,     // repacked blobs are in new packs, nothing deleted
  kIndexWritten,     // the combined index is written, old index objects remain
  kOldIndexDeleted,  // only the combined index remains, old packs remain
  kPacksDeleted,     // done
};

struct PruneOptions {
  bool dry_run = false;  // decide and report (sizes estimated), change nothing
  // A pack whose unused bytes exceed this share of it is repacked; 100 never repacks
  // (only packs with no used blob go), 0 repacks every pack with an unused blob.
  double max_unused_percent = 20;
  // Snapshot ids treated as already forgotten (to estimate `forget --prune --dry-run`);
  // dry runs only.
  std::vector<std::string> assume_forgotten;
  // Called after each step; a non-OK answer stops prune there, as a crash would (for tests).
  std::function<Status(PruneStep)> after_step;
};

struct PruneReport {
  bool dry_run = false;
  size_t snapshots = 0;  // whose trees were walked
  // Packs: listed by the index before; deleted because no blob in them is used;
  // repacked (their used blobs copied, then deleted); kept; new ones written by repacking;
  // on the stores but in no index (left by a crashed run: deleted); in the index but on
  // no store (their entries are dropped, with a warning).
  size_t packs_before = 0, packs_deleted = 0, packs_repacked = 0, packs_kept = 0;
  size_t packs_written = 0, packs_unindexed = 0, packs_missing = 0;
  // Blobs: used by some snapshot (kept); index entries dropped; copied by repacking.
  size_t blobs_used = 0, blobs_removed = 0, blobs_repacked = 0;
  // Packed bytes (compressed, before the split into shards) of the used blobs, of the
  // blobs dropped, and of those copied.
  uint64_t bytes_used = 0, bytes_removed = 0, bytes_repacked = 0;
  // Index objects: before (superseded leftovers included), written, deleted.
  size_t index_objects_before = 0, index_objects_written = 0, index_objects_deleted = 0;
  // Superseded (left by a crashed prune) or torn (cut short by a crash), deleted now.
  size_t index_leftovers = 0;
  // Shard files of packs and index objects summed over every store: before, after, and
  // freed (before - after). A dry run estimates `after` and `freed`.
  uint64_t store_bytes_before = 0, store_bytes_after = 0, store_bytes_freed = 0;
  std::vector<int> degraded_stores;  // stores (0-based) that missed shards of new objects
  std::vector<std::string> warnings;

  bool nothing_to_do() const {
    return packs_deleted == 0 && packs_repacked == 0 && packs_unindexed == 0 &&
           index_objects_written == 0;
  }
};

// Runs (or, with dry_run, plans) a prune. FailedPrecondition when another run holds a
// conflicting lock (a dry run takes only a shared one: it may run beside backups), or
// (unless dry_run) when a store cannot be reached: deleting while a store is away would
// leave its shards behind. Corruption, before anything is changed,
// when a snapshot needs a blob the vault does not have (run `vault verify`). The
// repository's in-memory index is reset afterwards; LoadIndex reads the new one.
Result<PruneReport> Prune(Repository& repo, const PruneOptions& options, Progress* progress);

}  // namespace tessera::vault
