// The vault's data model: blobs (chunks of file content and directory trees) named by
// keyed hashes, the trees that describe files, and snapshots that name a root tree.
// Serialised forms are versioned JSON (docs/vault-format.md).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::vault {

using BlobId = std::array<uint8_t, 32>;
struct BlobIdHash {
  size_t operator()(const BlobId& id) const {
    size_t h;
    static_assert(sizeof h <= sizeof(BlobId));
    __builtin_memcpy(&h, id.data(), sizeof h);
    return h;
  }
};
std::string ToHex(const BlobId& id);
Result<BlobId> BlobIdFromHex(std::string_view hex);
BlobId BlobIdFromBytes(ByteView b);  // b must be 32 bytes

enum class BlobType : uint8_t { kData = 0, kTree = 1 };

enum class NodeType { kFile, kDir, kSymlink, kOther };

// One entry of a directory.
struct Node {
  std::string name;
  NodeType type = NodeType::kFile;
  uint32_t mode = 0;  // permission bits and file type bits as in st_mode
  uint32_t uid = 0, gid = 0;
  std::string user, group;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint64_t inode = 0, device = 0;
  uint64_t size = 0;
  std::vector<BlobId> content;        // files: chunk ids in order
  std::vector<uint32_t> chunk_sizes;  // files: plaintext size of each chunk
  std::optional<BlobId> subtree;      // directories
  std::string link_target;            // symlinks
};

struct Tree {
  std::vector<Node> nodes;  // sorted by name
};

Bytes SerializeTree(const Tree& tree);
Result<Tree> ParseTree(ByteView data);
std::string NodeTypeName(NodeType t);

struct SnapshotSummary {
  uint64_t files = 0, dirs = 0, symlinks = 0;
  uint64_t bytes = 0;                     // size of all files in the snapshot
  uint64_t files_unchanged = 0;           // taken from the parent without reading
  uint64_t bytes_read = 0;                // read from disk in this run
  uint64_t new_blobs = 0, new_bytes = 0;  // plaintext of blobs not yet in the vault
  uint64_t stored_bytes = 0;              // packed (compressed) size of those blobs
  double seconds = 0;
};

struct Snapshot {
  std::string id;  // 64 hex digits; not serialised (it is the object name)
  int64_t time_ns = 0;
  std::string hostname, username;
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  std::string parent;  // id of the parent snapshot, or empty
  BlobId tree{};
  SnapshotSummary summary;
  std::vector<int> degraded_stores;  // stores (0-based) that missed shards in this run
};

Bytes SerializeSnapshot(const Snapshot& s);
Result<Snapshot> ParseSnapshot(ByteView data, const std::string& id);

}  // namespace tessera::vault
