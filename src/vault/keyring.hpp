// How the master key is kept. In the stores it exists only as Shamir shares, share i in
// store i's descriptor, so any k stores give it back and fewer reveal nothing. With
// custodians, each share is further sealed under a custodian key that is itself split
// T-of-M into printable recovery codes held by people. Locally, the master key is in a
// key file readable only by its owner, optionally sealed under a passphrase.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/passphrase.hpp"
#include "store/object_store.hpp"
#include "vault/config.hpp"

namespace tessera::vault {

constexpr char kDescriptorName[] = "tessera-vault.json";

// The plaintext descriptor each store keeps about its share.
struct StoreDescriptor {
  std::string vault_id;
  int k = 0, n = 0, index = 0;
  int epoch = 1;        // raised each time the shares are re-issued
  Bytes share;          // Shamir share (x = index + 1), when there are no custodians
  Bytes wrapped_share;  // the share sealed under the custodian key, with custodians
  int custodians = 0, quorum = 0;
  Bytes key_check;
};
Bytes SerializeDescriptor(const StoreDescriptor& d);
Result<StoreDescriptor> ParseDescriptor(ByteView data);

struct NewKeys {
  SecretBytes master;
  SecretBytes custodian_key;                 // empty without custodians
  std::vector<std::string> recovery_codes;   // one per custodian
  std::vector<StoreDescriptor> descriptors;  // one per store
};

// Generates a master key (or re-issues shares of `existing`) and the descriptors.
// `custodian_key` reuses an existing custodian key (re-issue); else a new one is made.
Result<NewKeys> IssueKeys(const VaultConfig& config, const SecretBytes* existing_master,
                          const SecretBytes* existing_custodian_key, int epoch);

// Rebuilds the master key from descriptors (at least k of one vault and epoch) and, for
// vaults with custodians, at least `quorum` recovery codes or the custodian key.
Result<SecretBytes> RecoverMasterKey(const std::vector<StoreDescriptor>& descriptors,
                                     const std::vector<std::string>& recovery_codes,
                                     const SecretBytes* custodian_key);

// Local key file: JSON, mode 0600. With a passphrase the master key is sealed under a
// scrypt-derived key.
Status WriteKeyFile(const std::string& path, const std::string& vault_id, const SecretBytes& master,
                    const SecretBytes& custodian_key, const std::optional<std::string>& passphrase,
                    const crypto::ScryptParams& params = {});
struct LoadedKey {
  SecretBytes master, custodian_key;
};
// PermissionDenied when the passphrase is wrong or missing (the message says how to
// give one: $TESSERA_PASSPHRASE).
Result<LoadedKey> ReadKeyFile(const std::string& path, const std::string& vault_id,
                              const std::optional<std::string>& passphrase);

}  // namespace tessera::vault
