// The archive's journaling listener: SMTP and LMTP over TCP (Boost.Asio, C++20
// coroutines). Every complete message goes to a sink that stores it; the sender gets its
// 250 only after the sink has returned OK, and a 451 (try again later) when it failed, so
// an MTA keeps whatever was not stored queued and nothing acknowledged can be lost.
//
// The sink runs on one storage thread of its own, one message at a time, so it may use
// a store that is not thread-safe; connections are served concurrently on the network
// thread meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "archive/smtp_session.hpp"
#include "base/status.hpp"

namespace tessera::archive {

struct MailListenerConfig {
  std::string address = "127.0.0.1";  // an IPv4 or IPv6 address to bind
  uint16_t port = 0;                  // 0: any free port (see MailServer::ports())
  MailProtocol protocol = MailProtocol::kLmtp;
  std::string hostname = "localhost";  // in the banner and replies
  SessionLimits limits;
  std::chrono::seconds idle_timeout{300};  // RFC 5321 asks servers to wait 5 minutes
};

// `peer` is "address:port" of the client; `message` the bytes received (CRLF lines).
using MessageSink = std::function<Status(const MailEnvelope& envelope, MailProtocol protocol,
                                         const std::string& peer, Bytes message)>;

class MailServer {
 public:
  // Binds every listener; fails (Unavailable, naming the address) if one cannot be bound,
  // and then binds none.
  static Result<std::unique_ptr<MailServer>> Bind(std::vector<MailListenerConfig> listeners,
                                                  MessageSink sink);
  ~MailServer();

  // The ports bound, in the order of the listeners given.
  std::vector<uint16_t> ports() const;

  // Runs `task` on the storage thread (never while the sink runs) at start and every
  // `period` after, while the server runs; for work that follows the store, like indexing.
  void RunPeriodically(std::chrono::milliseconds period, std::function<void()> task);

  // Serves until Stop(), or until SIGINT or SIGTERM when `stop_on_signals`. A message
  // being stored when the server stops is stored to the end, but not acknowledged: the
  // MTA sends it again, and the archive recognises it as the same delivery.
  Status Run(bool stop_on_signals);
  // Safe from any thread.
  void Stop();

 private:
  struct Impl;
  explicit MailServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::archive
