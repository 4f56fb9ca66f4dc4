// `tessera serve`: the daemon roles of one installation, wired together and run in one
// process (under systemd, one service). The settings file chooses the roles:
//   - archive: the journaling listener (LMTP and SMTP, [archive] lmtp/smtp) storing into
//     the message store under the home directory, its search index kept up to date;
//   - exchange center: when [exchange] center_id is set (the management center also
//     publishes the registry: [exchange] publish_registry = true);
//   - agency gateway: when [exchange] agency is set, a GatewayDaemon (server/
//     gateway_daemon.hpp) receiving by long poll, flushing and checking its health;
//   - syslog shipper: when [guard.syslog] collector is set, the audit log of the home
//     shipped to the SOC's collector (guard/syslog_shipper.hpp).
// With [guard.release], before any role starts, the host checks that it runs the signed
// release it was installed from, unaltered, and listed in its exchange registry
// (guard/release.hpp); the outcome goes to the audit log, and policy "refuse" (the
// default) stops serve on a problem, "warn" logs it. With [guard.integrity], the files of
// the integrity baseline are checked at start (refuse_start: a finding stops serve;
// refuse_exchange: the exchange roles stay off while the archive keeps journaling) and
// then by the integrity watch (guard/integrity_watch.hpp); every check is audited. The
// release is checked again every release_recheck_period, so a release the management
// center withdraws is refused (or warned of) while serve runs. With [guard.alert] the
// integrity and release findings are also mailed (server/mail_alerts.hpp); with
// [guard.audit] checkpoint_period the audit log gets a signed checkpoint whenever it grew.
// With [console] (or no settings file at all) it serves the web console and its REST API
// over HTTPS (server/console_server.hpp).
// With no settings it runs the archive listener and the console on ./var, on 127.0.0.1 only.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "archive/journal.hpp"
#include "base/status.hpp"
#include "guard/integrity_watch.hpp"
#include "guard/release.hpp"
#include "guard/syslog_options.hpp"
#include "server/console_server.hpp"
#include "server/exchange_roles.hpp"
#include "server/gateway_daemon.hpp"
#include "server/mail_alerts.hpp"

namespace tessera::server {

struct ArchiveRoleConfig {
  std::string lmtp = "127.0.0.1:10024";  // "" turns the LMTP listener off
  std::string smtp = "127.0.0.1:10025";  // "" turns the SMTP listener off
  std::string hostname;                  // in banners; default: this host's name
  uint64_t max_message_bytes = uint64_t{64} << 20;
  archive::JournalOptions journal;
};

struct ExchangeRoleConfig {
  ExchangeSettings settings;      // center_id set: a center; agency set: a gateway; or both
  bool publish_registry = false;  // the center serves <home>/exchange/management/current.json
  GatewayDaemonOptions gateway;
};

struct IntegrityRoleConfig {
  guard::IntegrityWatchOptions watch;  // baseline and key empty: those under the home
  bool refuse_start = false;           // a finding at start stops serve
  bool refuse_exchange = false;        // a finding at start keeps the exchange roles off
};

struct AuditCheckpointConfig {
  std::chrono::seconds period{3600};
  std::filesystem::path copy_dir;  // empty: the checkpoints stay in the log only
};

// What `tessera guard report` holds the backups to ([guard.report]).
struct ReportPolicy {
  int64_t backup_max_age = 2 * 86400;   // seconds: the newest snapshot of each vault
  int64_t drill_max_age = 365 * 86400;  // seconds: the last successful restore drill
};

struct ServeConfig {
  std::filesystem::path home = "var";
  ArchiveRoleConfig archive;
  ExchangeRoleConfig exchange;
  std::optional<guard::SyslogShipOptions> syslog;     // set: ship the audit log
  std::optional<guard::InstalledRelease> release;     // set: check it before any role starts
  std::chrono::seconds release_recheck_period{3600};  // and again this often while serving
  std::optional<IntegrityRoleConfig> integrity;       // set: check at start, then watch
  std::optional<AuditCheckpointConfig> checkpoints;   // set: sign audit checkpoints periodically
  std::optional<MailAlertOptions> alert;              // set: integrity and release alerts by mail
  std::optional<ConsoleConfig> console;               // set: the web console over HTTPS
  ReportPolicy report;
};

// Reads the [archive], [console], [exchange], [guard.syslog], [guard.release],
// [guard.integrity], [guard.audit], [guard.alert] and [guard.report] tables of
// `settings_file` over the values in `config` (nothing when the name is empty). InvalidArgument
// naming the file and the key when the file is not valid TOML or a value is out of range.
Status ReadServeSettings(const std::string& settings_file, ServeConfig& config);

// "127.0.0.1:10024", "[::1]:24" or ":25" (all IPv4 interfaces) into address and port;
// InvalidArgument naming `text` otherwise.
Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& text);

// Opens every configured role's state, loads its certificates and keys, binds every
// listener, calls `ready` with what an operator needs to know (where the data is, what
// runs and listens where), and serves, each role on a thread of its own, until SIGINT or
// SIGTERM; then stops every role and returns OK. Fails before serving anything, with an
// error naming the setting, if a role cannot start; fails when no role is configured.
// SIGINT and SIGTERM are blocked in the calling thread while it runs (and so in every
// thread it starts): call it before any other thread is started.
Status Serve(const ServeConfig& config, const std::function<void(const std::string&)>& ready);

}  // namespace tessera::server
