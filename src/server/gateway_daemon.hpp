// An agency gateway as a daemon (a role of `tessera serve`): documents and receipts arrive
// without anyone running `tessera exchange receive`, and what waits to be sent goes out
// without `tessera exchange flush`.
//
// One loop on the caller's thread, until Stop():
//   - receive: a long poll of the center (Gateway::Receive with `receive_wait`), again
//     at once after each answer, so an item arrives within a round trip of reaching the
//     center; Stop() ends a poll in progress within about a second;
//   - flush: every `flush_period` (and at start), Gateway::Flush;
//   - health: every `health_period` (and at start), the checks of `tessera exchange
//     health` (registry, certificate expiry, clock skew, the center); a warning or
//     failure is logged, the loop goes on;
//   - after an error (logged with what failed and when it is tried again) the loop waits,
//     1 s doubling up to `max_backoff`, so a center that is down is never hammered.
// The gateway's database is shared with the CLI (`exchange send`, `inbox`, `status`):
// SQLite in WAL mode with a busy timeout, so both can work at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>

#include "base/status.hpp"
#include "exchange/gateway.hpp"
#include "server/exchange_roles.hpp"

namespace tessera::server {

struct GatewayDaemonOptions {
  std::chrono::seconds receive_wait{5};  // 1..60
  std::chrono::seconds flush_period{30};
  std::chrono::seconds health_period{600};
  std::chrono::seconds max_backoff{60};
};

class GatewayDaemon {
 public:
  // Checks the certificate and key (errors name "[exchange] certificate" or "key"), loads
  // the malware signatures and opens the gateway under `home`; nothing is sent or received
  // yet.
  static Result<std::unique_ptr<GatewayDaemon>> Open(const std::filesystem::path& home,
                                                     const ExchangeSettings& settings,
                                                     const GatewayDaemonOptions& options);
  ~GatewayDaemon();

  // Runs the loop above until Stop(); returns OK when stopped.
  Status Run();
  void Stop();  // safe from any thread; Run() returns within about a second

 private:
  GatewayDaemon(std::filesystem::path home, ExchangeSettings settings, GatewayDaemonOptions options,
                std::unique_ptr<exchange::Gateway> gateway);
  // Waits `d` or until Stop(); false when stopping.
  bool Pause(std::chrono::steady_clock::duration d);
  bool stopping();
  void CheckHealth();

  const std::filesystem::path home_;
  const ExchangeSettings settings_;
  const GatewayDaemonOptions options_;
  std::unique_ptr<exchange::Gateway> gateway_;  // used only by Run()'s thread

  std::mutex mu_;  // guards stop_
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<bool> stop_waiting_{false};  // set with stop_: ends the gateway's long poll
};

}  // namespace tessera::server
