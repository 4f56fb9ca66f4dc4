// The web console's HTTPS listener (Boost.Beast over Asio's OpenSSL streams): the REST API
// of docs/api.md (server/console_api.hpp) under /api/, and the console's static files
// (web/) for every other path. TLS 1.2 (forward-secret AEAD suites only) and 1.3; a
// certificate of the settings, or one made on first start (self-signed ECDSA P-256, kept
// in <home>/console/tls/ and reused). Every answer carries a Content-Security-Policy that
// allows nothing from elsewhere, and HSTS.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "base/status.hpp"
#include "server/accounts.hpp"
#include "server/console_api.hpp"
#include "server/ldap_auth.hpp"

namespace tessera::server {

struct ConsoleConfig {
  std::string listen = "127.0.0.1:8443";   // "" turns the console off
  std::filesystem::path certificate, key;  // both empty: the self-signed one of the home
  std::filesystem::path web_root;          // empty: DefaultWebRoot()
  ConsoleApiOptions api;
  SignInPolicy sign_in;
  std::optional<LdapOptions> ldap;  // set: directory accounts' passwords are checked there
  int threads = 4;  // requests are answered on these (a sign-in's scrypt takes ~100 ms)
};

// The console's files: <program's directory>/../share/tessera/web when installed, else the
// source tree's web/ the program was built from.
std::filesystem::path DefaultWebRoot();

// The self-signed certificate and key of <home>/console/tls/, made when missing (the key
// 0600). Returns their paths.
Result<std::pair<std::filesystem::path, std::filesystem::path>> SelfSignedConsoleCertificate(
    const std::filesystem::path& home);

class ConsoleServer {
 public:
  // Opens the accounts, loads the certificate (making one when none is configured) and
  // binds the address; fails before serving anything, naming what is wrong.
  static Result<std::unique_ptr<ConsoleServer>> Start(const std::filesystem::path& home,
                                                      const ConsoleConfig& config);
  ~ConsoleServer();

  uint16_t port() const;
  const std::filesystem::path& certificate() const;
  const std::filesystem::path& web_root() const;
  // Whether any account exists (none: nobody can sign in until an admin is made).
  bool has_accounts() const;
  // Serves until Stop().
  Status Run();
  void Stop();  // safe from any thread

 private:
  struct Impl;
  explicit ConsoleServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::server
