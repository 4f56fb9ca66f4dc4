#include "guard/syslog_options.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>

namespace tessera::guard {
namespace {

// Whether `path` holds at least one PEM certificate (or, with `key`, a private key).
Status CheckPem(const std::string& path, bool key, const std::string& what) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return Status::NotFound(what + ": cannot read " + path);
  bool good = false;
  if (key) {
    EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    good = k != nullptr;
    EVP_PKEY_free(k);
  } else {
    X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
    good = c != nullptr;
    X509_free(c);
  }
  std::fclose(f);
  if (!good)
    return Status::InvalidArgument(what + ": " + path + " holds no PEM " +
                                   (key ? "private key" : "certificate"));
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SyslogShipper>> OpenSyslogShipper(const std::filesystem::path& audit_dir,
                                                         const SyslogShipOptions& o) {
  SyslogTlsOptions tls;
  TESSERA_RETURN_IF_ERROR(ParseCollector(o.collector, tls));
  tls.ca_file = o.ca;
  tls.cert_file = o.cert;
  tls.key_file = o.key;
  tls.server_name = o.server_name;
  tls.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000));
  SyslogFormat format;
  TESSERA_ASSIGN_OR_RETURN(format.facility, ParseFacility(o.facility));
  format.sd_id = o.sd_id;
  format.hostname = o.hostname;
  return SyslogShipper::Open(audit_dir, std::move(tls), std::move(format));
}

Status CheckSyslogFiles(const SyslogShipOptions& o, const std::string& where) {
  if (o.ca.empty()) return Status::InvalidArgument(where + " ca is not set: the collector's CA");
  TESSERA_RETURN_IF_ERROR(CheckPem(o.ca, false, where + " ca"));
  if (o.cert.empty() != o.key.empty())
    return Status::InvalidArgument(where + ": give both cert and key, or neither");
  if (!o.cert.empty()) {
    TESSERA_RETURN_IF_ERROR(CheckPem(o.cert, false, where + " cert"));
    TESSERA_RETURN_IF_ERROR(CheckPem(o.key, true, where + " key"));
  }
  return Status::Ok();
}

}  // namespace tessera::guard
