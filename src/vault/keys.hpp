// The vault's keys. One random 256-bit master key; every working key is derived from
// it with HKDF under its own label, so a key used for one purpose never serves another.
#pragma once

#include <array>
#include <memory>

#include "base/bytes.hpp"
#include "crypto/hash.hpp"

namespace tessera::vault {

constexpr size_t kMasterKeySize = 32;

class VaultKeys {
 public:
  explicit VaultKeys(const SecretBytes& master);

  const SecretBytes& master() const { return master_; }
  // AES-256-GCM key for every sealed object.
  const SecretBytes& object_key() const { return object_key_; }
  // Each shard is authenticated, so that a damaged one is named without decoding. Shard
  // format 2 derives a one-time Poly1305 key per shard file with this key...
  const crypto::HmacKey& shard_key() const { return *shard_key_; }
  // ...format 1 MACs the whole shard file with HMAC-SHA-256 under this one (read only).
  const crypto::HmacKey& shard_mac_v1() const { return *shard_mac_v1_; }
  // Chunk ids are keyed, so a store cannot confirm that it holds a known file.
  const crypto::HmacKey& chunk_id() const { return *chunk_id_; }
  // Seed of the chunker's gear table: boundaries do not fingerprint content either.
  const std::array<uint64_t, 256>& gear() const { return gear_; }
  // Public value that tells whether a reconstructed master key is the right one.
  Bytes KeyCheck() const;

 private:
  SecretBytes master_, object_key_;
  std::unique_ptr<crypto::HmacKey> shard_key_, shard_mac_v1_, chunk_id_;
  std::array<uint64_t, 256> gear_{};
};

}  // namespace tessera::vault
