// The console's REST API (docs/api.md), apart from HTTP's transport: a request in, a
// response out. It signs people in (server/accounts.hpp), limits sign-in attempts per
// client address, checks the CSRF token of every change, decides what each role may do, and
// answers from the archive, the audit log and the accounts of one installation. Every
// search, view and download, and every refusal, is recorded in the audit log with the
// actor "console:<account>".
//
// What a console account may do with mail is the archive's decision once the archive has
// roles (archive/access.hpp): the account is resolved as the archive principal of the same
// name. Before that, the console's role decides: admin, auditor and records read all mail;
// clerks and operators read none (a clerk has no addresses until granted them).
//
// Safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "server/accounts.hpp"
#include "server/console_archive.hpp"
#include "server/console_call.hpp"
#include "server/console_vault.hpp"

namespace tessera::server {

class ExchangeApi;     // server/console_exchange.hpp
class VaultApi;        // server/console_vault.hpp
class VaultScheduler;  // server/vault_schedule.hpp

struct ConsoleApiOptions {
  int sign_in_limit = 10;        // sign-in attempts per client address…
  int64_t sign_in_window = 300;  // …within this many seconds; more get 429
  ArchiveApiOptions archive;
  // /api/v1/vaults and /api/v1/jobs; `tessera serve` gives the command line's store options
  // (tessera.toml [s3], --s3-endpoint…). The passphrase defaults to $TESSERA_PASSPHRASE.
  VaultApiOptions vault;
  // /api/v1/exchange: this host's agency gateway; none (503) when it is not one.
  std::shared_ptr<ExchangeApi> exchange;
  // /api/v1/vaults and /api/v1/jobs: shared with the schedule runner; null: one of its own.
  std::shared_ptr<VaultApi> vaults;
  // The schedule runner of `tessera serve` (for "run now"); null: none.
  std::shared_ptr<VaultScheduler> schedules;
};

// The session cookie's name.
inline constexpr char kSessionCookie[] = "tessera_session";

class ConsoleApi {
 public:
  ConsoleApi(std::filesystem::path home, AccountStore& accounts, ConsoleApiOptions options);
  ~ConsoleApi();

  // Answers one request whose target starts with /api/. Never throws; failures of the
  // server's own (a database that cannot be read) are 500 with the reason in the body.
  ApiResponse Handle(const ApiRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "name=value; other=x" → the value of `name`, "" when absent.
std::string CookieValue(std::string_view cookie_header, std::string_view name);
// Percent-decoding of a query component ('+' as space); InvalidArgument for a bad escape.
Result<std::string> PercentDecode(std::string_view text);
// The path of `target` and its query parameters (decoded; a repeated name keeps the last).
Result<std::pair<std::string, std::map<std::string, std::string>>> SplitTarget(
    std::string_view target);

}  // namespace tessera::server
