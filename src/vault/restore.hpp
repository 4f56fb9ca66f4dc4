// Restoring a snapshot (or part of it) to a directory, pack by pack: every pack needed
// is read once, its blobs are checked against their ids and written where they belong.
// Metadata (modes, owners where permitted, times, symlinks, empty directories) follows.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "base/progress.hpp"
#include "vault/repository.hpp"

namespace tessera::vault {

struct RestoreOptions {
  std::string target;                 // created if missing; restored paths go below it
  std::vector<std::string> includes;  // absolute paths in the snapshot; empty = all
};

struct RestoreStats {
  uint64_t files = 0, dirs = 0, symlinks = 0, bytes = 0, packs = 0;
  double seconds = 0;
  std::vector<std::string> warnings;  // e.g. ownership that could not be set
};

Result<RestoreStats> Restore(Repository& repo, const Snapshot& snap, const RestoreOptions& options,
                             Progress* progress);

// Writes one file of the snapshot to `out`. NotFound if the path is not a file in it.
Status Dump(Repository& repo, const Snapshot& snap, const std::string& path, std::FILE* out);

// An entry of a snapshot with its absolute path, for listing and comparing.
struct Entry {
  std::string path;
  Node node;
};
// Every entry below `path` ("/" for all), depth first in name order.
Result<std::vector<Entry>> ListEntries(Repository& repo, const Snapshot& snap,
                                       const std::string& path = "/");

// Re-reads a restored file and checks it chunk by chunk against the snapshot's ids.
// Corruption naming the first difference.
Status VerifyRestoredFile(const Repository& repo, const std::string& file, const Node& node);

}  // namespace tessera::vault
