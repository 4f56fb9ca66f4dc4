// Setting up and opening a vault. The local configuration of a vault named NAME lives in
// HOME/vaults/NAME/ (HOME is $TESSERA_HOME, else ./var): vault.json (the configuration)
// and key (the master key, mode 0600). `Connect` rebuilds both on a new machine from any
// k stores (and custodians' recovery codes where the vault has custodians).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/object_store.hpp"
#include "vault/config.hpp"
#include "vault/repository.hpp"

namespace tessera::vault {

struct VaultContext {
  std::string home = "var";
  std::string name = "default";
  store::StoreOptions store_options;
  std::optional<std::string> passphrase;  // for a passphrase-protected key file
  size_t threads = 0;                     // 0: one per core
  std::string VaultDir() const;
  std::string ConfigPath() const;
  std::string KeyPath() const;
};

struct InitOptions {
  std::vector<std::string> stores;
  int threshold = 0;
  int min_write = 0;  // 0: k+1, at most n
  int custodians = 0, quorum = 0;
  bool protect_with_passphrase = false;  // uses VaultContext::passphrase
  size_t pack_size = 0;                  // 0: default
  size_t chunk_avg = 0;                  // average chunk size in bytes, a power of two; 0: default
};

struct InitResult {
  VaultConfig config;
  std::vector<std::string> recovery_codes;  // to hand to the custodians, shown once
};

// AlreadyExists if a store already holds a vault or the local name is taken.
Result<InitResult> InitVault(const VaultContext& ctx, const InitOptions& options);

struct ConnectOptions {
  std::vector<std::string> stores;          // any k (or more) of the vault's stores
  std::vector<std::string> recovery_codes;  // with custodians: at least the quorum
};
Result<VaultConfig> ConnectVault(const VaultContext& ctx, const ConnectOptions& options);

// Which stores a command may use: all (empty) or a chosen subset (0-based).
struct OpenOptions {
  std::vector<int> only_stores;
};
Result<std::unique_ptr<Repository>> OpenVault(const VaultContext& ctx,
                                              const OpenOptions& options = {});
// The local configuration alone (no key, no store access).
Result<VaultConfig> LoadLocalConfig(const VaultContext& ctx);

// Opens the vault the disaster-recovery way: the key rebuilt from the descriptors of the
// given stores (0-based indices into the configuration), never from the local key file.
// `custodian_key` stands in for the custodians' codes where the vault has custodians.
Result<std::unique_ptr<Repository>> OpenFromStores(
    const VaultConfig& config, const std::vector<int>& use, const std::vector<std::string>& codes,
    const SecretBytes* custodian_key, const store::StoreOptions& options, size_t threads);

// Opens the n stores of a configuration (null where a store is not in `use`).
Result<std::vector<std::shared_ptr<store::ObjectStore>>> OpenStores(
    const std::vector<std::string>& urls, const std::vector<int>& use,
    const store::StoreOptions& options);

// Names of sealed objects with a fixed role.
constexpr char kConfigObject[] = "config";
constexpr char kCustodianObject[] = "keys/custodian";

}  // namespace tessera::vault
