#include "server/ldap_auth.hpp"

#include <ldap.h>

#include <memory>

namespace tessera::server {

namespace {

// RFC 4514 2.4: the characters of an attribute value that must be escaped in a DN.
std::string EscapeDnValue(const std::string& value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const bool special = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                         c == ';' || c == '=' || c == '\0' || (i == 0 && (c == ' ' || c == '#')) ||
                         (i + 1 == value.size() && c == ' ');
    if (special) out += '\\';
    out += c;
  }
  return out;
}

struct LdapCloser {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};

Status LdapError(const LdapOptions& o, const char* what, int rc) {
  return Status::Unavailable("LDAP " + o.url + ": " + what + ": " + ldap_err2string(rc));
}

}  // namespace

Status CheckLdapOptions(const LdapOptions& o) {
  if (o.url.rfind("ldap://", 0) != 0 && o.url.rfind("ldaps://", 0) != 0)
    return Status::InvalidArgument("url must start with ldap:// or ldaps://");
  if (o.user_dn.find("{name}") == std::string::npos)
    return Status::InvalidArgument(
        "user_dn must contain {name}, e.g. \"uid={name},ou=people,dc=agency,dc=gov,dc=tw\"");
  if (o.timeout.count() < 1) return Status::InvalidArgument("timeout must be at least 1 s");
  return Status::Ok();
}

Result<bool> LdapCheckPassword(const LdapOptions& o, const std::string& name,
                               const std::string& password) {
  TESSERA_RETURN_IF_ERROR(CheckLdapOptions(o));
  if (password.empty()) return false;
  LDAP* raw = nullptr;
  int rc = ldap_initialize(&raw, o.url.c_str());
  if (rc != LDAP_SUCCESS) return LdapError(o, "cannot use the address", rc);
  std::unique_ptr<LDAP, LdapCloser> ld(raw);
  const int version = LDAP_VERSION3;
  ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  timeval timeout{static_cast<time_t>(o.timeout.count()), 0};
  ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &timeout);
  ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &timeout);
  if (!o.ca.empty()) {
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, o.ca.c_str());
    const int demand = LDAP_OPT_X_TLS_DEMAND;
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    const int new_ctx = 0;  // the options above apply to this connection's own context
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &new_ctx);
  }
  if (o.start_tls) {
    rc = ldap_start_tls_s(ld.get(), nullptr, nullptr);
    if (rc != LDAP_SUCCESS) return LdapError(o, "StartTLS failed", rc);
  }
  std::string dn = o.user_dn;
  const std::string escaped = EscapeDnValue(name);
  for (size_t at = dn.find("{name}"); at != std::string::npos;
       at = dn.find("{name}", at + escaped.size()))
    dn.replace(at, 6, escaped);
  berval credentials{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
  rc = ldap_sasl_bind_s(ld.get(), dn.c_str(), LDAP_SASL_SIMPLE, &credentials, nullptr, nullptr,
                        nullptr);
  if (rc == LDAP_SUCCESS) return true;
  // No such entry is answered as wrong credentials by most servers; some say so plainly.
  if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_NO_SUCH_OBJECT ||
      rc == LDAP_INAPPROPRIATE_AUTH || rc == LDAP_UNWILLING_TO_PERFORM)
    return false;
  return LdapError(o, "bind failed", rc);
}

}  // namespace tessera::server
