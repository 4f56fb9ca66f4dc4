// The client side of the exchange protocol (docs/exchange-protocol.md, "HTTP"): how a
// gateway, or a center forwarding to a peer, talks to a center over mutual TLS (libcurl).
// The server must present a certificate that chains to the registry's anchors, matches
// the URL's address, and carries one of the public keys registered for that center, so a
// certificate from the right CA but another host is refused. One client keeps its
// connection open between requests; it is not thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/x509.hpp"

namespace tessera::exchange {

struct ClientTls {
  std::filesystem::path certificate;  // PEM: this host's certificate (chain)
  std::filesystem::path key;          // PEM private key
  std::string anchors_pem;            // trust anchors for the server certificate
  // The server's registered certificates; the key of the one presented must be among them.
  std::vector<crypto::Certificate> server_certificates;
  bool allow_tls12 = false;  // TLS 1.3 only unless a peer needs 1.2 (AEAD suites only)
  // The local address to connect from ("" for the system's choice): on a host with
  // several, the one registered for it.
  std::string source_address;
};

struct PulledItem {
  int64_t delivery = 0;
  Bytes header;  // sealed routing header
  std::filesystem::path payload;
};

class CenterClient {
 public:
  // `base_url` like "https://127.0.0.1:7443".
  static Result<std::unique_ptr<CenterClient>> Create(std::string base_url, ClientTls tls);
  ~CenterClient();

  // Sends an item; returns the center's signed "accepted" receipt. `recipients`, for a
  // center forwarding to a peer, names those the peer takes ("" header otherwise).
  // AlreadyExists when the center holds different content under the same id,
  // PermissionDenied when it refuses this host or the item, Unavailable when it cannot be
  // reached (try again: the same item is recognised).
  Result<Bytes> PostItem(ByteView sealed_header, const std::filesystem::path& payload,
                         const std::vector<std::string>& recipients = {});
  // Waits up to `wait_seconds` for the next item for this agency; its payload is written
  // to `payload_out`. nullopt when nothing came. With `acknowledge`, the center first
  // records that delivery (the item pulled before) as held safely, as Acknowledge does,
  // in the same request: once Pull succeeds, that acknowledgement has been committed,
  // whether or not a new item came.
  Result<std::optional<PulledItem>> Pull(int wait_seconds, const std::filesystem::path& payload_out,
                                         std::optional<int64_t> acknowledge = std::nullopt);
  Status Acknowledge(int64_t delivery);
  // A GET of a JSON resource ("/v1/status/<id>", "/v1/health", "/v1/time").
  Result<nlohmann::json> GetJson(const std::string& path);
  // A GET of a text resource ("/v1/registry").
  Result<std::string> GetText(const std::string& path);

  // Once `*stop` becomes true, a request in progress (a long poll) ends within about a
  // second, Unavailable; for a daemon that is stopping. The flag must outlive the client.
  void StopWhen(const std::atomic<bool>* stop);

  const std::string& base_url() const { return base_url_; }

 private:
  struct Impl;
  CenterClient(std::string base_url, std::unique_ptr<Impl> impl);
  std::string base_url_;
  std::unique_ptr<Impl> impl_;
};

// "sha256//<base64 of the SHA-256 of the SubjectPublicKeyInfo>", libcurl's pin format.
std::string PublicKeyPin(const crypto::Certificate& cert);

}  // namespace tessera::exchange
