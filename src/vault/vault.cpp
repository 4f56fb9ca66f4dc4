#include "vault/vault.hpp"

#include <filesystem>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "crypto/random.hpp"
#include "vault/keyring.hpp"
#include "vault/keys.hpp"

namespace tessera::vault {

namespace fs = std::filesystem;

std::string VaultContext::VaultDir() const {
  return (fs::path(home) / "vaults" / name).string();
}
std::string VaultContext::ConfigPath() const {
  return VaultDir() + "/vault.json";
}
std::string VaultContext::KeyPath() const {
  return VaultDir() + "/key";
}

Result<std::vector<std::shared_ptr<store::ObjectStore>>> OpenStores(
    const std::vector<std::string>& urls, const std::vector<int>& use,
    const store::StoreOptions& options) {
  std::vector<std::shared_ptr<store::ObjectStore>> out(urls.size());
  for (size_t i = 0; i < urls.size(); ++i) {
    if (!use.empty() && std::find(use.begin(), use.end(), static_cast<int>(i)) == use.end())
      continue;
    auto s = store::OpenStore(urls[i], options);
    if (!s.ok()) return s.status().WithContext("store " + std::to_string(i + 1));
    out[i] = std::move(*s);
  }
  return out;
}

Result<VaultConfig> LoadLocalConfig(const VaultContext& ctx) {
  auto data = ReadFile(ctx.ConfigPath());
  if (!data.ok()) {
    if (data.status().code() == StatusCode::kNotFound)
      return Status::NotFound("no vault '" + ctx.name + "' is set up in " + ctx.home +
                              " (run `tessera vault init`, or `tessera vault connect` to "
                              "attach an existing vault)");
    return data.status();
  }
  auto config = ParseConfig(*data);
  if (!config.ok()) return config.status().WithContext(ctx.ConfigPath());
  return config;
}

Result<InitResult> InitVault(const VaultContext& ctx, const InitOptions& options) {
  VaultConfig config;
  config.n = static_cast<int>(options.stores.size());
  config.k = options.threshold;
  if (config.n == 0) return Status::InvalidArgument("give the vault's stores with --store URL");
  config.min_write = options.min_write > 0 ? options.min_write : std::min(config.k + 1, config.n);
  config.stores = options.stores;
  config.custodians = options.custodians;
  config.quorum = options.quorum;
  if (options.pack_size > 0) config.pack_size = options.pack_size;
  if (options.chunk_avg > 0) {
    const size_t avg = options.chunk_avg;
    if (avg < 64 * 1024 || avg > 8 * 1024 * 1024 || (avg & (avg - 1)) != 0)
      return Status::InvalidArgument(
          "the average chunk size must be a power of two from 64 KiB to 8 MiB (--chunk-avg-kib "
          "64, 128, ... 8192)");
    config.chunker = ChunkerParams::ForAverage(avg);
  }
  config.vault_id = HexEncode(crypto::RandomBytes(16));
  config.created_ns = NowUnixNanos();
  TESSERA_RETURN_IF_ERROR(ValidateConfig(config));
  for (size_t i = 0; i < config.stores.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (config.stores[i] == config.stores[j])
        return Status::InvalidArgument("store " + config.stores[i] + " is listed twice");
  if (fs::exists(ctx.ConfigPath()))
    return Status::AlreadyExists("a vault named '" + ctx.name + "' is already set up in " +
                                 ctx.home + " (use --vault NAME for another)");

  TESSERA_ASSIGN_OR_RETURN(auto stores, OpenStores(config.stores, {}, ctx.store_options));
  // Every store must be reachable and empty of vaults before anything is written.
  for (int i = 0; i < config.n; ++i) {
    TESSERA_RETURN_IF_ERROR(stores[i]->Create().WithContext(config.stores[i]));
    TESSERA_RETURN_IF_ERROR(stores[i]->Ping().WithContext(config.stores[i]));
    auto existing = stores[i]->Stat(kDescriptorName);
    if (existing.ok())
      return Status::AlreadyExists(config.stores[i] +
                                   " already holds a vault; use an empty "
                                   "location for each store");
    if (existing.status().code() != StatusCode::kNotFound)
      return existing.status().WithContext(config.stores[i]);
  }
  TESSERA_ASSIGN_OR_RETURN(NewKeys keys, IssueKeys(config, nullptr, nullptr, 1));

  // The local key first: whatever happens next, the key is not lost.
  TESSERA_RETURN_IF_ERROR(MakeDirs(ctx.VaultDir(), 0700));
  std::optional<std::string> pass;
  if (options.protect_with_passphrase) {
    if (!ctx.passphrase || ctx.passphrase->empty())
      return Status::InvalidArgument(
          "--passphrase needs a passphrase (TESSERA_PASSPHRASE or a "
          "terminal prompt)");
    pass = ctx.passphrase;
  }
  TESSERA_RETURN_IF_ERROR(
      WriteKeyFile(ctx.KeyPath(), config.vault_id, keys.master, keys.custodian_key, pass));

  ThreadPool io(std::max<size_t>(4, static_cast<size_t>(config.n)));
  VaultKeys vkeys(keys.master);
  ShardedStore objects(HexDecode(config.vault_id).value(), config.k, config.n, config.n, stores,
                       vkeys, io);
  TESSERA_RETURN_IF_ERROR(objects.Put(kConfigObject, SerializeConfig(config), true).status());
  if (config.custodians > 0) {
    TESSERA_RETURN_IF_ERROR(
        objects.Put(kCustodianObject, keys.custodian_key.view(), false).status());
  }
  // Descriptors last: a store without one is not yet part of a vault.
  for (int i = 0; i < config.n; ++i)
    TESSERA_RETURN_IF_ERROR(stores[i]
                                ->Put(kDescriptorName, SerializeDescriptor(keys.descriptors[i]))
                                .WithContext(config.stores[i]));
  TESSERA_RETURN_IF_ERROR(WriteFileAtomic(ctx.ConfigPath(), SerializeConfig(config), 0600));
  return InitResult{config, keys.recovery_codes};
}

namespace {
struct Recovered {
  SecretBytes master;
  std::vector<StoreDescriptor> descriptors;
};

Result<Recovered> RecoverFrom(const std::vector<std::shared_ptr<store::ObjectStore>>& stores,
                              const std::vector<std::string>& codes,
                              const SecretBytes* custodian_key, std::vector<std::string>* notes) {
  Recovered r;
  for (auto& s : stores) {
    if (!s) continue;
    auto data = s->Get(kDescriptorName);
    if (!data.ok()) {
      if (notes) notes->push_back(s->Url() + ": " + data.status().message());
      continue;
    }
    auto d = ParseDescriptor(*data);
    if (!d.ok()) {
      if (notes) notes->push_back(s->Url() + ": " + d.status().message());
      continue;
    }
    r.descriptors.push_back(std::move(*d));
  }
  if (r.descriptors.empty())
    return Status::NotFound("none of the stores given holds a tessera vault" +
                            (notes && !notes->empty() ? " (" + notes->front() + ")" : ""));
  TESSERA_ASSIGN_OR_RETURN(r.master, RecoverMasterKey(r.descriptors, codes, custodian_key));
  return r;
}
}  // namespace

Result<VaultConfig> ConnectVault(const VaultContext& ctx, const ConnectOptions& options) {
  if (options.stores.empty()) return Status::InvalidArgument("give the stores with --store URL");
  if (fs::exists(ctx.ConfigPath()))
    return Status::AlreadyExists("a vault named '" + ctx.name + "' is already set up in " +
                                 ctx.home + " (use --vault NAME for another)");
  TESSERA_ASSIGN_OR_RETURN(auto given, OpenStores(options.stores, {}, ctx.store_options));
  std::vector<std::string> notes;
  TESSERA_ASSIGN_OR_RETURN(Recovered rec,
                           RecoverFrom(given, options.recovery_codes, nullptr, &notes));
  const StoreDescriptor& first = rec.descriptors.front();
  // Put each given store in its slot, then read the sealed configuration through them.
  std::vector<std::shared_ptr<store::ObjectStore>> slots(static_cast<size_t>(first.n));
  std::vector<std::string> urls(static_cast<size_t>(first.n));
  for (size_t g = 0; g < given.size(); ++g) {
    auto data = given[g]->Get(kDescriptorName);
    if (!data.ok()) continue;
    auto d = ParseDescriptor(*data);
    if (!d.ok() || d->vault_id != first.vault_id || d->n != first.n || d->k != first.k) continue;
    slots[d->index] = given[g];
    urls[d->index] = options.stores[g];
  }
  ThreadPool io(4);
  VaultKeys keys(rec.master);
  ShardedStore objects(HexDecode(first.vault_id).value(), first.k, first.n, first.k, slots, keys,
                       io);
  TESSERA_ASSIGN_OR_RETURN(Bytes config_data, objects.Get(kConfigObject));
  TESSERA_ASSIGN_OR_RETURN(VaultConfig config, ParseConfig(config_data));
  if (config.vault_id != first.vault_id)
    return Status::Corruption("the vault's configuration names another vault");
  // Stores given here may have moved (a new endpoint at the recovery site): keep those.
  for (int i = 0; i < config.n; ++i)
    if (!urls[i].empty()) config.stores[i] = urls[i];
  SecretBytes custodian_key;
  if (config.custodians > 0) {
    TESSERA_ASSIGN_OR_RETURN(Bytes ck, objects.Get(kCustodianObject));
    custodian_key = SecretBytes(std::move(ck));
  }
  TESSERA_RETURN_IF_ERROR(MakeDirs(ctx.VaultDir(), 0700));
  TESSERA_RETURN_IF_ERROR(
      WriteKeyFile(ctx.KeyPath(), config.vault_id, rec.master, custodian_key, ctx.passphrase));
  TESSERA_RETURN_IF_ERROR(WriteFileAtomic(ctx.ConfigPath(), SerializeConfig(config), 0600));
  return config;
}

Result<std::unique_ptr<Repository>> OpenVault(const VaultContext& ctx, const OpenOptions& options) {
  TESSERA_ASSIGN_OR_RETURN(VaultConfig config, LoadLocalConfig(ctx));
  for (int i : options.only_stores)
    if (i < 0 || i >= config.n)
      return Status::InvalidArgument("store " + std::to_string(i + 1) +
                                     " does not exist (the vault has " + std::to_string(config.n) +
                                     ")");
  if (!options.only_stores.empty() && static_cast<int>(options.only_stores.size()) < config.k)
    return Status::InvalidArgument("at least " + std::to_string(config.k) + " stores are needed, " +
                                   std::to_string(options.only_stores.size()) + " chosen");
  auto key = ReadKeyFile(ctx.KeyPath(), config.vault_id, ctx.passphrase);
  if (!key.ok()) return key.status();
  TESSERA_ASSIGN_OR_RETURN(auto stores,
                           OpenStores(config.stores, options.only_stores, ctx.store_options));
  // The key must be this vault's: data sealed under another key could never be read back.
  // The first store that answers with a descriptor settles it.
  Bytes check = VaultKeys(key->master).KeyCheck();
  for (size_t i = 0; i < stores.size(); ++i) {
    if (!stores[i]) continue;
    auto data = stores[i]->Get(kDescriptorName);
    if (!data.ok()) continue;
    auto d = ParseDescriptor(*data);
    if (!d.ok()) continue;
    if (d->vault_id != config.vault_id)
      return Status::FailedPrecondition("store " + std::to_string(i + 1) + " (" + config.stores[i] +
                                        ") holds another vault (" + d->vault_id +
                                        "); check the store URLs in " + ctx.ConfigPath());
    if (d->key_check != check)
      return Status::PermissionDenied("the key in " + ctx.KeyPath() +
                                      " does not open this vault (a damaged or wrong key file); "
                                      "restore it from a copy or run `tessera vault connect`");
    break;
  }
  return std::make_unique<Repository>(config, key->master, std::move(stores), ctx.threads);
}

Result<std::unique_ptr<Repository>> OpenFromStores(
    const VaultConfig& config, const std::vector<int>& use, const std::vector<std::string>& codes,
    const SecretBytes* custodian_key, const store::StoreOptions& options, size_t threads) {
  TESSERA_ASSIGN_OR_RETURN(auto stores, OpenStores(config.stores, use, options));
  TESSERA_ASSIGN_OR_RETURN(Recovered rec, RecoverFrom(stores, codes, custodian_key, nullptr));
  if (rec.descriptors.front().vault_id != config.vault_id)
    return Status::Corruption("the stores hold another vault than the one configured");
  return std::make_unique<Repository>(config, rec.master, std::move(stores), threads);
}

}  // namespace tessera::vault
