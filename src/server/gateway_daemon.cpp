#include "server/gateway_daemon.hpp"

#include <algorithm>

#include "base/log.hpp"

namespace tessera::server {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<GatewayDaemon>> GatewayDaemon::Open(const fs::path& home,
                                                           const ExchangeSettings& settings,
                                                           const GatewayDaemonOptions& options) {
  if (options.receive_wait < std::chrono::seconds(1) ||
      options.receive_wait > std::chrono::seconds(60))
    return Status::InvalidArgument("[exchange] receive_wait must be 1 to 60 seconds");
  if (options.flush_period < std::chrono::seconds(1))
    return Status::InvalidArgument("[exchange] flush_period must be at least 1 second");
  if (options.health_period < std::chrono::seconds(1))
    return Status::InvalidArgument("[exchange] health_period must be at least 1 second");
  TESSERA_RETURN_IF_ERROR(CheckIdentityFiles(settings));
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<exchange::Gateway> gateway, OpenGateway(home, settings));
  return std::unique_ptr<GatewayDaemon>(
      new GatewayDaemon(home, settings, options, std::move(gateway)));
}

GatewayDaemon::GatewayDaemon(fs::path home, ExchangeSettings settings, GatewayDaemonOptions options,
                             std::unique_ptr<exchange::Gateway> gateway)
    : home_(std::move(home)),
      settings_(std::move(settings)),
      options_(options),
      gateway_(std::move(gateway)) {
  gateway_->StopWaitingWhen(&stop_waiting_);
}

GatewayDaemon::~GatewayDaemon() = default;

void GatewayDaemon::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_waiting_ = true;
  wake_.notify_all();
}

bool GatewayDaemon::stopping() {
  std::lock_guard lock(mu_);
  return stop_;
}

bool GatewayDaemon::Pause(Clock::duration d) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, d, [this] { return stop_; });
  return !stop_;
}

void GatewayDaemon::CheckHealth() {
  auto config = BaseGatewayConfig(home_, settings_);
  if (!config.ok()) {
    spdlog::error("exchange gateway {}: health not checked: {}", settings_.agency,
                  config.status().ToString());
    return;
  }
  const std::vector<exchange::HealthCheck> checks =
      GatewayHealth(home_, settings_, std::move(*config));
  bool all_ok = true;
  for (const exchange::HealthCheck& c : checks) {
    if (c.state == exchange::HealthState::kOk) continue;
    all_ok = false;
    if (c.state == exchange::HealthState::kWarning)
      spdlog::warn("exchange gateway {}: health WARNING {}: {}", settings_.agency, c.name,
                   c.detail);
    else
      spdlog::error("exchange gateway {}: health FAILED {}: {}", settings_.agency, c.name,
                    c.detail);
  }
  if (all_ok)
    spdlog::info("exchange gateway {}: health ok (registry, certificate, clock, center)",
                 settings_.agency);
}

Status GatewayDaemon::Run() {
  const auto min_backoff = std::chrono::seconds(1);
  auto backoff = std::chrono::seconds(min_backoff);
  Clock::time_point next_flush = Clock::now();
  Clock::time_point next_health = Clock::now();
  const int wait = static_cast<int>(options_.receive_wait.count());
  while (!stopping()) {
    bool failed = false;
    if (Clock::now() >= next_health) {
      CheckHealth();
      next_health = Clock::now() + options_.health_period;
    }
    if (Clock::now() >= next_flush) {
      Status st = gateway_->Flush();
      if (!st.ok()) {
        spdlog::error("exchange gateway {}: flush failed: {} (tried again in {} s)",
                      settings_.agency, st.ToString(), backoff.count());
        failed = true;
        next_flush = Clock::now();  // after the pause
      } else {
        next_flush = Clock::now() + options_.flush_period;
      }
    }
    if (!failed && !stopping()) {
      Result<exchange::ReceiveReport> r = gateway_->Receive(wait, 1000);
      if (!r.ok() && stopping()) break;  // the poll ended by Stop()
      if (!r.ok()) {
        spdlog::error("exchange gateway {}: receive failed: {} (tried again in {} s)",
                      settings_.agency, r.status().ToString(), backoff.count());
        failed = true;
      } else {
        if (r->documents || r->rejected || r->receipts || r->duplicates)
          spdlog::info(
              "exchange gateway {}: {} document(s) received, {} rejected, {} receipt(s), {} "
              "redelivered item(s) recognised",
              settings_.agency, r->documents, r->rejected, r->receipts, r->duplicates);
        for (const std::string& p : r->problems)
          spdlog::warn("exchange gateway {}: {}", settings_.agency, p);
      }
    }
    if (failed) {
      if (!Pause(backoff)) break;
      backoff = std::min<std::chrono::seconds>(backoff * 2, options_.max_backoff);
    } else {
      backoff = min_backoff;
    }
  }
  return Status::Ok();
}

}  // namespace tessera::server
