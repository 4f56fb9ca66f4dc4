// The set-up of this host's exchange roles (docs/exchange-protocol.md), shared by the
// `tessera exchange ...` commands and `tessera serve`: the [exchange] settings, the
// host's registry (fetched from the management center when due), an agency gateway wired
// to the malware scanner, the archive and the audit log, and an exchange center's
// configuration. Nothing here serves or loops; the callers do.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "exchange/center_server.hpp"
#include "exchange/gateway.hpp"
#include "exchange/health.hpp"
#include "exchange/registry.hpp"
#include "guard/malware_scanner.hpp"

namespace tessera::server {

// The [exchange] table of the settings file, under what the command line gave.
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

// Fills the fields of `s` still empty (listen: always; allow_tls12: when false) from the
// [exchange] table of `settings_file`; nothing when the name is empty. InvalidArgument
// naming the file and place when it is not valid TOML.
Status ReadExchangeSettings(const std::string& settings_file, ExchangeSettings& s);

// InvalidArgument "give WHAT with OPTION or in [exchange] of tessera.toml" when `value`
// is empty.
Status RequireSetting(const std::string& value, const char* what, const char* option);

// <home>/exchange: the roles' state (gateway/, center/, management/).
std::filesystem::path ExchangeDir(const std::filesystem::path& home);

// This host's registry, fetched anew from the management center when it is due for a
// poll (or expired) and a management URL is known. A failed fetch keeps the copy held
// while it is valid (with a warning in the log); an expired copy is refused (fail closed).
Result<exchange::Registry> HostRegistry(const std::filesystem::path& home,
                                        const ExchangeSettings& s);

// A gateway's configuration (state in <home>/exchange/gateway, registry by HostRegistry,
// documents journaled into the archive, security events into the audit log) without its
// malware scanner, which only sending and receiving need. InvalidArgument when the
// agency, certificate or key is not given.
Result<exchange::GatewayConfig> BaseGatewayConfig(const std::filesystem::path& home,
                                                  const ExchangeSettings& s);

// The gateway of BaseGatewayConfig with ClamAV's signatures from s.malware_db loaded (an
// error when they cannot be). `keep_scanner`, if given, shares the scanner.
Result<std::unique_ptr<exchange::Gateway>> OpenGateway(
    const std::filesystem::path& home, const ExchangeSettings& s,
    std::shared_ptr<guard::MalwareScanner>* keep_scanner = nullptr);

// An exchange center's configuration: spool in <home>/exchange/center, audit log in
// `home`, listening on s.listen; with `publish_registry`, the management center's
// published registry (<home>/exchange/management/current.json) served too.
// InvalidArgument when the id, certificate or key is missing or the address is wrong.
Result<exchange::CenterServerConfig> CenterConfig(const std::filesystem::path& home,
                                                  const ExchangeSettings& s, bool publish_registry);

// Every check of `tessera exchange health` for the gateway of `config` (exchange/health.hpp):
// the registry (fetched anew when due), the certificate, the clock against the center and
// the center's own health. A check that cannot be made is failed, saying why. The checks
// are also kept, as the latest, for ReadRecordedHealth.
std::vector<exchange::HealthCheck> GatewayHealth(const std::filesystem::path& home,
                                                 const ExchangeSettings& s,
                                                 exchange::GatewayConfig config);

// The latest checks GatewayHealth made on this host (by `tessera exchange health` or the
// gateway of `tessera serve`), and when: the evidence `tessera guard report` reads without
// going to the network. NotFound when none were made.
struct RecordedHealth {
  int64_t checked_at = 0;  // Unix seconds
  std::vector<exchange::HealthCheck> checks;
};
Result<RecordedHealth> ReadRecordedHealth(const std::filesystem::path& home);

// Whether s.certificate and s.key can be read and parsed; the error names the setting
// ("[exchange] certificate" or "[exchange] key") and the file.
Status CheckIdentityFiles(const ExchangeSettings& s);

}  // namespace tessera::server
