// An exchange center (交換層) on the network: the HTTP interface of docs/exchange-protocol.md
// over mutual TLS (Boost.Beast, Asio's OpenSSL streams), in front of a CenterStore.
//
// Every connection is checked right after the TLS handshake, before any request is read:
// the client certificate must chain to a trust anchor of the registry, be registered and
// not revoked nor expired, come from a source address registered for its owner, and an
// agency must not be suspended (by the management center or by this center). A refused
// connection is closed and recorded in the audit log.
//
// Items are accepted only when the routing header is signed by the sender it names, and
// answered only after the payload is fsynced and the item committed. Items for agencies
// homed at another center are forwarded to it; items nobody collects in time expire with a
// receipt to the sender. The management center runs the same server and also publishes
// the signed registry at /v1/registry.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/status.hpp"
#include "exchange/registry.hpp"

namespace tessera::exchange {

struct CenterServerConfig {
  std::string center_id;              // this center's id in the registry
  std::string address = "127.0.0.1";  // to listen on
  uint16_t port = 7443;               // 0: any free port
  std::filesystem::path dir;          // the spool and its database
  std::filesystem::path audit_dir;    // the audit log (guard/audit_log.hpp)
  std::filesystem::path certificate;  // PEM: TLS and receipt signing
  std::filesystem::path key;          // PEM private key
  // Reads the current registry (it fails closed: an expired one is an error).
  std::function<Result<Registry>()> load_registry;
  std::chrono::milliseconds registry_reload{5000};
  // The management role: this file (the signed registry) is served at /v1/registry.
  std::filesystem::path published_registry;
  bool allow_tls12 = false;
  int64_t lease_seconds = 60;  // an item pulled but not acknowledged comes back after this
  std::chrono::milliseconds forward_period{500};
  std::chrono::milliseconds expire_period{10000};
};

class CenterServer {
 public:
  // Loads the certificate, the registry and the store, and binds the port; fails before
  // serving anything when one of them is missing or wrong.
  static Result<std::unique_ptr<CenterServer>> Start(CenterServerConfig config);
  ~CenterServer();

  uint16_t port() const;
  // Serves until Stop(), or SIGINT/SIGTERM when `stop_on_signals`.
  Status Run(bool stop_on_signals);
  void Stop();  // safe from any thread

 private:
  struct Impl;
  explicit CenterServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::exchange
