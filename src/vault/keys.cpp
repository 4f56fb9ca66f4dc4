#include "vault/keys.hpp"

namespace tessera::vault {

VaultKeys::VaultKeys(const SecretBytes& master) : master_(master) {
  object_key_ = crypto::Hkdf(master.view(), {}, "tessera object key v1", 32);
  SecretBytes shard = crypto::Hkdf(master.view(), {}, "tessera shard key v2", 32);
  shard_key_ = std::make_unique<crypto::HmacKey>(shard.view());
  SecretBytes shard_v1 = crypto::Hkdf(master.view(), {}, "tessera shard mac v1", 32);
  shard_mac_v1_ = std::make_unique<crypto::HmacKey>(shard_v1.view());
  SecretBytes chunk = crypto::Hkdf(master.view(), {}, "tessera chunk id v1", 32);
  chunk_id_ = std::make_unique<crypto::HmacKey>(chunk.view());
  SecretBytes gear = crypto::Hkdf(master.view(), {}, "tessera chunker gear v1", 256 * 8);
  for (size_t i = 0; i < 256; ++i) gear_[i] = GetU64(gear.data() + 8 * i);
}

Bytes VaultKeys::KeyCheck() const {
  return crypto::HmacSha256(master_.view(), AsBytes("tessera key check v1"));
}

}  // namespace tessera::vault
