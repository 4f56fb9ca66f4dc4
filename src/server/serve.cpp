#include "server/serve.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "archive/mail_listener.hpp"
#include "archive/message_store.hpp"
#include "archive/search_index.hpp"
#include "base/host.hpp"
#include "base/log.hpp"
#include "exchange/center_server.hpp"
#include "exchange/registry_store.hpp"
#include "guard/release.hpp"
#include "guard/syslog_shipper.hpp"
#include "server/audit.hpp"
#include "server/console_exchange.hpp"
#include "server/console_vault.hpp"
#include "server/mail_alerts.hpp"
#include "server/vault_schedule.hpp"

namespace tessera::server {
namespace {

// A role ready to run: `run` serves until `stop` is called (from another thread).
struct ServeRole {
  std::string name;
  std::function<Status()> run;
  std::function<void()> stop;
  bool serves = true;  // false: it only watches over the others (release check, checkpoints)
};

// What Prepare* add to: the roles, and the lines of the "running" text.
struct Plan {
  std::vector<ServeRole> roles;
  std::string text;
};

// A flag to wait on, for roles whose work runs on threads of their own.
class StopFlag {
 public:
  void Set() {
    {
      std::lock_guard lock(mu_);
      set_ = true;
    }
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return set_; });
  }
  // True when set within `d`.
  bool WaitFor(std::chrono::steady_clock::duration d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [this] { return set_; });
  }

 private:
  std::mutex mu_;  // guards set_
  std::condition_variable cv_;
  bool set_ = false;
};

// SIGINT and SIGTERM blocked in this thread (and so in every thread started after) while
// it lives; Wait() takes them with sigtimedwait. Signals that arrived and were not taken
// are dropped at the end, so that unblocking does not kill the process.
class BlockedSignals {
 public:
  BlockedSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockedSignals() {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;
  // A signal taken within `ms` milliseconds, or 0.
  int Wait(long ms) {
    timespec t{ms / 1000, (ms % 1000) * 1000000};
    int sig = sigtimedwait(&set_, nullptr, &t);
    return sig > 0 ? sig : 0;
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

std::string Absolute(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::absolute(p, ec).string();
}

// The archive role's parts. The listener's storage thread uses the store and the index
// until the listener is destroyed (it joins the thread then), so it is declared last and
// destroyed first.
struct ArchiveRole {
  std::unique_ptr<archive::MessageStore> store;
  std::unique_ptr<archive::SearchIndex> index;
  std::unique_ptr<archive::MailServer> server;
};

Status PrepareArchive(const ServeConfig& config, Plan& plan) {
  const ArchiveRoleConfig& ac = config.archive;
  std::vector<archive::MailListenerConfig> listeners;
  std::vector<std::string> names;
  for (auto [text, protocol] : {std::pair{ac.lmtp, archive::MailProtocol::kLmtp},
                                std::pair{ac.smtp, archive::MailProtocol::kSmtp}}) {
    if (text.empty()) continue;
    auto where = ParseListenAddress(text);
    if (!where.ok())
      return Status::InvalidArgument(std::string("[archive] ") +
                                     (protocol == archive::MailProtocol::kLmtp ? "lmtp" : "smtp") +
                                     ": " + where.status().message());
    archive::MailListenerConfig l;
    l.address = where->first;
    l.port = where->second;
    l.protocol = protocol;
    l.hostname = ac.hostname.empty() ? HostName() : ac.hostname;
    l.limits.max_message_bytes = ac.max_message_bytes;
    listeners.push_back(l);
    names.push_back(protocol == archive::MailProtocol::kLmtp ? "LMTP" : "SMTP");
  }
  if (listeners.empty()) return Status::Ok();  // the archive role is off

  const std::filesystem::path archive_dir = config.home / "archive";
  auto role = std::make_shared<ArchiveRole>();
  TESSERA_ASSIGN_OR_RETURN(role->store, archive::MessageStore::Open(archive_dir));
  archive::MessageStore* s = role->store.get();
  const archive::JournalOptions journal = ac.journal;
  TESSERA_ASSIGN_OR_RETURN(
      role->server,
      archive::MailServer::Bind(listeners, [s, journal](const archive::MailEnvelope& envelope,
                                                        archive::MailProtocol protocol,
                                                        const std::string& peer, Bytes message) {
        return archive::ArchiveJournaled(*s, envelope, protocol, peer, message, journal);
      }));
  archive::MailServer* server = role->server.get();

  // The search index follows the store: what arrived is indexed every two seconds, on the
  // storage thread, so indexing never races a message being stored. Documents the
  // exchange gateway journals are indexed here too (the index is this process's).
  TESSERA_ASSIGN_OR_RETURN(role->index,
                           archive::SearchIndex::OpenForWriting(archive_dir / "index"));
  archive::SearchIndex* ix = role->index.get();
  server->RunPeriodically(std::chrono::seconds(2), [s, ix] {
    Result<archive::CatchUpReport> r = ix->CatchUp(*s, nullptr);
    if (!r.ok()) {
      spdlog::error("search index: {} (messages stay archived; indexing is tried again)",
                    r.status().ToString());
      return;
    }
    if (r->messages) spdlog::info("search index: indexed {} message(s)", r->messages);
    for (const std::string& p : r->problems) spdlog::warn("search index: {}", p);
  });

  plan.text += "  archive:         " + Absolute(archive_dir) + " (" +
               std::to_string(s->MessageCount()) + " messages)\n";
  const std::vector<uint16_t> ports = server->ports();
  for (size_t i = 0; i < listeners.size(); ++i)
    plan.text += "  " + names[i] + " listener:   " + listeners[i].address + ":" +
                 std::to_string(ports[i]) + " (journal: every message is archived)\n";
  if (!ac.journal.recipients_header.empty())
    plan.text += "  true recipients: from the " + ac.journal.recipients_header +
                 " fields an MTA prepends (README, \"Journaling from Postfix\")\n";
  plan.roles.push_back(ServeRole{
      "archive listener",
      [role] {
        TESSERA_RETURN_IF_ERROR(role->server->Run(/*stop_on_signals=*/false));
        spdlog::warn("tessera serve: the archive listener stopped; the archive holds {} messages",
                     role->store->MessageCount());
        return Status::Ok();
      },
      [role] { role->server->Stop(); }});
  return Status::Ok();
}

// The web console: started (certificate made or loaded, port bound) before any role runs,
// so a port in use or a bad certificate stops serve with a clear error.
Status PrepareConsole(const ServeConfig& config, Plan& plan) {
  if (!config.console) return Status::Ok();
  ConsoleConfig console_config = *config.console;
  // An agency gateway's documents are sent and read in the console too; an exchange
  // center's suspensions and the management host's registry draft are changed there.
  const ExchangeSettings& xs = config.exchange.settings;
  const bool management =
      config.exchange.publish_registry ||
      std::filesystem::exists(ExchangeDir(config.home) / "management" / "draft.json");
  if (!xs.agency.empty() || !xs.center_id.empty() || management) {
    auto exchange = std::make_shared<ExchangeApi>(config.home, xs);
    exchange->set_operations(
        std::make_shared<ExchangeOpsApi>(config.home, xs.center_id, management));
    console_config.api.exchange = exchange;
  }
  // The vaults' schedules run beside the console, their jobs in the console's job list.
  VaultApiOptions vault_options = console_config.api.vault;  // the command line's store options
  if (const char* p = std::getenv("TESSERA_PASSPHRASE"); p && !vault_options.passphrase)
    vault_options.passphrase = p;
  console_config.api.vaults = std::make_shared<VaultApi>(config.home, vault_options);
  auto schedules = std::make_shared<VaultScheduler>(config.home, console_config.api.vaults);
  console_config.api.schedules = schedules;
  auto started = ConsoleServer::Start(config.home, console_config);
  if (!started.ok())
    return Status(started.status().code(), "web console: " + started.status().message());
  std::shared_ptr<ConsoleServer> console(std::move(*started));
  auto listen = ParseListenAddress(config.console->listen);
  plan.text +=
      "  web console:     https://" +
      (listen->first.find(':') != std::string::npos ? "[" + listen->first + "]" : listen->first) +
      ":" + std::to_string(console->port()) + "/ (certificate " + Absolute(console->certificate()) +
      ", pages " + Absolute(console->web_root()) + ")\n";
  if (!console->has_accounts())
    plan.text +=
        "                   no account yet: make the first administrator with `tessera console "
        "account add admin --role admin`\n";
  plan.roles.push_back(ServeRole{"web console", [console] { return console->Run(); },
                                 [console] { console->Stop(); }});
  plan.roles.push_back(ServeRole{"vault schedules", [schedules] { return schedules->Run(); },
                                 [schedules] { schedules->Stop(); }, /*serves=*/false});
  plan.text += "  vault schedules: run with the console (Asia/Taipei times)\n";
  return Status::Ok();
}

Status PrepareCenter(const ServeConfig& config, Plan& plan) {
  const ExchangeSettings& s = config.exchange.settings;
  if (s.center_id.empty()) return Status::Ok();
  TESSERA_RETURN_IF_ERROR(CheckIdentityFiles(s));
  if (auto listen = ParseListenAddress(s.listen); !listen.ok())
    return Status::InvalidArgument("[exchange] listen: " + listen.status().message());
  auto made = CenterConfig(config.home, s, config.exchange.publish_registry);
  if (!made.ok())
    return Status(made.status().code(),
                  "[exchange] (exchange center " + s.center_id + "): " + made.status().message());
  exchange::CenterServerConfig cc = std::move(*made);
  const std::string address = cc.address;
  const std::string spool = Absolute(cc.dir);
  auto started = exchange::CenterServer::Start(std::move(cc));
  if (!started.ok())
    return Status(started.status().code(), "exchange center " + s.center_id + " ([exchange] " +
                                               "listen = " + s.listen +
                                               "): " + started.status().message());
  std::shared_ptr<exchange::CenterServer> center(std::move(*started));
  plan.text +=
      "  exchange center: " + s.center_id + " on " + address + ":" +
      std::to_string(center->port()) + " (mutual TLS), spool " + spool +
      (config.exchange.publish_registry ? "; publishes the registry at /v1/registry" : "") + "\n";
  plan.roles.push_back(ServeRole{"exchange center " + s.center_id,
                                 [center] { return center->Run(/*stop_on_signals=*/false); },
                                 [center] { center->Stop(); }});
  return Status::Ok();
}

Status PrepareGateway(const ServeConfig& config, Plan& plan) {
  const ExchangeSettings& s = config.exchange.settings;
  if (s.agency.empty()) return Status::Ok();
  auto opened = GatewayDaemon::Open(config.home, s, config.exchange.gateway);
  if (!opened.ok())
    return Status(opened.status().code(),
                  "agency gateway " + s.agency + ": " + opened.status().message());
  std::shared_ptr<GatewayDaemon> daemon(std::move(*opened));
  const GatewayDaemonOptions& o = config.exchange.gateway;
  plan.text += "  agency gateway:  " + s.agency + ", state " +
               Absolute(ExchangeDir(config.home) / "gateway") + "; receives by long poll (" +
               std::to_string(o.receive_wait.count()) + " s), flushes every " +
               std::to_string(o.flush_period.count()) + " s, checks its health every " +
               std::to_string(o.health_period.count()) + " s\n";
  plan.roles.push_back(ServeRole{"agency gateway " + s.agency, [daemon] { return daemon->Run(); },
                                 [daemon] { daemon->Stop(); }});
  return Status::Ok();
}

// One check of [guard.release]: the release as installed, against the hashes the
// management center lists where this host has a registry (fetched anew when due).
struct ReleaseCheck {
  std::string release;  // "release 1.2.0"
  std::vector<std::string> problems;
  std::string outcome;  // for the audit log and the log
};

ReleaseCheck CheckReleaseOnce(const ServeConfig& config) {
  const guard::InstalledRelease& r = *config.release;
  std::optional<std::vector<std::string>> listed;
  std::string against = "no exchange registry on this host to check the release hash against";
  std::string registry_problem;
  if (exchange::HostManagementKey(config.home).ok()) {
    Result<exchange::Registry> reg = HostRegistry(config.home, config.exchange.settings);
    listed.emplace();
    if (reg.ok()) {
      listed = reg->ReleaseHashes();
      against = "listed in exchange registry serial " + std::to_string(reg->serial);
    } else {
      registry_problem =
          "cannot read the exchange registry to check the release hash: " + reg.status().message();
    }
  }
  guard::InstalledReleaseCheck check =
      guard::CheckInstalledRelease(r, guard::RunningProgram(), listed);
  if (!registry_problem.empty()) check.problems.push_back(registry_problem);
  ReleaseCheck out;
  out.release = "release " + (check.version.empty() ? "?" : check.version);
  out.problems = std::move(check.problems);
  if (out.problems.empty()) {
    out.outcome = "verified: " + std::to_string(check.files) + " files as signed, " + against;
  } else {
    out.outcome = std::to_string(out.problems.size()) + " problem(s), policy " +
                  (r.refuse ? "refuse" : "warn") + ":";
    for (const std::string& p : out.problems) out.outcome += " " + p + ";";
    out.outcome.pop_back();
  }
  return out;
}

// Records a release check in the audit log (and so for the SOC) and mails it where
// [guard.alert] is set.
Status RecordReleaseCheck(const ServeConfig& config, MailAlerts* alerts, const ReleaseCheck& c) {
  if (alerts != nullptr)
    if (Status st = alerts->Report(
            "release", c.release + " in " + config.release->directory.string(), c.problems);
        !st.ok())
      spdlog::error("[guard.alert] the release alert was not mailed: {}", st.ToString());
  return RecordAudit(config.home, "guard.release-check", c.release, c.outcome);
}

Status ReleaseRefused(const ReleaseCheck& c) {
  return Status::FailedPrecondition(
      "[guard.release]: this host does not run " + c.release + " as signed and listed (" +
      c.outcome + "); install the release again, or set policy = \"warn\" to run anyway");
}

// The release check of [guard.release], before any role starts, and again every
// recheck_period while serve runs (a release the management center withdraws is noticed
// then): recorded in the audit log either way; with policy "refuse" a problem stops serve.
Status CheckRelease(const ServeConfig& config, MailAlerts* alerts, Plan& plan) {
  if (!config.release) return Status::Ok();
  const guard::InstalledRelease& r = *config.release;
  const ReleaseCheck check = CheckReleaseOnce(config);
  TESSERA_RETURN_IF_ERROR(RecordReleaseCheck(config, alerts, check));
  if (!check.problems.empty() && r.refuse) return ReleaseRefused(check);
  for (const std::string& p : check.problems)
    spdlog::warn("[guard.release] {}: {}", check.release, p);
  plan.text += "  release:         " + check.release + " (" + r.directory.string() +
               "): " + check.outcome + "; checked again every " +
               std::to_string(config.release_recheck_period.count()) + " s\n";
  auto flag = std::make_shared<StopFlag>();
  plan.roles.push_back(ServeRole{"release check",
                                 [&config, alerts, flag]() -> Status {
                                   while (!flag->WaitFor(config.release_recheck_period)) {
                                     const ReleaseCheck c = CheckReleaseOnce(config);
                                     if (Status st = RecordReleaseCheck(config, alerts, c);
                                         !st.ok())
                                       spdlog::error("[guard.release] {}", st.ToString());
                                     if (c.problems.empty()) continue;
                                     if (config.release->refuse) return ReleaseRefused(c);
                                     for (const std::string& p : c.problems)
                                       spdlog::warn("[guard.release] {}: {}", c.release, p);
                                   }
                                   return Status::Ok();
                                 },
                                 [flag] { flag->Set(); },
                                 /*serves=*/false});
  return Status::Ok();
}

// [guard.integrity]: one check before any role starts (refuse_start: a finding stops
// serve; refuse_exchange: it keeps the exchange roles from starting, and `exchange_refused`
// says so), then the integrity watch as a role; every check goes to the audit log.
Status PrepareIntegrity(const ServeConfig& config, MailAlerts* alerts, Plan& plan,
                        bool& exchange_refused) {
  if (!config.integrity) return Status::Ok();
  guard::IntegrityWatchOptions o = config.integrity->watch;
  if (o.baseline.empty()) o.baseline = guard::IntegrityBaselinePath(config.home);
  if (o.key.empty()) o.key = guard::IntegrityPublicKeyPath(config.home);
  auto first = guard::CheckIntegrity(o.baseline, o.key, nullptr);
  if (!first.ok())
    return Status(first.status().code(), "[guard.integrity]: " + first.status().message());
  const std::string outcome = first->Outcome();
  const std::string what = "the files of the integrity baseline " + Absolute(o.baseline);
  if (alerts != nullptr)
    if (Status st = alerts->Report("integrity", what, first->problems); !st.ok())
      spdlog::error("[guard.alert] the integrity alert was not mailed: {}", st.ToString());
  TESSERA_RETURN_IF_ERROR(
      RecordAudit(config.home, "guard.integrity-check", o.baseline.string(), outcome));
  if (!first->problems.empty() && config.integrity->refuse_start)
    return Status::FailedPrecondition(
        "[guard.integrity]: the files differ from the integrity baseline " + o.baseline.string() +
        " (" + outcome +
        "); serve does not start (refuse_start = true) until they are restored, or a new "
        "baseline is recorded with `tessera guard baseline`");
  for (const std::string& p : first->problems) spdlog::error("integrity: {}", p);
  if (!first->problems.empty() && config.integrity->refuse_exchange) {
    exchange_refused = true;
    spdlog::error(
        "[guard.integrity]: the exchange roles do not start (refuse_exchange = true) until the "
        "files are restored or a new baseline is recorded; the other roles run");
    TESSERA_RETURN_IF_ERROR(RecordAudit(config.home, "guard.exchange-refused", o.baseline.string(),
                                        "the exchange roles were not started: " + outcome));
  }
  auto opened = guard::IntegrityWatch::Open(o);
  if (!opened.ok())
    return Status(opened.status().code(), "[guard.integrity]: " + opened.status().message());
  std::shared_ptr<guard::IntegrityWatch> watch(std::move(*opened));
  plan.text += "  integrity watch: " + std::to_string(first->entries) + " entries of " +
               Absolute(o.baseline) + ", checked every " + std::to_string(o.period.count()) + " s" +
               (watch->watched_directories() > 0
                    ? " and within seconds of a change (inotify on " +
                          std::to_string(watch->watched_directories()) + " directories)"
                    : "") +
               "; at start: " + (first->problems.empty() ? "clean" : outcome) + "\n";
  const std::filesystem::path home = config.home;
  const std::string baseline = o.baseline.string();
  plan.roles.push_back(ServeRole{
      "integrity watch",
      [watch, home, baseline, alerts, what] {
        return watch->Run([&](const Result<guard::IntegrityReport>& r) {
          const std::string outcome =
              r.ok() ? r->Outcome() : "the check failed: " + r.status().message();
          if (!r.ok() || !r->problems.empty()) spdlog::error("integrity: {}", outcome);
          if (alerts != nullptr)
            if (Status st =
                    alerts->Report("integrity", what, r.ok() ? r->problems : std::vector{outcome});
                !st.ok())
              spdlog::error("[guard.alert] the integrity alert was not mailed: {}", st.ToString());
          if (Status st = RecordAudit(home, "guard.integrity-check", baseline, outcome); !st.ok())
            spdlog::error("integrity: cannot record the check: {}", st.ToString());
        });
      },
      [watch] { watch->Stop(); }});
  return Status::Ok();
}

// [guard.audit] checkpoint_period: a signed checkpoint of the audit log whenever it grew,
// also written to checkpoint_copy, so that a log cut short or rewritten shows without
// anyone remembering to run `tessera guard audit checkpoint`.
void PrepareCheckpoints(const ServeConfig& config, Plan& plan) {
  if (!config.checkpoints) return;
  const AuditCheckpointConfig c = *config.checkpoints;
  const std::filesystem::path home = config.home;
  auto flag = std::make_shared<StopFlag>();
  plan.text += "  audit log:       a signed checkpoint every " + std::to_string(c.period.count()) +
               " s when it grew" +
               (c.copy_dir.empty() ? "" : ", copied to " + Absolute(c.copy_dir)) + "\n";
  plan.roles.push_back(ServeRole{"audit checkpoints",
                                 [home, c, flag] {
                                   do {
                                     auto made = CheckpointIfGrown(home, c.copy_dir);
                                     if (!made.ok())
                                       spdlog::error("audit checkpoint: {} (tried again in {} s)",
                                                     made.status().ToString(), c.period.count());
                                     else if (*made)
                                       spdlog::info("audit checkpoint: record {} signed by key {}",
                                                    (*made)->seq, (*made)->key);
                                   } while (!flag->WaitFor(c.period));
                                   return Status::Ok();
                                 },
                                 [flag] { flag->Set(); },
                                 /*serves=*/false});
}

Status PrepareSyslog(const ServeConfig& config, Plan& plan) {
  if (!config.syslog) return Status::Ok();
  const guard::SyslogShipOptions o = *config.syslog;
  TESSERA_RETURN_IF_ERROR(guard::CheckSyslogFiles(o, "[guard.syslog]"));
  auto opened = guard::OpenSyslogShipper(config.home, o);
  if (!opened.ok())
    return Status(opened.status().code(), "[guard.syslog]: " + opened.status().message());
  std::shared_ptr<guard::SyslogShipper> shipper(std::move(*opened));
  auto flag = std::make_shared<StopFlag>();
  char period[32];
  std::snprintf(period, sizeof period, "%g", o.period);
  plan.text += "  syslog shipper:  the audit log of " + Absolute(config.home) + " to " +
               shipper->destination() + " (TLS) every " + period + " s\n";
  plan.roles.push_back(ServeRole{
      "syslog shipper",
      [shipper, flag, o] {
        shipper->Start(std::chrono::milliseconds(static_cast<int64_t>(o.period * 1000)), o.batch);
        flag->Wait();
        shipper->Stop();
        return Status::Ok();
      },
      [flag] { flag->Set(); }});
  return Status::Ok();
}

}  // namespace

Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + text +
                                   "' is not a listen address: write HOST:PORT, e.g. "
                                   "127.0.0.1:10024 or [::1]:10024");
  };
  std::string host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find("]:");
    if (close == std::string::npos) return bad();
    host = text.substr(1, close - 1);
    port = std::string_view(text).substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return bad();
    host = text.substr(0, colon);
    port = std::string_view(text).substr(colon + 1);
  }
  if (host.empty()) host = "0.0.0.0";
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535)
    return bad();
  return std::make_pair(host, static_cast<uint16_t>(value));
}

Status Serve(const ServeConfig& config, const std::function<void(const std::string&)>& ready) {
  // Before any role starts a thread: every thread inherits the mask, and the signals
  // reach only the wait below.
  BlockedSignals signals;
  Plan plan;
  std::unique_ptr<MailAlerts> alerts;
  if (config.alert) {
    alerts = std::make_unique<MailAlerts>(config.home, *config.alert, HostName());
    std::string to;
    for (const std::string& r : config.alert->to) to += (to.empty() ? "" : ", ") + r;
    plan.text += "  alerts by mail:  to " + to + " through " + config.alert->relay.host + ":" +
                 std::to_string(config.alert->relay.port) + "\n";
  }
  TESSERA_RETURN_IF_ERROR(CheckRelease(config, alerts.get(), plan));
  bool exchange_refused = false;
  TESSERA_RETURN_IF_ERROR(PrepareIntegrity(config, alerts.get(), plan, exchange_refused));
  PrepareCheckpoints(config, plan);
  // The shipper first: an error in its settings is found before a role takes its port.
  TESSERA_RETURN_IF_ERROR(PrepareSyslog(config, plan));
  TESSERA_RETURN_IF_ERROR(PrepareArchive(config, plan));
  TESSERA_RETURN_IF_ERROR(PrepareConsole(config, plan));
  if (exchange_refused) {
    plan.text +=
        "  exchange roles:  NOT started: the files differ from the integrity baseline "
        "([guard.integrity] refuse_exchange = true)\n";
  } else {
    TESSERA_RETURN_IF_ERROR(PrepareCenter(config, plan));
    TESSERA_RETURN_IF_ERROR(PrepareGateway(config, plan));
  }
  if (std::none_of(plan.roles.begin(), plan.roles.end(),
                   [](const ServeRole& r) { return r.serves; }))
    return Status::InvalidArgument(
        "no role has anything to serve: set [archive] lmtp or smtp, [console] listen, "
        "[exchange] center_id or agency, or [guard.syslog] collector in the settings");

  std::mutex mu;  // guards first_error
  Status first_error;
  std::atomic<bool> ended{false};
  std::vector<std::thread> threads;
  for (const ServeRole& role : plan.roles) {
    threads.emplace_back([&role, &mu, &first_error, &ended] {
      Status st = role.run();
      if (!st.ok()) {
        spdlog::error("tessera serve: {} failed: {}", role.name, st.ToString());
        std::lock_guard lock(mu);
        if (first_error.ok()) first_error = Status(st.code(), role.name + ": " + st.message());
      }
      ended = true;
    });
  }
  ready("tessera serve: running\n  home:            " + Absolute(config.home) + "\n" + plan.text +
        "Stop with Ctrl-C or SIGTERM.");

  int sig = 0;
  while (sig == 0 && !ended) sig = signals.Wait(200);
  if (sig != 0)
    spdlog::warn("tessera serve: signal {} received, stopping every role", sig);
  else
    spdlog::error("tessera serve: a role stopped; stopping the others");
  for (auto it = plan.roles.rbegin(); it != plan.roles.rend(); ++it) it->stop();
  for (std::thread& t : threads) t.join();
  spdlog::warn("tessera serve: stopped");
  std::lock_guard lock(mu);
  if (sig == 0 && first_error.ok())
    return Status::Internal("tessera serve: a role stopped without being asked to");
  return first_error;
}

}  // namespace tessera::server
