// Sign-in against the agency's directory (LDAP, RFC 4511): a console account marked as the
// directory's (server/accounts.hpp) has its password checked by a simple bind as the user's
// own entry, over ldaps:// or StartTLS where configured. Roles stay tessera's: the
// directory only says whether the password is right.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "base/status.hpp"

namespace tessera::server {

struct LdapOptions {
  std::string url;  // "ldap://dc.agency.gov.tw" or "ldaps://dc.agency.gov.tw:636"
  // The entry to bind as, {name} standing for the sign-in name:
  // "uid={name},ou=people,dc=agency,dc=gov,dc=tw" (Active Directory: "{name}@agency.gov.tw").
  std::string user_dn;
  bool start_tls = false;    // upgrade an ldap:// connection with StartTLS
  std::filesystem::path ca;  // PEM CA certificates for ldaps:// or StartTLS; empty: system's
  std::chrono::seconds timeout{10};
};

// InvalidArgument naming the key when `o` cannot work (no url, a user_dn without {name}, a
// url other than ldap:// or ldaps://).
Status CheckLdapOptions(const LdapOptions& o);

// Whether `password` is `name`'s: a simple bind as user_dn with {name} replaced (escaped as
// RFC 4514 asks). True on success, false when the directory says the credentials are wrong
// (or `password` is empty: an empty password would be an anonymous bind); Unavailable
// naming the server when it cannot be reached, the TLS handshake fails or it answers
// otherwise.
Result<bool> LdapCheckPassword(const LdapOptions& o, const std::string& name,
                               const std::string& password);

}  // namespace tessera::server
