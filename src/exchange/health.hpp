// The health of an agency gateway host (`tessera exchange health`, issue #4): each check
// turns evidence (dates, a clock reading, a center's /v1/health answer) into ok, warning
// or failed under the registry's policy, with one English line saying why. The functions
// only evaluate: they read no clock, file or network, so the same evidence always gives
// the same verdict.
//
// The rules, each the one the hosts themselves enforce:
//   - a registry has failed once `now` >= expires_at (hosts fail closed), and warns when
//     less than a quarter of its validity (expires_at - issued_at) is left;
//   - a certificate has failed once `now` >= not_after (centers refuse it), and warns when
//     fewer whole days are left than the largest of the policy's certificate_warning_days,
//     naming the narrowest threshold reached (as a center announces it: 60, 30, then 7);
//   - the clock has failed when |skew| > max_clock_skew_seconds (the gateway then refuses
//     to sign), and warns beyond half of it;
//   - a center's spool has failed below the policy's max_message_bytes (it may refuse
//     the next large document), and warns below kSpoolWarningBytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.hpp"
#include "exchange/registry.hpp"

namespace tessera::exchange {

// Ordered: a worse state compares greater.
enum class HealthState { kOk = 0, kWarning = 1, kFailed = 2 };
std::string_view HealthStateName(HealthState state);  // "ok", "warning", "failed"

struct HealthCheck {
  std::string name;  // "registry", "certificate", "clock", "center"
  HealthState state = HealthState::kOk;
  std::string detail;                                // the evidence, for people
  nlohmann::json values = nlohmann::json::object();  // the numbers behind it, for machines
};

// A center's spool with less free space than this is reported as a warning: room for
// four maximum-size documents at the default policy (256 MiB each).
inline constexpr uint64_t kSpoolWarningBytes = uint64_t{1} << 30;

HealthCheck RegistryHealth(uint64_t serial, int64_t issued_at, int64_t expires_at, int64_t now);
HealthCheck CertificateHealth(int64_t not_after, const std::vector<int>& warning_days, int64_t now);
HealthCheck ClockHealth(double skew_seconds, double round_trip_seconds,
                        int64_t max_clock_skew_seconds);
// A center's GET /v1/health answer (center_server.cpp) under `policy`: its registry,
// certificate and spool by the rules above (the center's own `now` when it gives one,
// else `now`), with its delivery counts as evidence. The worst part decides the state; a
// part the center did not report is a warning, an answer without a center is failed.
HealthCheck CenterHealth(const nlohmann::json& health, const Policy& policy, int64_t now);
// A check as JSON: its values with "name", "state" (HealthStateName) and "detail" added,
// as `tessera exchange health --json` lists it; and back (Corruption when it is not one).
nlohmann::json HealthCheckToJson(const HealthCheck& check);
Result<HealthCheck> HealthCheckFromJson(const nlohmann::json& j);

// A check that could not be made, for the reason given.
HealthCheck FailedCheck(std::string name, std::string detail);

// The names of the failed checks, in order.
std::vector<std::string> FailedChecks(const std::vector<HealthCheck>& checks);

}  // namespace tessera::exchange
