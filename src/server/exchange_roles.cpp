#include "server/exchange_roles.hpp"

#include <toml++/toml.h>

#include <sstream>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "crypto/x509.hpp"
#include "exchange/center_client.hpp"
#include "exchange/registry_store.hpp"
#include "server/audit.hpp"
#include "server/exchange_journal.hpp"
#include "server/serve.hpp"

namespace tessera::server {
namespace fs = std::filesystem;

Status ReadExchangeSettings(const std::string& settings_file, ExchangeSettings& s) {
  if (settings_file.empty()) return Status::Ok();
  try {
    toml::table t = toml::parse_file(settings_file);
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
    return Status::InvalidArgument("settings file " + settings_file + " is not valid TOML at " +
                                   where.str() + ": " + std::string(err.description()));
  }
  return Status::Ok();
}

Status RequireSetting(const std::string& value, const char* what, const char* option) {
  if (value.empty())
    return Status::InvalidArgument(std::string("give ") + what + " with " + option +
                                   " or in [exchange] of tessera.toml");
  return Status::Ok();
}

fs::path ExchangeDir(const fs::path& home) {
  return home / "exchange";
}

Result<exchange::Registry> HostRegistry(const fs::path& home, const ExchangeSettings& s) {
  TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, exchange::HostManagementKey(home));
  const int64_t now = NowUnixSeconds();
  auto held = exchange::ReadHostRegistry(home, key);
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
        auto installed = exchange::InstallRegistry(home, *wire, key, now);
        if (!installed.ok())
          spdlog::warn("exchange: the fetched registry was not installed: {}",
                       installed.status().ToString());
      } else {
        spdlog::warn("exchange: cannot fetch the registry: {}", wire.status().ToString());
      }
    }
  }
  return exchange::LoadHostRegistry(home, key, now);
}

Result<exchange::GatewayConfig> BaseGatewayConfig(const fs::path& home, const ExchangeSettings& s) {
  TESSERA_RETURN_IF_ERROR(RequireSetting(s.agency, "this agency's code", "--agency"));
  TESSERA_RETURN_IF_ERROR(RequireSetting(s.certificate, "the agency's certificate", "--cert"));
  TESSERA_RETURN_IF_ERROR(RequireSetting(s.key, "the agency's key", "--key"));
  exchange::GatewayConfig config;
  config.agency = s.agency;
  config.dir = ExchangeDir(home) / "gateway";
  config.certificate = s.certificate;
  config.key = s.key;
  config.allow_tls12 = s.allow_tls12;
  config.source_address = s.source_address;
  config.load_registry = [home, s] { return HostRegistry(home, s); };
  config.on_document = [home](const exchange::DocumentEvent& e) {
    return JournalExchangeDocument(home, e);
  };
  config.audit = [home](const std::string& action, const std::string& target,
                        const std::string& outcome) {
    Status st = RecordAudit(home, action, target, outcome);
    if (!st.ok()) spdlog::error("exchange: {}", st.ToString());
  };
  return config;
}

Result<std::unique_ptr<exchange::Gateway>> OpenGateway(
    const fs::path& home, const ExchangeSettings& s,
    std::shared_ptr<guard::MalwareScanner>* keep_scanner) {
  TESSERA_ASSIGN_OR_RETURN(exchange::GatewayConfig config, BaseGatewayConfig(home, s));
  TESSERA_RETURN_IF_ERROR(
      RequireSetting(s.malware_db, "a ClamAV signature directory", "--malware-db"));
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

Result<exchange::CenterServerConfig> CenterConfig(const fs::path& home, const ExchangeSettings& s,
                                                  bool publish_registry) {
  TESSERA_RETURN_IF_ERROR(RequireSetting(s.center_id, "this center's id", "--id"));
  TESSERA_RETURN_IF_ERROR(RequireSetting(s.certificate, "the center's certificate", "--cert"));
  TESSERA_RETURN_IF_ERROR(RequireSetting(s.key, "the center's key", "--key"));
  TESSERA_ASSIGN_OR_RETURN(auto listen, ParseListenAddress(s.listen));
  exchange::CenterServerConfig config;
  config.center_id = s.center_id;
  config.address = listen.first;
  config.port = listen.second;
  config.dir = ExchangeDir(home) / "center";
  config.audit_dir = home;
  config.certificate = s.certificate;
  config.key = s.key;
  config.allow_tls12 = s.allow_tls12;
  config.load_registry = [home, s] { return HostRegistry(home, s); };
  if (publish_registry)
    config.published_registry = ExchangeDir(home) / "management" / "current.json";
  return config;
}

namespace {

fs::path RecordedHealthPath(const fs::path& home) {
  return ExchangeDir(home) / "gateway" / "health.json";
}

std::vector<exchange::HealthCheck> CheckGatewayHealth(const fs::path& home,
                                                      const ExchangeSettings& s,
                                                      exchange::GatewayConfig config);

}  // namespace

std::vector<exchange::HealthCheck> GatewayHealth(const fs::path& home, const ExchangeSettings& s,
                                                 exchange::GatewayConfig config) {
  std::vector<exchange::HealthCheck> checks = CheckGatewayHealth(home, s, std::move(config));
  nlohmann::json list = nlohmann::json::array();
  for (const exchange::HealthCheck& c : checks) list.push_back(exchange::HealthCheckToJson(c));
  const nlohmann::json record = {{"checked_at", NowUnixSeconds()}, {"checks", list}};
  const fs::path path = RecordedHealthPath(home);
  Status kept = MakeDirs(path.parent_path(), 0700);
  if (kept.ok()) kept = WriteFileAtomic(path, record.dump(2) + "\n", 0644);
  if (!kept.ok())
    spdlog::warn("exchange health: the checks are not kept for `tessera guard report`: {}",
                 kept.ToString());
  return checks;
}

Result<RecordedHealth> ReadRecordedHealth(const fs::path& home) {
  const fs::path path = RecordedHealthPath(home);
  std::error_code ec;
  if (!fs::exists(path, ec))
    return Status::NotFound("no exchange health check was made on this host yet (" + path.string() +
                            ")");
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("checked_at") || !j["checked_at"].is_number_integer() ||
      !j.contains("checks") || !j["checks"].is_array())
    return Status::Corruption(path.string() + " is not a record of health checks");
  RecordedHealth r;
  r.checked_at = j["checked_at"].get<int64_t>();
  for (const nlohmann::json& c : j["checks"]) {
    auto check = exchange::HealthCheckFromJson(c);
    if (!check.ok()) return Status::Corruption(path.string() + ": " + check.status().message());
    r.checks.push_back(std::move(*check));
  }
  return r;
}

namespace {

std::vector<exchange::HealthCheck> CheckGatewayHealth(const fs::path& home,
                                                      const ExchangeSettings& s,
                                                      exchange::GatewayConfig config) {
  using exchange::FailedCheck;
  const int64_t now = NowUnixSeconds();
  std::vector<exchange::HealthCheck> checks;
  // Fetched anew when due, as any gateway command would; then the copy held, expired or
  // not, is the evidence.
  Result<exchange::Registry> current = HostRegistry(home, s);
  auto key = exchange::HostManagementKey(home);
  Result<exchange::Registry> held =
      key.ok() ? exchange::ReadHostRegistry(home, *key) : Result<exchange::Registry>(key.status());
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

}  // namespace

Status CheckIdentityFiles(const ExchangeSettings& s) {
  if (s.certificate.empty())
    return Status::InvalidArgument("[exchange] certificate is not set: this host's certificate");
  if (s.key.empty()) return Status::InvalidArgument("[exchange] key is not set: this host's key");
  auto cert = crypto::Certificate::Load(s.certificate);
  if (!cert.ok())
    return Status(cert.status().code(), "[exchange] certificate: " + cert.status().message());
  auto key = crypto::PrivateKey::Load(s.key, "a private key");
  if (!key.ok()) return Status(key.status().code(), "[exchange] key: " + key.status().message());
  return Status::Ok();
}

}  // namespace tessera::server
