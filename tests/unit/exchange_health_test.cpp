// The verdicts of `tessera exchange health` (exchange/health): each threshold checked on
// both sides of its boundary, so that a quarter taken for a half, a warning day counted
// the other way, or a skew compared with >= instead of > fails here.
#include "exchange/health.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tessera::exchange {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kDay = 86400;
constexpr int64_t kNow = 1790000000;  // 2026-09-21

TEST(ExchangeHealth, StateNames) {
  EXPECT_EQ(HealthStateName(HealthState::kOk), "ok");
  EXPECT_EQ(HealthStateName(HealthState::kWarning), "warning");
  EXPECT_EQ(HealthStateName(HealthState::kFailed), "failed");
}

TEST(ExchangeHealth, RegistryWarnsInItsLastQuarterAndFailsOnceExpired) {
  const int64_t issued = kNow - 1000;
  const int64_t expires = issued + kDay;  // a quarter of the validity: 21600 s
  auto at = [&](int64_t now) { return RegistryHealth(9, issued, expires, now).state; };
  EXPECT_EQ(at(issued), HealthState::kOk);
  EXPECT_EQ(at(issued + kDay / 2 + 1), HealthState::kOk);  // half left: still fine
  EXPECT_EQ(at(expires - kDay / 4), HealthState::kOk);     // exactly a quarter left
  EXPECT_EQ(at(expires - kDay / 4 + 1), HealthState::kWarning);
  EXPECT_EQ(at(expires - 1), HealthState::kWarning);
  EXPECT_EQ(at(expires), HealthState::kFailed);  // hosts fail closed at expires_at
  EXPECT_EQ(at(expires + 3600), HealthState::kFailed);

  const HealthCheck ok = RegistryHealth(9, issued, expires, kNow);
  EXPECT_EQ(ok.name, "registry");
  EXPECT_EQ(ok.values["serial"], 9);
  EXPECT_EQ(ok.values["age_seconds"], 1000);
  EXPECT_EQ(ok.values["expires_at"], expires);
  EXPECT_THAT(ok.detail, HasSubstr("serial 9"));
  EXPECT_THAT(RegistryHealth(9, issued, expires, expires + 7200).detail, HasSubstr("expired"));
  EXPECT_THAT(RegistryHealth(9, issued, expires, expires - 60).detail, HasSubstr("quarter"));
}

TEST(ExchangeHealth, CertificateWarnsWithinTheLargestThresholdAndNamesTheNarrowest) {
  const std::vector<int> days = {60, 30, 7};
  auto at = [&](int64_t left) { return CertificateHealth(kNow + left, days, kNow); };
  EXPECT_EQ(at(365 * kDay).state, HealthState::kOk);
  EXPECT_EQ(at(61 * kDay).state, HealthState::kOk);
  EXPECT_EQ(at(60 * kDay).state, HealthState::kOk);  // 60 whole days left: not yet within
  EXPECT_EQ(at(60 * kDay - 1).state, HealthState::kWarning);
  EXPECT_EQ(at(60 * kDay - 1).values["warning_days"], 60);
  EXPECT_EQ(at(30 * kDay).values["warning_days"], 60);
  EXPECT_EQ(at(30 * kDay - 1).values["warning_days"], 30);
  EXPECT_THAT(at(30 * kDay - 1).detail, HasSubstr("30-day warning"));
  EXPECT_EQ(at(7 * kDay).values["warning_days"], 30);
  EXPECT_EQ(at(7 * kDay - 1).values["warning_days"], 7);
  EXPECT_EQ(at(1).state, HealthState::kWarning);
  EXPECT_EQ(at(1).values["warning_days"], 7);
  EXPECT_EQ(at(0).state, HealthState::kFailed);  // not valid after not_after
  EXPECT_EQ(at(-kDay).state, HealthState::kFailed);
  EXPECT_THAT(at(-kDay).detail, HasSubstr("expired"));
  EXPECT_FALSE(at(365 * kDay).values.contains("warning_days"));
  EXPECT_EQ(at(365 * kDay).values["days_left"], 365);
  EXPECT_EQ(at(20 * kDay + 5).values["days_left"], 20);

  // The policy's list in any order; an empty one never warns.
  EXPECT_EQ(CertificateHealth(kNow + 20 * kDay, {7, 60, 30}, kNow).values["warning_days"], 30);
  EXPECT_EQ(CertificateHealth(kNow + 45 * kDay, {7, 60, 30}, kNow).values["warning_days"], 60);
  EXPECT_EQ(CertificateHealth(kNow + 1, {}, kNow).state, HealthState::kOk);
  EXPECT_EQ(CertificateHealth(kNow, {}, kNow).state, HealthState::kFailed);
}

TEST(ExchangeHealth, ClockWarnsBeyondHalfTheSkewAndFailsBeyondIt) {
  auto at = [](double skew) { return ClockHealth(skew, 0.004, 30).state; };
  EXPECT_EQ(at(0), HealthState::kOk);
  EXPECT_EQ(at(15), HealthState::kOk);  // exactly half
  EXPECT_EQ(at(15.001), HealthState::kWarning);
  EXPECT_EQ(at(-15.5), HealthState::kWarning);
  EXPECT_EQ(at(30), HealthState::kWarning);  // the gateway still signs at exactly the limit
  EXPECT_EQ(at(30.001), HealthState::kFailed);
  EXPECT_EQ(at(-31), HealthState::kFailed);
  const HealthCheck c = ClockHealth(-31, 0.25, 30);
  EXPECT_THAT(c.detail, HasSubstr("-31.000 s"));
  EXPECT_THAT(c.detail, HasSubstr("NTP"));
  EXPECT_EQ(c.values["max_skew_seconds"], 30);
  EXPECT_DOUBLE_EQ(c.values["round_trip_seconds"].get<double>(), 0.25);
}

// A /v1/health answer as center_server.cpp writes it, everything fine.
json HealthyCenter(int64_t now) {
  return {{"center", "center-a"},
          {"now", now},
          {"registry",
           {{"serial", 7},
            {"issued_at", now - 600},
            {"expires_at", now - 600 + kDay},
            {"age_seconds", 600}}},
          {"certificate", {{"not_after", now + 365 * kDay}, {"days_left", 365}}},
          {"spool", {{"free_bytes", uint64_t{50} << 30}}},
          {"deliveries", {{"delivered", 3}, {"queued", 1}}}};
}

TEST(ExchangeHealth, HealthyCenter) {
  const HealthCheck c = CenterHealth(HealthyCenter(kNow), Policy{}, kNow);
  EXPECT_EQ(c.name, "center");
  EXPECT_EQ(c.state, HealthState::kOk) << c.detail;
  EXPECT_THAT(c.detail, HasSubstr("center-a"));
  EXPECT_THAT(c.detail, HasSubstr("delivered 3, queued 1"));
  EXPECT_EQ(c.values["center"], "center-a");
  EXPECT_EQ(c.values["registry_serial"], 7);
  EXPECT_EQ(c.values["registry_age_seconds"], 600);
  EXPECT_EQ(c.values["certificate_days_left"], 365);
  EXPECT_EQ(c.values["spool_free_bytes"], uint64_t{50} << 30);
  EXPECT_EQ(c.values["deliveries"]["queued"], 1);
}

TEST(ExchangeHealth, CenterJudgedByItsOwnClock) {
  // Its registry is 10 minutes old by its clock, though ours is a day ahead.
  EXPECT_EQ(CenterHealth(HealthyCenter(kNow), Policy{}, kNow + kDay).state, HealthState::kOk);
}

TEST(ExchangeHealth, CenterRegistry) {
  json h = HealthyCenter(kNow);
  h["registry"]["issued_at"] = kNow - 80000;
  h["registry"]["expires_at"] = kNow + 6400;  // 6400 s of 86400 left
  EXPECT_EQ(CenterHealth(h, Policy{}, kNow).state, HealthState::kWarning);
  h["registry"]["expires_at"] = kNow + 80000;  // about half left
  EXPECT_EQ(CenterHealth(h, Policy{}, kNow).state, HealthState::kOk);
  h["registry"]["expires_at"] = kNow;
  EXPECT_EQ(CenterHealth(h, Policy{}, kNow).state, HealthState::kFailed);
  h["registry"] = {{"error", "the registry expired at 2026-09-20T00:00:00Z, fetch a new one"}};
  const HealthCheck c = CenterHealth(h, Policy{}, kNow);
  EXPECT_EQ(c.state, HealthState::kFailed);
  EXPECT_THAT(c.detail, HasSubstr("no usable registry"));
}

TEST(ExchangeHealth, CenterCertificate) {
  json h = HealthyCenter(kNow);
  h["certificate"]["not_after"] = kNow + 20 * kDay;
  HealthCheck c = CenterHealth(h, Policy{}, kNow);
  EXPECT_EQ(c.state, HealthState::kWarning);
  EXPECT_THAT(c.detail, HasSubstr("30-day warning"));
  EXPECT_EQ(c.values["certificate_days_left"], 20);
  h["certificate"]["not_after"] = kNow - 1;
  EXPECT_EQ(CenterHealth(h, Policy{}, kNow).state, HealthState::kFailed);
  Policy narrow;
  narrow.certificate_warning_days = {7};
  h["certificate"]["not_after"] = kNow + 20 * kDay;
  EXPECT_EQ(CenterHealth(h, narrow, kNow).state, HealthState::kOk);
}

TEST(ExchangeHealth, CenterSpool) {
  json h = HealthyCenter(kNow);
  Policy policy;  // max_message_bytes 256 MiB
  h["spool"]["free_bytes"] = kSpoolWarningBytes;
  EXPECT_EQ(CenterHealth(h, policy, kNow).state, HealthState::kOk);
  h["spool"]["free_bytes"] = kSpoolWarningBytes - 1;
  EXPECT_EQ(CenterHealth(h, policy, kNow).state, HealthState::kWarning);
  h["spool"]["free_bytes"] = policy.max_message_bytes;
  EXPECT_EQ(CenterHealth(h, policy, kNow).state, HealthState::kWarning);
  h["spool"]["free_bytes"] = policy.max_message_bytes - 1;
  const HealthCheck c = CenterHealth(h, policy, kNow);
  EXPECT_EQ(c.state, HealthState::kFailed);
  EXPECT_THAT(c.detail, HasSubstr("maximum-size document"));
  h.erase("spool");
  EXPECT_EQ(CenterHealth(h, policy, kNow).state, HealthState::kWarning);
}

TEST(ExchangeHealth, WorstPartDecidesTheCenter) {
  json h = HealthyCenter(kNow);
  h["certificate"]["not_after"] = kNow + 20 * kDay;  // warning
  h["spool"]["free_bytes"] = 1000;                   // failed
  const HealthCheck c = CenterHealth(h, Policy{}, kNow);
  EXPECT_EQ(c.state, HealthState::kFailed);
  EXPECT_THAT(c.detail, HasSubstr("30-day warning"));
  EXPECT_THAT(c.detail, HasSubstr("1000 B free"));
}

TEST(ExchangeHealth, MalformedCenterAnswersFail) {
  EXPECT_EQ(CenterHealth(json::array(), Policy{}, kNow).state, HealthState::kFailed);
  EXPECT_EQ(CenterHealth({{"now", kNow}}, Policy{}, kNow).state, HealthState::kFailed);
  json h = HealthyCenter(kNow);
  h["registry"]["serial"] = "seven";
  const HealthCheck c = CenterHealth(h, Policy{}, kNow);
  EXPECT_EQ(c.state, HealthState::kFailed);
  EXPECT_THAT(c.detail, HasSubstr("malformed"));
}

TEST(ExchangeHealth, FailedChecksNamesThemInOrder) {
  std::vector<HealthCheck> checks = {
      RegistryHealth(1, kNow - 10, kNow + kDay, kNow),
      CertificateHealth(kNow - 1, {60, 30, 7}, kNow),
      ClockHealth(20, 0.1, 30),
      FailedCheck("center", "no answer"),
  };
  EXPECT_THAT(FailedChecks(checks), ElementsAre("certificate", "center"));
  EXPECT_EQ(checks[2].state, HealthState::kWarning);
  EXPECT_TRUE(FailedChecks({checks[0], checks[2]}).empty());
}

// What GatewayHealth keeps for the self-assessment reads back as it was made.
TEST(ExchangeHealth, ACheckReadsBackFromItsJson) {
  const HealthCheck clock = ClockHealth(-7.5, 0.02, 10);
  auto back = HealthCheckFromJson(HealthCheckToJson(clock));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "clock");
  EXPECT_EQ(back->state, HealthState::kWarning);
  EXPECT_EQ(back->detail, clock.detail);
  EXPECT_EQ(back->values, clock.values);
  nlohmann::json odd = HealthCheckToJson(clock);
  odd["state"] = "fine";
  EXPECT_EQ(HealthCheckFromJson(odd).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(HealthCheckFromJson(nlohmann::json::array()).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace tessera::exchange
