// The options of a syslog shipper as an operator gives them (`tessera guard syslog ship`
// flags, or [guard.syslog] of tessera.toml for `tessera serve`), turned into an open
// SyslogShipper in one place so that every entry point checks them the same way.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "base/status.hpp"
#include "guard/syslog_shipper.hpp"

namespace tessera::guard {

struct SyslogShipOptions {
  std::string collector;    // HOST:PORT (TLS), see ParseCollector
  std::string ca;           // PEM: the CA(s) the collector's certificate must chain to
  std::string cert, key;    // client certificate and key for mutual TLS (optional)
  std::string server_name;  // what the collector's certificate must carry; "" its HOST
  std::string hostname;     // HOSTNAME of the messages; "" this host's name
  std::string facility = "local4";
  std::string sd_id = "tessera@32473";
  double period = 10;   // seconds between rounds of the background loop
  double timeout = 10;  // seconds for each network step
  size_t batch = 500;   // records per write
};

// Checks the options (the collector's address, the facility) and opens the shipper of the
// audit log in `audit_dir`. InvalidArgument names the option that is wrong. The files
// (CA, certificate, key) are read when a connection is made; CheckSyslogFiles reads them
// now.
Result<std::unique_ptr<SyslogShipper>> OpenSyslogShipper(const std::filesystem::path& audit_dir,
                                                         const SyslogShipOptions& options);
// Whether the CA, client certificate and key files can be read and parsed, so that a
// daemon fails at start rather than at its first round; the error names `where` and the
// field (e.g. "[guard.syslog] ca").
Status CheckSyslogFiles(const SyslogShipOptions& options, const std::string& where);

}  // namespace tessera::guard
