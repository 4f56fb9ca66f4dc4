#include "exchange/health.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "base/clock.hpp"
#include "base/progress.hpp"

namespace tessera::exchange {
namespace {

constexpr int64_t kDay = 86400;

std::string Time(int64_t unix_seconds) {
  return FormatRfc3339(unix_seconds * 1000000000);
}

std::string Duration(int64_t seconds) {
  seconds = seconds < 0 ? -seconds : seconds;
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + " min";
  if (seconds < 2 * kDay) return std::to_string(seconds / 3600) + " h";
  return std::to_string(seconds / kDay) + " days";
}

// "12 min ago" or "in 23 h", for a moment `delta` seconds from now.
std::string Relative(int64_t delta) {
  return delta <= 0 ? Duration(delta) + " ago" : "in " + Duration(delta);
}

HealthState RegistryState(int64_t issued_at, int64_t expires_at, int64_t now) {
  if (now >= expires_at) return HealthState::kFailed;
  // Less than a quarter left: several polls have failed, or publication has stopped.
  if ((expires_at - now) * 4 < expires_at - issued_at) return HealthState::kWarning;
  return HealthState::kOk;
}

// Whole days left, truncated as a center counts them (center_server.cpp).
int64_t DaysLeft(int64_t not_after, int64_t now) {
  return (not_after - now) / kDay;
}

// The narrowest warning threshold a valid certificate has reached, if any.
std::optional<int> WarningThreshold(int64_t not_after, const std::vector<int>& warning_days,
                                    int64_t now) {
  std::optional<int> threshold;
  if (not_after <= now) return threshold;
  for (int days : warning_days)
    if (DaysLeft(not_after, now) < days && (!threshold || days < *threshold)) threshold = days;
  return threshold;
}

HealthState CertificateState(int64_t not_after, const std::vector<int>& warning_days, int64_t now) {
  if (not_after <= now) return HealthState::kFailed;
  return WarningThreshold(not_after, warning_days, now) ? HealthState::kWarning : HealthState::kOk;
}

}  // namespace

std::string_view HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kOk:
      return "ok";
    case HealthState::kWarning:
      return "warning";
    case HealthState::kFailed:
      return "failed";
  }
  return "failed";
}

nlohmann::json HealthCheckToJson(const HealthCheck& check) {
  nlohmann::json j = check.values;
  j["name"] = check.name;
  j["state"] = std::string(HealthStateName(check.state));
  j["detail"] = check.detail;
  return j;
}

Result<HealthCheck> HealthCheckFromJson(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("state") ||
      !j["state"].is_string() || !j.contains("detail") || !j["detail"].is_string())
    return Status::Corruption("not a health check: it needs a name, a state and a detail");
  HealthCheck c;
  c.name = j["name"].get<std::string>();
  c.detail = j["detail"].get<std::string>();
  const std::string state = j["state"].get<std::string>();
  if (state == "ok")
    c.state = HealthState::kOk;
  else if (state == "warning")
    c.state = HealthState::kWarning;
  else if (state == "failed")
    c.state = HealthState::kFailed;
  else
    return Status::Corruption("health check " + c.name + " has an unknown state '" + state + "'");
  c.values = j;
  c.values.erase("name");
  c.values.erase("state");
  c.values.erase("detail");
  return c;
}

HealthCheck RegistryHealth(uint64_t serial, int64_t issued_at, int64_t expires_at, int64_t now) {
  HealthCheck c{"registry", RegistryState(issued_at, expires_at, now), "",
                nlohmann::json::object()};
  c.values = {{"serial", serial},
              {"issued_at", issued_at},
              {"expires_at", expires_at},
              {"age_seconds", now - issued_at}};
  c.detail = "serial " + std::to_string(serial) + ", issued " + Time(issued_at) + " (" +
             Relative(issued_at - now) + "), ";
  if (c.state == HealthState::kFailed) {
    c.detail += "expired " + Time(expires_at) + " (" + Relative(expires_at - now) +
                "): this host exchanges nothing until a current registry is installed";
    return c;
  }
  c.detail += "expires " + Time(expires_at) + " (" + Relative(expires_at - now) + ")";
  if (c.state == HealthState::kWarning)
    c.detail +=
        ": less than a quarter of its validity is left; check that the management "
        "center publishes and is reachable (--management-url)";
  return c;
}

HealthCheck CertificateHealth(int64_t not_after, const std::vector<int>& warning_days,
                              int64_t now) {
  HealthCheck c{"certificate", CertificateState(not_after, warning_days, now), "",
                nlohmann::json::object()};
  const int64_t days_left = DaysLeft(not_after, now);
  c.values = {{"not_after", not_after}, {"days_left", days_left}};
  if (c.state == HealthState::kFailed) {
    c.detail = "the certificate expired on " + Time(not_after) + " (" + Relative(not_after - now) +
               "): centers refuse this host; install a renewed certificate and have it "
               "registered";
    return c;
  }
  c.detail = "valid until " + Time(not_after) + ", " + std::to_string(days_left) + " days left";
  if (auto threshold = WarningThreshold(not_after, warning_days, now)) {
    c.values["warning_days"] = *threshold;
    c.detail += " (within the policy's " + std::to_string(*threshold) +
                "-day warning): renew it and have the new one registered";
  }
  return c;
}

HealthCheck ClockHealth(double skew_seconds, double round_trip_seconds,
                        int64_t max_clock_skew_seconds) {
  HealthCheck c{"clock", HealthState::kOk, "", nlohmann::json::object()};
  c.values = {{"skew_seconds", skew_seconds},
              {"round_trip_seconds", round_trip_seconds},
              {"max_skew_seconds", max_clock_skew_seconds}};
  const double skew = std::fabs(skew_seconds);
  const double max = static_cast<double>(max_clock_skew_seconds);
  // The same comparison the gateway makes before it signs (Gateway::Send).
  if (skew > max)
    c.state = HealthState::kFailed;
  else if (skew > max / 2)
    c.state = HealthState::kWarning;
  char text[160];
  std::snprintf(text, sizeof text,
                "skew %+.3f s against the center (round trip %.3f s; the policy allows %lld s)",
                skew_seconds, round_trip_seconds, static_cast<long long>(max_clock_skew_seconds));
  c.detail = text;
  if (c.state == HealthState::kFailed)
    c.detail += ": documents are not signed until this host's clock is synchronised (NTP)";
  else if (c.state == HealthState::kWarning)
    c.detail += ": more than half of what the policy allows; check NTP";
  return c;
}

HealthCheck CenterHealth(const nlohmann::json& health, const Policy& policy, int64_t now) {
  HealthCheck c{"center", HealthState::kOk, "", nlohmann::json::object()};
  std::vector<std::string> parts;
  auto part = [&](HealthState state, std::string text) {
    c.state = std::max(c.state, state);
    parts.push_back(std::move(text));
  };
  try {
    if (!health.is_object() || !health.contains("center"))
      return FailedCheck("center", "the center's health answer names no center");
    const std::string id = health.at("center").get<std::string>();
    c.values["center"] = id;
    if (health.contains("now")) now = health.at("now").get<int64_t>();

    auto reg = health.find("registry");
    if (reg == health.end() || !reg->is_object()) {
      part(HealthState::kWarning, "registry not reported");
    } else if (reg->contains("error")) {
      part(HealthState::kFailed,
           "no usable registry (" + reg->at("error").get<std::string>() + ")");
    } else {
      const auto serial = reg->at("serial").get<uint64_t>();
      const auto issued = reg->at("issued_at").get<int64_t>();
      const auto expires = reg->at("expires_at").get<int64_t>();
      c.values["registry_serial"] = serial;
      c.values["registry_age_seconds"] = now - issued;
      c.values["registry_expires_at"] = expires;
      const HealthState state = RegistryState(issued, expires, now);
      std::string text = "registry serial " + std::to_string(serial);
      if (state == HealthState::kFailed)
        text += " expired " + Relative(expires - now);
      else
        text += ", " + Duration(now - issued) + " old, expires " + Relative(expires - now);
      if (state == HealthState::kWarning) text += " (less than a quarter of its validity left)";
      part(state, text);
    }

    auto cert = health.find("certificate");
    if (cert == health.end() || !cert->is_object()) {
      part(HealthState::kWarning, "certificate not reported");
    } else {
      const auto not_after = cert->at("not_after").get<int64_t>();
      c.values["certificate_not_after"] = not_after;
      c.values["certificate_days_left"] = DaysLeft(not_after, now);
      const HealthState state = CertificateState(not_after, policy.certificate_warning_days, now);
      std::string text;
      if (state == HealthState::kFailed) {
        text = "certificate expired on " + Time(not_after);
      } else {
        text = "certificate " + std::to_string(DaysLeft(not_after, now)) + " days left";
        if (auto t = WarningThreshold(not_after, policy.certificate_warning_days, now))
          text += " (within the policy's " + std::to_string(*t) + "-day warning)";
      }
      part(state, text);
    }

    auto spool = health.find("spool");
    if (spool == health.end() || !spool->is_object()) {
      part(HealthState::kWarning, "spool space not reported");
    } else {
      const auto free = spool->at("free_bytes").get<uint64_t>();
      c.values["spool_free_bytes"] = free;
      std::string text = "spool " + HumanBytes(free) + " free";
      if (free < policy.max_message_bytes)
        part(HealthState::kFailed, text + ", less than one maximum-size document (" +
                                       HumanBytes(policy.max_message_bytes) + ")");
      else if (free < kSpoolWarningBytes)
        part(HealthState::kWarning, text + " (under " + HumanBytes(kSpoolWarningBytes) + ")");
      else
        part(HealthState::kOk, text);
    }

    nlohmann::json deliveries = nlohmann::json::object();
    std::string counts;
    if (auto d = health.find("deliveries"); d != health.end() && d->is_object()) {
      for (const auto& [state, n] : d->items()) {
        deliveries[state] = n.get<int64_t>();
        counts += (counts.empty() ? "" : ", ") + state + " " + std::to_string(n.get<int64_t>());
      }
    }
    c.values["deliveries"] = deliveries;
    parts.push_back("deliveries: " + (counts.empty() ? std::string("none") : counts));

    c.detail = id + ":";
    for (size_t i = 0; i < parts.size(); ++i) c.detail += (i ? "; " : " ") + parts[i];
  } catch (const nlohmann::json::exception& e) {
    return FailedCheck("center",
                       std::string("the center's health answer is malformed: ") + e.what());
  }
  return c;
}

HealthCheck FailedCheck(std::string name, std::string detail) {
  return HealthCheck{std::move(name), HealthState::kFailed, std::move(detail),
                     nlohmann::json::object()};
}

std::vector<std::string> FailedChecks(const std::vector<HealthCheck>& checks) {
  std::vector<std::string> names;
  for (const HealthCheck& c : checks)
    if (c.state == HealthState::kFailed) names.push_back(c.name);
  return names;
}

}  // namespace tessera::exchange
