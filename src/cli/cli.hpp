// What every subcommand of the `tessera` program shares: global options, the settings
// file, output in text or JSON, and exit codes a scheduler can act on.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "archive/access.hpp"
#include "archive/message_store.hpp"
#include "base/status.hpp"
#include "exchange/gateway.hpp"
#include "vault/vault.hpp"

namespace tessera::cli {

// Exit codes (documented in README "Exit codes").
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,     // the command failed; nothing committed was lost
  kExitUsage = 2,     // wrong arguments
  kExitDegraded = 3,  // done, but some stores missed shards: run `vault repair`
  kExitProblems = 4,  // verify found damage, or a drill failed
  kExitBusy = 5,      // the vault is locked by another run, or a precondition is unmet
};

struct Context {
  std::string home;      // --home / $TESSERA_HOME / [paths] home / ./var
  std::string settings;  // --config / $TESSERA_CONFIG / ./tessera.toml if present
  std::string vault_name = "default";
  bool json = false;
  std::string log_level = "warn";
  size_t threads = 0;
  store::StoreOptions store_options;
  int exit_code = kExitOk;

  // Reads the settings file and environment into the fields not set on the command line.
  Status Resolve();
  vault::VaultContext Vault() const;
  // Passphrase from $TESSERA_PASSPHRASE, or asked on the terminal when `prompt`.
  std::optional<std::string> Passphrase(bool prompt, bool confirm) const;
  // A secret from the environment variable `env`, else asked on the terminal (twice when
  // `confirm`, refused when the two differ); nullopt when neither is possible.
  std::optional<std::string> Secret(const char* env, const std::string& prompt, bool confirm) const;
};

// Prints the error (and sets the exit code from its kind).
int Fail(Context& ctx, const Status& st);
void PrintJson(const nlohmann::json& j);
// "1,3,4" (1-based, as people count stores) to sorted, distinct 0-based indices;
// InvalidArgument naming `option` otherwise.
Result<std::vector<int>> ParseStoreNumbers(const std::string& text, const char* option);
// Runs `fn`, turning a returned error into output and an exit code.
void Run(Context& ctx, const std::function<Status()>& fn);

void AddVaultCommands(CLI::App& app, Context& ctx);
void AddArchiveCommands(CLI::App& app, Context& ctx);
void AddServeCommand(CLI::App& app, Context& ctx);
void AddExchangeCommands(CLI::App& app, Context& ctx);  // 公文 exchange
void AddPkiCommands(CLI::App& app, Context& ctx);       // a test CA and certificates
void AddGuardCommands(CLI::App& app, Context& ctx);     // audit shipping to a SOC, ...
void AddReleaseCommands(CLI::App& app, Context& ctx);   // signed releases
void AddConsoleCommands(CLI::App& app, Context& ctx);   // the web console's accounts
void AddArchiveSearchCommand(CLI::App& archive, Context& ctx);
void AddArchiveAuditCommand(CLI::App& archive, Context& ctx);
void AddArchiveRetentionCommands(CLI::App& archive, Context& ctx);
void AddArchiveBackupCommands(CLI::App& archive, Context& ctx);  // backup, recover
void AddArchiveUsersCommands(CLI::App& archive, Context& ctx);
void AddArchiveVolumeCommands(CLI::App& archive, Context& ctx);  // offline volumes
// Who runs this command, if they may `permission` (archive/access.hpp); a refusal is
// recorded in the audit log as `action` on `target` and returned as PermissionDenied.
Result<archive::Principal> Authorize(const Context& ctx, archive::MessageStore& store,
                                     archive::Permission permission, const std::string& action,
                                     const std::string& target);
// Whether `who` may read each of these messages (a clerk: only their own mail); the first
// refusal is recorded and returned.
Status AuthorizeMessages(const Context& ctx, archive::MessageStore& store,
                         const archive::Principal& who, const std::vector<int64_t>& ids,
                         const std::string& action);
// Records an action on archived mail in the audit log (<home>/audit.db) before it is done;
// an error when it cannot, and then the action must not happen.
Status Audit(const Context& ctx, const std::string& action, const std::string& target,
             const std::string& outcome);
// Indexes what the archive stored since the last indexing; says what it did (counting
// `indexed_before` messages indexed earlier in the same command), for the user.
std::string UpdateSearchIndex(const Context& ctx, archive::MessageStore& store,
                              uint64_t indexed_before = 0);
// The parts of `vault` kept in their own files.
void AddVaultCheckCommands(CLI::App& vault, Context& ctx);  // verify, repair, replace-store
void AddVaultPruneCommands(CLI::App& vault, Context& ctx);  // forget
void AddVaultDrillCommands(CLI::App& vault, Context& ctx);  // drill, drills
// The parts of `exchange` kept in their own files.
void AddExchangeDocumentCommands(CLI::App& exchange, Context& ctx);  // validate, show
void AddExchangeRegistryCommands(CLI::App& exchange, Context& ctx);  // registry ...
// The parts of `guard` kept in their own files.
void AddIntegrityCommands(CLI::App& guard, Context& ctx);  // baseline, check
void AddReportCommand(CLI::App& guard, Context& ctx);      // report (self-assessment)

}  // namespace tessera::cli
