// `tessera exchange ...`: 公文 exchange between agencies (docs/exchange-protocol.md).
// This file holds the roles' commands: an exchange center (`center run`, `suspend`,
// `resume`), and an agency gateway (`send`, `receive`, `inbox`, `status`, `receipts`,
// `flush`, `clock`, `health`). Documents (`validate`, `show`) and the registry have files
// of their own.
#include <toml++/toml.h>

#include <cstdio>
#include <memory>
#include <sstream>

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
#include "server/serve.hpp"

namespace tessera::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The [exchange] table of the settings file, under the options given on the command line.
struct ExchangeSettings {
  std::string agency;       // a gateway's agency code
  std::string center_id;    // a center's id
  std::string certificate;  // this host's PEM certificate
  std::string key;          // and its key
  std::string listen = "127.0.0.1:7443";
  std::string management_url;  // where the signed registry is fetched from
  std::string malware_db;      // ClamAV signature directory
  std::string source_address;  // connect from this local address
  bool allow_tls12 = false;
};

Status ReadExchangeSettings(const Context& ctx, ExchangeSettings& s) {
  if (ctx.settings.empty()) return Status::Ok();
  try {
    toml::table t = toml::parse_file(ctx.settings);
    auto e = t["exchange"];
    if (s.agency.empty()) s.agency = e["agency"].value_or(std::string());
    if (s.center_id.empty()) s.center_id = e["center_id"].value_or(std::string());
    if (s.certificate.empty()) s.certificate = e["certificate"].value_or(std::string());
    if (s.key.empty()) s.key = e["key"].value_or(std::string());
    if (s.management_url.empty()) s.management_url = e["management_url"].value_or(std::string());
    if (s.malware_db.empty()) s.malware_db = e["malware_db"].value_or(std::string());
    if (s.source_address.empty()) s.source_address = e["source_address"].value_or(std::string());
    s.listen = e["listen"].value_or(s.listen);
    s.allow_tls12 = s.allow_tls12 || e["allow_tls12"].value_or(false);
  } catch (const toml::parse_error& err) {
    std::ostringstream where;
    where << err.source().begin;
    return Status::InvalidArgument("settings file " + ctx.settings + " is not valid TOML at " +
                                   where.str() + ": " + std::string(err.description()));
  }
  return Status::Ok();
}

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

Status Require(const std::string& value, const char* what, const char* option) {
  if (value.empty())
    return Status::InvalidArgument(std::string("give ") + what + " with " + option +
                                   " or in [exchange] of tessera.toml");
  return Status::Ok();
}

// This host's registry, fetched anew from the management center when it is due for a
// poll (or expired) and a management URL is known. A failed fetch keeps the copy held
// while it is valid; an expired copy is refused (fail closed).
Result<exchange::Registry> HostRegistry(const Context& ctx, const ExchangeSettings& s) {
  TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, exchange::HostManagementKey(ctx.home));
  const int64_t now = NowUnixSeconds();
  auto held = exchange::ReadHostRegistry(ctx.home, key);
  const bool due = !held.ok() || now - held->issued_at >= held->policy.registry_poll_seconds ||
                   now >= held->expires_at;
  if (due && !s.management_url.empty() && held.ok() && !s.certificate.empty() && !s.key.empty()) {
    exchange::ClientTls tls;
    tls.certificate = s.certificate;
    tls.key = s.key;
    for (const std::string& pem : held->trust_anchors) tls.anchors_pem += pem;
    tls.allow_tls12 = s.allow_tls12;
    tls.source_address = s.source_address;
    auto client = exchange::CenterClient::Create(s.management_url, std::move(tls));
    if (client.ok()) {
      auto wire = (*client)->GetText("/v1/registry");
      if (wire.ok()) {
        auto installed = exchange::InstallRegistry(ctx.home, *wire, key, now);
        if (!installed.ok())
          spdlog::warn("exchange: the fetched registry was not installed: {}",
                       installed.status().ToString());
      } else {
        spdlog::warn("exchange: cannot fetch the registry: {}", wire.status().ToString());
      }
    }
  }
  return exchange::LoadHostRegistry(ctx.home, key, now);
}

fs::path ExchangeDir(const Context& ctx) {
  return fs::path(ctx.home) / "exchange";
}

// A gateway's configuration without its malware scanner, which only sending and
// receiving need.
Result<exchange::GatewayConfig> BaseGatewayConfig(const Context& ctx, const ExchangeSettings& s) {
  TESSERA_RETURN_IF_ERROR(Require(s.agency, "this agency's code", "--agency"));
  TESSERA_RETURN_IF_ERROR(Require(s.certificate, "the agency's certificate", "--cert"));
  TESSERA_RETURN_IF_ERROR(Require(s.key, "the agency's key", "--key"));
  exchange::GatewayConfig config;
  config.agency = s.agency;
  config.dir = ExchangeDir(ctx) / "gateway";
  config.certificate = s.certificate;
  config.key = s.key;
  config.allow_tls12 = s.allow_tls12;
  config.source_address = s.source_address;
  config.load_registry = [&ctx, s] { return HostRegistry(ctx, s); };
  config.on_document = [&ctx](const exchange::DocumentEvent& e) {
    return JournalExchangeDocument(ctx, e);
  };
  config.audit = [&ctx](const std::string& action, const std::string& target,
                        const std::string& outcome) {
    Status st = Audit(ctx, action, target, outcome);
    if (!st.ok()) spdlog::error("exchange: {}", st.ToString());
  };
  return config;
}

Result<std::unique_ptr<exchange::Gateway>> OpenGateway(
    const Context& ctx, const ExchangeSettings& s,
    std::shared_ptr<guard::MalwareScanner>* keep_scanner) {
  TESSERA_ASSIGN_OR_RETURN(exchange::GatewayConfig config, BaseGatewayConfig(ctx, s));
  TESSERA_RETURN_IF_ERROR(Require(s.malware_db, "a ClamAV signature directory", "--malware-db"));
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<guard::MalwareScanner> loaded,
                           guard::MalwareScanner::Load(s.malware_db));
  std::shared_ptr<guard::MalwareScanner> scanner(std::move(loaded));
  if (keep_scanner) *keep_scanner = scanner;
  config.scan = [scanner](const fs::path& file) -> Result<std::string> {
    TESSERA_ASSIGN_OR_RETURN(guard::ScanVerdict v, scanner->ScanFile(file));
    return v.infected ? v.signature : std::string();
  };
  return exchange::Gateway::Open(std::move(config));
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
      TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(ctx, *s));
      TESSERA_RETURN_IF_ERROR(Require(s->center_id, "this center's id", "--id"));
      TESSERA_RETURN_IF_ERROR(Require(s->certificate, "the center's certificate", "--cert"));
      TESSERA_RETURN_IF_ERROR(Require(s->key, "the center's key", "--key"));
      TESSERA_ASSIGN_OR_RETURN(auto listen, server::ParseListenAddress(s->listen));
      exchange::CenterServerConfig config;
      config.center_id = s->center_id;
      config.address = listen.first;
      config.port = listen.second;
      config.dir = ExchangeDir(ctx) / "center";
      config.audit_dir = ctx.home;
      config.certificate = s->certificate;
      config.key = s->key;
      config.allow_tls12 = s->allow_tls12;
      config.load_registry = [&ctx, settings = *s] { return HostRegistry(ctx, settings); };
      if (*publish) config.published_registry = ExchangeDir(ctx) / "management" / "current.json";
      TESSERA_ASSIGN_OR_RETURN(auto server, exchange::CenterServer::Start(std::move(config)));
      std::printf("exchange center %s listening on %s:%u (mutual TLS), spool %s\n",
                  s->center_id.c_str(), listen.first.c_str(), server->port(),
                  (ExchangeDir(ctx) / "center").c_str());
      std::fflush(stdout);
      return server->Run(true);
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
      TESSERA_ASSIGN_OR_RETURN(auto store,
                               exchange::CenterStore::Open(ExchangeDir(ctx) / "center"));
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
      TESSERA_ASSIGN_OR_RETURN(auto store,
                               exchange::CenterStore::Open(ExchangeDir(ctx) / "center"));
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

// Every check of `exchange health` for this gateway (exchange/health.hpp); one that
// cannot be made is failed, saying why.
std::vector<exchange::HealthCheck> GatewayHealth(const Context& ctx, const ExchangeSettings& s,
                                                 exchange::GatewayConfig config) {
  using exchange::FailedCheck;
  const int64_t now = NowUnixSeconds();
  std::vector<exchange::HealthCheck> checks;
  // Fetched anew when due, as any gateway command would; then the copy held, expired or
  // not, is the evidence.
  Result<exchange::Registry> current = HostRegistry(ctx, s);
  auto key = exchange::HostManagementKey(ctx.home);
  Result<exchange::Registry> held = key.ok() ? exchange::ReadHostRegistry(ctx.home, *key)
                                             : Result<exchange::Registry>(key.status());
  if (held.ok())
    checks.push_back(
        exchange::RegistryHealth(held->serial, held->issued_at, held->expires_at, now));
  else
    checks.push_back(FailedCheck("registry", held.status().message()));
  const exchange::Policy policy = held.ok() ? held->policy : exchange::Policy{};

  auto cert = crypto::Certificate::Load(s.certificate);
  if (cert.ok())
    checks.push_back(
        exchange::CertificateHealth(cert->NotAfter(), policy.certificate_warning_days, now));
  else
    checks.push_back(FailedCheck("certificate", cert.status().message()));

  auto unchecked = [&checks](const std::string& why) {
    checks.push_back(FailedCheck("clock", "not checked: " + why));
    checks.push_back(FailedCheck("center", "not checked: " + why));
  };
  if (!current.ok()) {
    unchecked(current.status().message());
    return checks;
  }
  // One registry for the whole report.
  config.load_registry = [reg = *current]() -> Result<exchange::Registry> { return reg; };
  auto gateway = exchange::Gateway::Open(std::move(config));
  if (!gateway.ok()) {
    unchecked(gateway.status().message());
    return checks;
  }
  auto clock = (*gateway)->CheckClock();
  if (clock.ok())
    checks.push_back(exchange::ClockHealth(clock->skew_seconds, clock->round_trip_seconds,
                                           current->policy.max_clock_skew_seconds));
  else
    checks.push_back(
        FailedCheck("clock", "cannot read the center's clock: " + clock.status().message()));
  auto health = (*gateway)->CenterHealth();
  if (health.ok())
    checks.push_back(exchange::CenterHealth(*health, current->policy, NowUnixSeconds()));
  else
    checks.push_back(FailedCheck("center", "no answer: " + health.status().message()));
  return checks;
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
      TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(ctx, *s));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, OpenGateway(ctx, *s, nullptr));
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
      TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(ctx, *rs));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, OpenGateway(ctx, *rs, nullptr));
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
      TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(ctx, *is));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, OpenGateway(ctx, *is, nullptr));
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
      TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(ctx, *ss));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, OpenGateway(ctx, *ss, nullptr));
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
      TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(ctx, *rcs));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, OpenGateway(ctx, *rcs, nullptr));
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
      TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(ctx, *fs_));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, OpenGateway(ctx, *fs_, nullptr));
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
      TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(ctx, *cs));
      TESSERA_ASSIGN_OR_RETURN(auto gateway, OpenGateway(ctx, *cs, nullptr));
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
      TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(ctx, *hs));
      TESSERA_ASSIGN_OR_RETURN(exchange::GatewayConfig config, BaseGatewayConfig(ctx, *hs));
      const std::vector<exchange::HealthCheck> checks = GatewayHealth(ctx, *hs, std::move(config));
      const std::vector<std::string> failed = exchange::FailedChecks(checks);
      if (ctx.json) {
        json list = json::array();
        for (const exchange::HealthCheck& c : checks) {
          json j = c.values;
          j["name"] = c.name;
          j["state"] = std::string(exchange::HealthStateName(c.state));
          j["detail"] = c.detail;
          list.push_back(std::move(j));
        }
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
