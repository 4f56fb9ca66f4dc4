// `tessera guard ...`: the security controls shared by every role: the shipping of the
// audit log to a SOC's syslog collector (RFC 5424 over TLS) and its backlog, and the
// audit log's signed checkpoints and end-to-end verification.
#include <csignal>
#include <cstdio>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "cli/cli.hpp"
#include "crypto/signature.hpp"
#include "guard/audit_log.hpp"
#include "guard/syslog_options.hpp"
#include "guard/syslog_shipper.hpp"

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The shipping options, and --once.
struct SyslogOptions : guard::SyslogShipOptions {
  bool once = false;
};

void AddCollectorOptions(CLI::App* cmd, SyslogOptions& o) {
  cmd->add_option("--collector", o.collector, "The SOC's syslog collector, HOST:PORT (TLS)")
      ->required();
  cmd->add_option("--ca", o.ca, "PEM file of the CA that signed the collector's certificate")
      ->required();
  cmd->add_option("--cert", o.cert, "Client certificate (PEM) for mutual TLS");
  cmd->add_option("--key", o.key, "Its private key (PEM)");
  cmd->add_option("--server-name", o.server_name,
                  "Name or IP the collector's certificate must carry (default: its HOST)");
}

Result<std::unique_ptr<guard::SyslogShipper>> OpenShipper(const Context& ctx,
                                                          const SyslogOptions& o) {
  return guard::OpenSyslogShipper(ctx.home, o);
}

void PrintReport(const Context& ctx, const guard::SyslogShipper& shipper,
                 const guard::ShipReport& r) {
  if (ctx.json) {
    PrintJson({{"ok", true},
               {"destination", shipper.destination()},
               {"sent", r.sent},
               {"cursor", r.cursor},
               {"head", r.head},
               {"backlog", r.head - r.cursor}});
    return;
  }
  std::printf("%llu record(s) shipped to %s; shipped up to seq %lld of %lld\n",
              static_cast<unsigned long long>(r.sent), shipper.destination().c_str(),
              static_cast<long long>(r.cursor), static_cast<long long>(r.head));
}

// Ships every period until SIGINT or SIGTERM.
Status ShipUntilSignalled(guard::SyslogShipper& shipper, const SyslogOptions& o) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked before the shipping thread starts, so that it inherits the mask and the
  // signal reaches sigwait here.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::fprintf(stderr, "shipping the audit log to %s every %g s; stop with Ctrl-C or SIGTERM\n",
               shipper.destination().c_str(), o.period);
  shipper.Start(std::chrono::milliseconds(static_cast<int64_t>(o.period * 1000)), o.batch);
  int received = 0;
  sigwait(&signals, &received);
  shipper.Stop();
  return Status::Ok();
}

void AddSyslogCommands(CLI::App& guard, Context& ctx) {
  auto* syslog = guard.add_subcommand(
      "syslog", "Ship the audit log to a SOC's syslog collector (RFC 5424 over TLS)");
  syslog->require_subcommand(1);

  auto o = std::make_shared<SyslogOptions>();
  auto* ship = syslog->add_subcommand(
      "ship",
      "Send the audit records not yet shipped, oldest first; records wait in the audit log "
      "while the collector is down");
  AddCollectorOptions(ship, *o);
  ship->add_flag("--once", o->once, "Send what is pending and exit (default: keep shipping)");
  ship->add_option("--period", o->period, "Seconds between rounds when not --once")
      ->check(CLI::Range(0.1, 86400.0));
  ship->add_option("--timeout", o->timeout, "Seconds allowed for each network step")
      ->check(CLI::Range(0.1, 600.0));
  ship->add_option("--batch", o->batch, "Records per write")->check(CLI::Range(1, 100000));
  ship->add_option("--facility", o->facility, "Syslog facility: local0..local7, auth, audit, ...");
  ship->add_option("--sd-id", o->sd_id,
                   "Structured-data ID of the records: NAME@YOUR-ENTERPRISE-NUMBER");
  ship->add_option("--hostname", o->hostname, "HOSTNAME of the messages (default: this host's)");
  ship->callback([&ctx, o] {
    Run(ctx, [&]() -> Status {
      TESSERA_ASSIGN_OR_RETURN(auto shipper, OpenShipper(ctx, *o));
      if (!o->once) return ShipUntilSignalled(*shipper, *o);
      TESSERA_ASSIGN_OR_RETURN(guard::ShipReport r, shipper->ShipOnce(o->batch));
      PrintReport(ctx, *shipper, r);
      return Status::Ok();
    });
  });

  auto rw = std::make_shared<SyslogOptions>();
  auto to = std::make_shared<int64_t>(0);
  auto* rewind = syslog->add_subcommand(
      "rewind", "Send again the records after --to SEQ (for a collector that lost some)");
  AddCollectorOptions(rewind, *rw);
  rewind->add_option("--to", *to, "The last seq the collector holds for sure")
      ->required()
      ->check(CLI::NonNegativeNumber);
  rewind->callback([&ctx, rw, to] {
    Run(ctx, [&]() -> Status {
      TESSERA_ASSIGN_OR_RETURN(auto shipper, OpenShipper(ctx, *rw));
      TESSERA_RETURN_IF_ERROR(shipper->Rewind(*to));
      if (!ctx.json)
        std::printf("%s: the records after seq %lld will be sent again\n",
                    shipper->destination().c_str(), static_cast<long long>(*to));
      else
        PrintJson({{"ok", true}, {"destination", shipper->destination()}, {"cursor", *to}});
      return Status::Ok();
    });
  });

  auto* status = syslog->add_subcommand(
      "status", "How far each collector has been sent the audit log, and the backlog");
  status->callback([&ctx] {
    Run(ctx, [&]() -> Status {
      int64_t head = 0;
      TESSERA_ASSIGN_OR_RETURN(std::vector<guard::ShipperCursor> cursors,
                               guard::SyslogShipper::Cursors(ctx.home, &head));
      if (ctx.json) {
        json list = json::array();
        for (const auto& c : cursors)
          list.push_back({{"destination", c.destination},
                          {"cursor", c.seq},
                          {"backlog", head - c.seq},
                          {"updated", c.at ? FormatRfc3339(c.at * 1000000000) : ""}});
        PrintJson({{"head", head}, {"destinations", list}});
        return Status::Ok();
      }
      std::printf("audit log head: seq %lld\n", static_cast<long long>(head));
      if (cursors.empty()) std::printf("nothing shipped yet: run `tessera guard syslog ship`\n");
      for (const auto& c : cursors)
        std::printf("%s: shipped up to seq %lld, backlog %lld record(s), last shipped %s\n",
                    c.destination.c_str(), static_cast<long long>(c.seq),
                    static_cast<long long>(head - c.seq), FormatRfc3339(c.at * 1000000000).c_str());
      return Status::Ok();
    });
  });
}

}  // namespace

void AddAuditCommands(CLI::App& guard, Context& ctx) {
  auto* audit = guard.add_subcommand(
      "audit", "The hash-chained audit log: signed checkpoints, and verifying it end to end");
  audit->require_subcommand(1);

  auto* checkpoint = audit->add_subcommand(
      "checkpoint",
      "Sign a checkpoint of the audit log as it is now (Ed25519, key audit-checkpoint.key) and "
      "record it; keep a copy (--out) and the public key apart from this host");
  auto out = std::make_shared<std::string>();
  checkpoint->add_option("--out", *out, "Also write the checkpoint (JSON) to this file");
  checkpoint->callback([&ctx, out] {
    Run(ctx, [&]() -> Status {
      TESSERA_ASSIGN_OR_RETURN(crypto::SigningKey key,
                               guard::AuditLog::LoadOrCreateCheckpointKey(ctx.home));
      TESSERA_ASSIGN_OR_RETURN(auto log, guard::AuditLog::Open(ctx.home));
      TESSERA_ASSIGN_OR_RETURN(guard::AuditCheckpoint c, log->Checkpoint(key));
      if (!out->empty()) TESSERA_RETURN_IF_ERROR(WriteFileAtomic(*out, c.ToJson() + "\n", 0644));
      if (ctx.json) {
        PrintJson(json::parse(c.ToJson()));
        return Status::Ok();
      }
      std::printf("checkpoint of record %lld (link %s) signed by key %s%s\n",
                  static_cast<long long>(c.seq), c.head.c_str(), c.key.c_str(),
                  out->empty() ? "" : (", written to " + *out).c_str());
      return Status::Ok();
    });
  });

  struct VerifyOptions {
    std::string key;
    std::vector<std::string> checkpoints;
  };
  auto o = std::make_shared<VerifyOptions>();
  auto* verify = audit->add_subcommand(
      "verify",
      "Check the audit log end to end: the chain of every record, and every checkpoint it "
      "records or you give; exit 4 when something is wrong");
  verify->add_option("--key", o->key,
                     "The checkpoint public key (PEM) from a copy kept apart (default: the one "
                     "beside the log, which whoever can rewrite the log can replace too)");
  verify->add_option("--checkpoint", o->checkpoints,
                     "A checkpoint kept apart (from `guard audit checkpoint --out`)");
  verify->callback([&ctx, o] {
    Run(ctx, [&]() -> Status {
      guard::CheckpointTrust trust;
      if (!o->key.empty()) {
        TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, crypto::PublicKey::Load(o->key));
        trust.key = key;
      }
      for (const std::string& file : o->checkpoints) {
        TESSERA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(file));
        auto c = guard::AuditCheckpoint::FromJson(text);
        if (!c.ok()) return Status::InvalidArgument(file + ": " + c.status().message());
        trust.kept_apart.push_back(*c);
      }
      TESSERA_ASSIGN_OR_RETURN(auto log, guard::AuditLog::Open(ctx.home));
      TESSERA_ASSIGN_OR_RETURN(guard::AuditVerifyReport v, log->Verify(trust));
      if (!v.problems.empty()) ctx.exit_code = kExitProblems;
      if (ctx.json) {
        PrintJson({{"ok", v.problems.empty()},
                   {"records", v.records},
                   {"head", v.head},
                   {"checkpoints", v.checkpoints},
                   {"problems", v.problems}});
        return Status::Ok();
      }
      for (const std::string& p : v.problems) std::printf("PROBLEM: %s\n", p.c_str());
      std::printf("%llu records, chain head %s; %llu checkpoint(s) checked; %s\n",
                  static_cast<unsigned long long>(v.records), v.head.c_str(),
                  static_cast<unsigned long long>(v.checkpoints),
                  v.problems.empty() ? "audit log OK" : "audit log DAMAGED");
      return Status::Ok();
    });
  });
}

void AddGuardCommands(CLI::App& app, Context& ctx) {
  auto* guard = app.add_subcommand(
      "guard",
      "Security controls shared by every role: audit shipping to a SOC, audit verification, "
      "file integrity");
  guard->require_subcommand(1);
  AddSyslogCommands(*guard, ctx);
  AddAuditCommands(*guard, ctx);
  AddIntegrityCommands(*guard, ctx);
  AddReportCommand(*guard, ctx);
}

}  // namespace tessera::cli
