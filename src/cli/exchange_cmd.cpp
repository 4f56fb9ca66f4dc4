// `tessera exchange ...`: 公文 exchange between agencies (docs/exchange-protocol.md).
// This file holds the roles' commands: an exchange center (`center run`, `suspend`,
// `resume`), and an agency gateway (`send`, `receive`, `inbox`, `status`, `receipts`,
// `flush`, `clock`, `health`). Documents (`validate`, `show`) and the registry have files
// of their own.
#include <cstdio>
#include <memory>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "cli/cli.hpp"
#include "crypto/x509.hpp"
#include "exchange/center_client.hpp"
#include "exchange/center_server.hpp"
#include "exchange/center_store.hpp"
#include "exchange/gateway.hpp"
#include "exchange/health.hpp"
#include "exchange/registry_store.hpp"
#include "guard/audit_log.hpp"
#include "guard/malware_scanner.hpp"
#include "server/exchange_roles.hpp"

namespace tessera::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using server::ExchangeSettings;

// Options every exchange role shares.
std::shared_ptr<ExchangeSettings> AddIdentityOptions(CLI::App* cmd) {
  auto s = std::make_shared<ExchangeSettings>();
  cmd->add_option("--cert", s->certificate,
                  "This host's certificate, PEM (else [exchange] certificate)");
  cmd->add_option("--key", s->key, "Its private key, PEM (else [exchange] key)");
  cmd->add_option("--management-url", s->management_url,
                  "Fetch the signed registry from this management center when the one held is "
                  "due (else [exchange] management_url)");
  cmd->add_flag("--allow-tls12", s->allow_tls12,
                "Also speak TLS 1.2 (AEAD suites) to peers that need it");
  cmd->add_option("--source-address", s->source_address,
                  "Connect from this local address, the one registered for this host (else "
                  "[exchange] source_address)");
  return s;
}

std::shared_ptr<ExchangeSettings> AddGatewayOptions(CLI::App* cmd) {
  auto s = AddIdentityOptions(cmd);
  cmd->add_option("--agency", s->agency, "This agency's code, 機關代碼 (else [exchange] agency)");
  cmd->add_option("--malware-db", s->malware_db,
                  "ClamAV signature directory (else [exchange] malware_db)");
  return s;
}

std::string FormatTime(int64_t unix_seconds) {
  return unix_seconds > 0 ? FormatRfc3339(unix_seconds * 1000000000) : "-";
}

void AddCenterCommands(CLI::App& exchange, Context& ctx) {
  auto* center = exchange.add_subcommand("center", "Run an exchange center (交換層)");
  center->require_subcommand(1);
  auto* run =
      center->add_subcommand("run", "Serve as an exchange center over mutual TLS until stopped");
  auto s = AddIdentityOptions(run);
  run->add_option("--id", s->center_id,
                  "This center's id in the registry (else [exchange] center_id)");
  run->add_option("--listen", s->listen,
                  "Address and port to listen on (else [exchange] listen, 127.0.0.1:7443)");
  auto publish = std::make_shared<bool>(false);
  run->add_flag(
      "--publish-registry", *publish,
      "Also serve this home's published registry at /v1/registry (the management center)");
  run->callback([&ctx, s, publish] {
    Run(ctx, [&]() -> Status {
      TESSERA_RETURN_IF_ERROR(server::ReadExchangeSettings(ctx.settings, *s));
      TESSERA_ASSIGN_OR_RETURN(exchange::CenterServerConfig config,
                               server::CenterConfig(ctx.home, *s, *publish));
      const std::string address = config.address;
      const fs::path spool = config.dir;
      TESSERA_ASSIGN_OR_RETURN(auto center, exchange::CenterServer::Start(std::move(config)));
      std::printf("exchange center %s listening on %s:%u (mutual TLS), spool %s\n",
                  s->center_id.c_str(), address.c_str(), center->port(), spool.c_str());
      std::fflush(stdout);
      return center->Run(true);
    });
  });

  auto* suspend = exchange.add_subcommand("suspend",
                                          "Suspend an agency at this center (中止服務): it can "
                                          "neither send nor receive; its documents are held");
  auto agency = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto note = std::make_shared<std::string>();
  suspend->add_option("agency", *agency, "The agency's code")->required();
  std::string reasons;
  for (const std::string& r : exchange::SuspensionReasonCodes())
    reasons += (reasons.empty() ? "" : ", ") + r;
  suspend->add_option("--reason", *reason, "Why: " + reasons)->required();
  suspend->add_option("--note", *note, "Details for the record");
  suspend->callback([&ctx, agency, reason, note] {
    Run(ctx, [&]() -> Status {
      const auto codes = exchange::SuspensionReasonCodes();
      if (std::find(codes.begin(), codes.end(), *reason) == codes.end())
        return Status::InvalidArgument("--reason must be one of the regulation's reasons");
      TESSERA_ASSIGN_OR_RETURN(
          auto store, exchange::CenterStore::Open(server::ExchangeDir(ctx.home) / "center"));
      exchange::Suspension s{*reason, *note, guard::CurrentActor(), NowUnixSeconds()};
      TESSERA_RETURN_IF_ERROR(
          Audit(ctx, "exchange.suspend", *agency, *reason + (note->empty() ? "" : ": " + *note)));
      TESSERA_RETURN_IF_ERROR(store->Suspend(*agency, s));
      if (ctx.json)
        PrintJson({{"agency", *agency}, {"suspended", true}, {"reason", *reason}});
      else
        std::printf(
            "%s suspended at this center (%s); its documents are held until `tessera exchange "
            "resume`\n",
            agency->c_str(), reason->c_str());
      return Status::Ok();
    });
  });
  auto* resume =
      exchange.add_subcommand("resume", "Restore service to an agency suspended at this center");
  auto resume_agency = std::make_shared<std::string>();
  auto resume_note = std::make_shared<std::string>();
  resume->add_option("agency", *resume_agency, "The agency's code")->required();
  resume->add_option("--note", *resume_note, "Why service is restored (for the record)")
      ->required();
  resume->callback([&ctx, resume_agency, resume_note] {
    Run(ctx, [&]() -> Status {
      TESSERA_ASSIGN_OR_RETURN(
          auto store, exchange::CenterStore::Open(server::ExchangeDir(ctx.home) / "center"));
      TESSERA_RETURN_IF_ERROR(Audit(ctx, "exchange.resume", *resume_agency, *resume_note));
      TESSERA_RETURN_IF_ERROR(store->Resume(*resume_agency));
      if (ctx.json)
        PrintJson({{"agency", *resume_agency}, {"suspended", false}});
      else
        std::printf("%s resumed at this center\n", resume_agency->c_str());
      return Status::Ok();
    });
  });
}

json SentJson(const exchange::SentEntry& e) {
  json recipients = json::array();
  for (const auto& r : e.recipients)
    recipients.push_back({{"recipient", r.recipient},
                          {"state", r.state},
                          {"reason_code", r.reason_code},
                          {"reason", r.reason},
                          {"at", r.at}});
  return {{"id", e.id},
          {"created_at", e.created_at},
          {"subject", e.subject},
          {"number", e.number},
          {"recipients", recipients}};
}

void PrintSent(const exchange::SentEntry& e) {
  std::printf("%s  %s  %s\n", e.id.c_str(), e.number.c_str(), e.subject.c_str());
  for (const auto& r : e.recipients)
    std::printf("  %-12s %-9s %s%s\n", r.recipient.c_str(), r.state.c_str(),
                FormatTime(r.at).c_str(),
                r.reason_code.empty() ? "" : ("  " + r.reason_code + ": " + r.reason).c_str());
}

void AddGatewayCommands(CLI::App& exchange, Context& ctx) {
  auto* send = exchange.add_subcommand(
      "send", "Send a 公文: validate, scan, sign, encrypt and hand it to the center");
  auto s = AddGatewayOptions(send);
  auto di = std::make_shared<std::string>();
  auto sw = std::make_shared<std::string>();
  auto attach = std::make_shared<std::vector<std::string>>();
  send->add_option("document", *di, "The DI file")->required();
  send->add_option("--sw", *sw, "The SW file (交換表單) for 一文多發");
  send->add_option("--attach", *attach, "An attachment the DI declares (repeat for each)");
  send->callback([&ctx, s, di, sw, attach] {
    Run(ctx, [&]() -> Status {
      TESSERA_RETURN_IF_ERROR(server::ReadExchangeSettings(ctx.settings, *s));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, server::OpenGateway(ctx.home, *s));
      exchange::SendRequest req{*di, *sw, {}};
      for (const std::string& a : *attach) req.attachments.emplace_back(a);
      TESSERA_ASSIGN_OR_RETURN(exchange::SendResult sent, gateway->Send(req));
      if (ctx.json) {
        PrintJson({{"id", sent.id}, {"recipients", sent.recipients}, {"accepted", true}});
      } else {
        std::printf("sent %s to %zu recipient(s): accepted by the center (signed receipt kept)\n",
                    sent.id.c_str(), sent.recipients.size());
        std::printf("follow it with: tessera exchange status %s\n", sent.id.c_str());
      }
      return Status::Ok();
    });
  });

  auto* receive = exchange.add_subcommand(
      "receive", "Fetch what the center holds for this agency, check it, and answer with receipts");
  auto rs = AddGatewayOptions(receive);
  auto wait = std::make_shared<int>(0);
  auto max = std::make_shared<int>(1000);
  receive->add_option("--wait", *wait,
                      "Seconds to wait for the first item (long poll, at most 60)");
  receive->add_option("--max", *max, "At most this many items");
  receive->callback([&ctx, rs, wait, max] {
    Run(ctx, [&]() -> Status {
      TESSERA_RETURN_IF_ERROR(server::ReadExchangeSettings(ctx.settings, *rs));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, server::OpenGateway(ctx.home, *rs));
      TESSERA_ASSIGN_OR_RETURN(exchange::ReceiveReport r, gateway->Receive(*wait, *max));
      if (ctx.json) {
        PrintJson({{"documents", r.documents},
                   {"rejected", r.rejected},
                   {"receipts", r.receipts},
                   {"duplicates", r.duplicates},
                   {"problems", r.problems}});
      } else {
        std::printf(
            "%d document(s) received, %d rejected, %d receipt(s), %d redelivered item(s) "
            "recognised\n",
            r.documents, r.rejected, r.receipts, r.duplicates);
        for (const std::string& p : r.problems) std::printf("problem: %s\n", p.c_str());
      }
      return Status::Ok();
    });
  });

  auto* inbox =
      exchange.add_subcommand("inbox", "Documents received (and rejected) by this agency");
  auto is = AddGatewayOptions(inbox);
  inbox->callback([&ctx, is] {
    Run(ctx, [&]() -> Status {
      TESSERA_RETURN_IF_ERROR(server::ReadExchangeSettings(ctx.settings, *is));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, server::OpenGateway(ctx.home, *is));
      TESSERA_ASSIGN_OR_RETURN(auto entries, gateway->Inbox());
      json out = json::array();
      for (const auto& e : entries) {
        if (ctx.json) {
          out.push_back({{"sender", e.sender},
                         {"id", e.id},
                         {"received_at", e.received_at},
                         {"state", e.state},
                         {"reason", e.reason},
                         {"subject", e.subject},
                         {"number", e.number},
                         {"files", e.files.string()},
                         {"document", e.document}});
        } else {
          std::printf("%s  from %s  %s  %s  %s\n", e.id.c_str(), e.sender.c_str(), e.state.c_str(),
                      e.number.c_str(), e.subject.c_str());
          if (!e.files.empty()) std::printf("  %s\n", (e.files / e.document).c_str());
          if (!e.reason.empty()) std::printf("  %s\n", e.reason.c_str());
        }
      }
      if (ctx.json)
        PrintJson(out);
      else if (entries.empty())
        std::printf("the inbox is empty\n");
      return Status::Ok();
    });
  });

  auto* status = exchange.add_subcommand(
      "status", "Where a sent document is, per recipient (receipts, and the center's view)");
  auto ss = AddGatewayOptions(status);
  auto id = std::make_shared<std::string>();
  status->add_option("id", *id, "The document's id, as `send` printed it")->required();
  status->callback([&ctx, ss, id] {
    Run(ctx, [&]() -> Status {
      TESSERA_RETURN_IF_ERROR(server::ReadExchangeSettings(ctx.settings, *ss));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, server::OpenGateway(ctx.home, *ss));
      TESSERA_ASSIGN_OR_RETURN(auto sent, gateway->Sent(*id));
      if (ctx.json)
        PrintJson(SentJson(sent.front()));
      else
        PrintSent(sent.front());
      return Status::Ok();
    });
  });

  auto* receipts =
      exchange.add_subcommand("receipts", "Every document sent, with each recipient's receipt");
  auto rcs = AddGatewayOptions(receipts);
  receipts->callback([&ctx, rcs] {
    Run(ctx, [&]() -> Status {
      TESSERA_RETURN_IF_ERROR(server::ReadExchangeSettings(ctx.settings, *rcs));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, server::OpenGateway(ctx.home, *rcs));
      TESSERA_ASSIGN_OR_RETURN(auto sent, gateway->Sent());
      json out = json::array();
      for (const auto& e : sent) {
        if (ctx.json)
          out.push_back(SentJson(e));
        else
          PrintSent(e);
      }
      if (ctx.json)
        PrintJson(out);
      else if (sent.empty())
        std::printf("nothing has been sent from here\n");
      return Status::Ok();
    });
  });

  auto* flush = exchange.add_subcommand(
      "flush", "Hand the center every document and receipt it has not yet accepted");
  auto fs_ = AddGatewayOptions(flush);
  flush->callback([&ctx, fs_] {
    Run(ctx, [&]() -> Status {
      TESSERA_RETURN_IF_ERROR(server::ReadExchangeSettings(ctx.settings, *fs_));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, server::OpenGateway(ctx.home, *fs_));
      TESSERA_RETURN_IF_ERROR(gateway->Flush());
      if (!ctx.json)
        std::printf("nothing is waiting to be sent\n");
      else
        PrintJson({{"flushed", true}});
      return Status::Ok();
    });
  });

  auto* clock = exchange.add_subcommand(
      "clock",
      "This host's clock against the center's (documents are signed only within the policy)");
  auto cs = AddGatewayOptions(clock);
  clock->callback([&ctx, cs] {
    Run(ctx, [&]() -> Status {
      TESSERA_RETURN_IF_ERROR(server::ReadExchangeSettings(ctx.settings, *cs));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, server::OpenGateway(ctx.home, *cs));
      TESSERA_ASSIGN_OR_RETURN(exchange::ClockReading c, gateway->CheckClock());
      if (ctx.json)
        PrintJson({{"skew_seconds", c.skew_seconds}, {"round_trip_seconds", c.round_trip_seconds}});
      else
        std::printf("clock skew %+.3f s against the center (round trip %.3f s)\n", c.skew_seconds,
                    c.round_trip_seconds);
      return Status::Ok();
    });
  });

  auto* health = exchange.add_subcommand(
      "health",
      "Check this gateway host: its registry, its certificate, its clock against the center, "
      "and the center's own health (exit 4 when a check failed)");
  auto hs = AddGatewayOptions(health);
  health->callback([&ctx, hs] {
    Run(ctx, [&]() -> Status {
      TESSERA_RETURN_IF_ERROR(server::ReadExchangeSettings(ctx.settings, *hs));
      TESSERA_ASSIGN_OR_RETURN(exchange::GatewayConfig config,
                               server::BaseGatewayConfig(ctx.home, *hs));
      const std::vector<exchange::HealthCheck> checks =
          server::GatewayHealth(ctx.home, *hs, std::move(config));
      const std::vector<std::string> failed = exchange::FailedChecks(checks);
      if (ctx.json) {
        json list = json::array();
        for (const exchange::HealthCheck& c : checks)
          list.push_back(exchange::HealthCheckToJson(c));
        PrintJson({{"ok", failed.empty()}, {"failed", failed}, {"checks", list}});
      } else {
        for (const exchange::HealthCheck& c : checks) {
          const char* label = c.state == exchange::HealthState::kOk        ? "ok"
                              : c.state == exchange::HealthState::kWarning ? "WARNING"
                                                                           : "FAILED";
          std::printf("%-7s  %-11s  %s\n", label, c.name.c_str(), c.detail.c_str());
        }
        std::string names;
        for (const std::string& n : failed) names += (names.empty() ? "" : ", ") + n;
        if (!failed.empty())
          std::fprintf(stderr, "error: health check(s) failed: %s\n", names.c_str());
      }
      // As for `verify`: a report was made, and it found problems.
      if (!failed.empty()) ctx.exit_code = kExitProblems;
      return Status::Ok();
    });
  });
}

}  // namespace

void AddExchangeCommands(CLI::App& app, Context& ctx) {
  CLI::App* exchange = app.add_subcommand(
      "exchange", "Official-document (公文) exchange: documents, registry, sending, receiving");
  exchange->require_subcommand(1);
  AddExchangeDocumentCommands(*exchange, ctx);
  AddExchangeRegistryCommands(*exchange, ctx);
  AddCenterCommands(*exchange, ctx);
  AddGatewayCommands(*exchange, ctx);
}

}  // namespace tessera::cli
