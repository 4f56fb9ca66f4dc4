// A vault's configuration: which stores hold it, its k-of-n geometry and its
// parameters. Kept sealed in the vault itself (object "config") and, with the key, in the
// local configuration, so later commands need no store list.
#pragma once

#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "vault/chunker.hpp"

namespace tessera::vault {

struct VaultConfig {
  std::string vault_id;  // 32 hex digits
  int k = 0, n = 0;
  int min_write =
      0;  // stores that must take a shard for a write to succeed (default k+1, at most n)
  std::vector<std::string> stores;  // n URLs, store i holds shard i
  ChunkerParams chunker;
  size_t pack_size = 8 * 1024 * 1024;
  int custodians = 0, quorum = 0;  // 0: no custodians
  int64_t created_ns = 0;
};

// InvalidArgument naming the offending field.
Status ValidateConfig(const VaultConfig& c);
Bytes SerializeConfig(const VaultConfig& c);
Result<VaultConfig> ParseConfig(ByteView data);

}  // namespace tessera::vault
