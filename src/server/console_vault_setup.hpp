// Setting up vaults and their schedules from the console (docs/api.md, "Setting up vaults
// and schedules"):
//   POST /api/v1/vault-stores/check          one store: reachable, writable, empty or not
//   POST /api/v1/vaults                      a new vault, made as `tessera vault init` makes
//                                            it (vault::InitVault); 201, 409 when the name
//                                            or a store is taken, 400 naming the field
//   GET  /api/v1/vaults/{name}/schedule      its backup and drill schedules, next and last
//                                            runs
//   PUT  /api/v1/vaults/{name}/schedule      sets them (server/vault_schedule.hpp)
//   POST /api/v1/vaults/{name}/schedule/run  runs the scheduled backup or drill now
//
// Roles: operators and admins may do everything here; auditors and records officers may
// read schedules; clerks get 403. Every change and every refusal is recorded in the audit
// log (vault.init, vault.store-check, vault.schedule) before anything is done. An S3
// store's secret key is used for the check and the creation only: it is never written to
// the vault's configuration, the log or an answer.
//
// Safe to call from several threads at once.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "server/console_call.hpp"
#include "store/object_store.hpp"

namespace tessera::server {

class VaultScheduler;  // server/vault_schedule.hpp

struct VaultSetupOptions {
  // The server's passphrase for vault keys ($TESSERA_PASSPHRASE), to say whether the server
  // can open a new vault whose key is protected by a passphrase.
  std::optional<std::string> passphrase;
  store::StoreOptions store_options;
};

class VaultSetupApi {
 public:
  // `scheduler` may be null: schedules are then kept but "run now" answers 503.
  VaultSetupApi(std::filesystem::path home, VaultSetupOptions options,
                std::shared_ptr<VaultScheduler> scheduler);
  ~VaultSetupApi();

  // Whether `call` is one of the requests above.
  static bool Handles(const ApiCall& call);
  ApiResponse Handle(const ApiCall& call);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::server
