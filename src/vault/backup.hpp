// Backing up: files to chunks to packs, directories to trees, and a snapshot naming the
// root tree. Unchanged files (same size, mtime, ctime and inode as in the parent snapshot)
// are taken from the parent without being read; only new chunks are uploaded.
#pragma once

#include <string>
#include <vector>

#include "base/progress.hpp"
#include "vault/repository.hpp"

namespace tessera::vault {

struct BackupOptions {
  std::vector<std::string> paths;
  // Globs: one without '/' matches a file's name, one with '/' its absolute path.
  std::vector<std::string> excludes;
  std::vector<std::string> tags;
  bool from_stdin = false;
  std::string stdin_name = "stdin";
  // The snapshot to compare with; empty picks the latest one of this host and paths.
  std::string parent;
  bool no_parent = false;  // read every file
};

// Files that could not be read are reported and skipped (the snapshot is still made);
// a path given on the command line that does not exist fails before anything is written.
struct BackupResult {
  Snapshot snapshot;
  std::vector<std::string> warnings;
  // Stores (0-based) that missed a shard in this run, the snapshot object included
  // (snapshot.degraded_stores, written inside it, cannot include that one).
  std::vector<int> degraded_stores;
};

Result<BackupResult> Backup(Repository& repo, const BackupOptions& options, Progress* progress);

// Whether `path` (absolute) or its name matches one of the globs.
bool IsExcluded(const std::string& path, const std::vector<std::string>& globs);

}  // namespace tessera::vault
