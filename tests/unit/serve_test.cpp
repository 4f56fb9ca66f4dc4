// tessera serve (server/serve.hpp): the settings of every role, the errors that keep it
// from starting, and stopping on a signal.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "guard/syslog_options.hpp"
#include "server/self_assessment.hpp"
#include "server/serve.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::server {
namespace {

std::string Write(const TempDir& dir, const std::string& text) {
  const std::string path = (dir.path() / "tessera.toml").string();
  std::ofstream(path) << text;
  return path;
}

TEST(ServeSettings, ReadsEveryRole) {
  TempDir dir;
  const std::string file = Write(dir, R"(
[archive]
lmtp = ""
smtp = "127.0.0.1:2525"
[exchange]
agency = "A15060000H"
center_id = "center-a"
certificate = "a.pem"
key = "a.key"
listen = "127.0.0.1:7444"
publish_registry = true
receive_wait = 3
flush_period = 12
health_period = 120
[guard.syslog]
collector = "127.0.0.1:6514"
ca = "ca.pem"
cert = "c.pem"
key = "c.key"
server_name = "soc.test"
facility = "local5"
period = 2
batch = 50
)");
  ServeConfig c;
  ASSERT_OK(ReadServeSettings(file, c));
  EXPECT_EQ(c.archive.lmtp, "");
  EXPECT_EQ(c.archive.smtp, "127.0.0.1:2525");
  EXPECT_EQ(c.exchange.settings.agency, "A15060000H");
  EXPECT_EQ(c.exchange.settings.center_id, "center-a");
  EXPECT_EQ(c.exchange.settings.listen, "127.0.0.1:7444");
  EXPECT_TRUE(c.exchange.publish_registry);
  EXPECT_EQ(c.exchange.gateway.receive_wait, std::chrono::seconds(3));
  EXPECT_EQ(c.exchange.gateway.flush_period, std::chrono::seconds(12));
  EXPECT_EQ(c.exchange.gateway.health_period, std::chrono::seconds(120));
  ASSERT_TRUE(c.syslog.has_value());
  EXPECT_EQ(c.syslog->collector, "127.0.0.1:6514");
  EXPECT_EQ(c.syslog->ca, "ca.pem");
  EXPECT_EQ(c.syslog->cert, "c.pem");
  EXPECT_EQ(c.syslog->key, "c.key");
  EXPECT_EQ(c.syslog->server_name, "soc.test");
  EXPECT_EQ(c.syslog->facility, "local5");
  EXPECT_DOUBLE_EQ(c.syslog->period, 2);
  EXPECT_EQ(c.syslog->batch, 50u);
}

TEST(ServeSettings, NoFileKeepsTheDefaultsAndNoCollectorMeansNoShipper) {
  ServeConfig c;
  ASSERT_OK(ReadServeSettings("", c));
  EXPECT_EQ(c.archive.lmtp, "127.0.0.1:10024");
  EXPECT_FALSE(c.syslog.has_value());
  TempDir dir;
  ASSERT_OK(ReadServeSettings(Write(dir, "[guard.syslog]\nca = \"ca.pem\"\n"), c));
  EXPECT_FALSE(c.syslog.has_value());
  EXPECT_TRUE(c.exchange.settings.agency.empty());
}

TEST(ServeSettings, ValuesOutOfRangeNameTheKey) {
  TempDir dir;
  ServeConfig c;
  Status st = ReadServeSettings(Write(dir, "[exchange]\nreceive_wait = 0\n"), c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("[exchange] receive_wait"), std::string::npos) << st.ToString();
  st = ReadServeSettings(Write(dir, "[guard.syslog]\ncollector = \"h:1\"\nperiod = \"x\"\n"), c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("[guard.syslog] period"), std::string::npos) << st.ToString();
  st = ReadServeSettings(Write(dir, "[exchange\n"), c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("not valid TOML"), std::string::npos) << st.ToString();
}

TEST(Serve, EveryRoleOffIsAnError) {
  TempDir dir;
  ServeConfig c;
  c.home = dir.path();
  c.archive.lmtp = "";
  c.archive.smtp = "";
  bool served = false;
  Status st = Serve(c, [&](const std::string&) { served = true; });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("no role has anything to serve"), std::string::npos);
  EXPECT_FALSE(served);
}

TEST(Serve, AMissingCertificateStopsItBeforeServingNamingTheSetting) {
  TempDir dir;
  ServeConfig c;
  c.home = dir.path();
  c.archive.lmtp = "127.0.0.1:0";
  c.archive.smtp = "";
  c.exchange.settings.center_id = "center-a";
  c.exchange.settings.certificate = (dir.path() / "missing.pem").string();
  c.exchange.settings.key = (dir.path() / "missing.key").string();
  bool served = false;
  Status st = Serve(c, [&](const std::string&) { served = true; });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("[exchange] certificate"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("missing.pem"), std::string::npos) << st.ToString();
  EXPECT_FALSE(served);
}

TEST(Serve, ASyslogCollectorWithoutItsCaIsAnError) {
  TempDir dir;
  ServeConfig c;
  c.home = dir.path();
  c.archive.lmtp = "";
  c.archive.smtp = "";
  c.syslog = guard::SyslogShipOptions{};
  c.syslog->collector = "127.0.0.1:6514";
  c.syslog->ca = (dir.path() / "none.pem").string();
  Status st = Serve(c, [](const std::string&) {});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("[guard.syslog] ca"), std::string::npos) << st.ToString();
}

TEST(Serve, StopsEveryRoleOnSigterm) {
  TempDir dir;
  ServeConfig c;
  c.home = dir.path();
  c.archive.lmtp = "127.0.0.1:0";
  c.archive.smtp = "127.0.0.1:0";
  std::atomic<bool> ready{false};
  std::string text;
  Status result = Status::Internal("not returned");
  std::thread serving([&] {
    result = Serve(c, [&](const std::string& t) {
      text = t;
      ready = true;
    });
  });
  for (int i = 0; i < 200 && !ready; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_TRUE(ready);
  EXPECT_NE(text.find("LMTP listener:"), std::string::npos) << text;
  EXPECT_NE(text.find("SMTP listener:"), std::string::npos) << text;
  // Directed at the serving thread, where SIGTERM is blocked and waited for.
  const auto asked = std::chrono::steady_clock::now();
  pthread_kill(serving.native_handle(), SIGTERM);
  serving.join();
  EXPECT_OK(result);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(3));
}

TEST(SyslogOptions, AWrongFacilityOrCollectorIsRefused) {
  TempDir dir;
  guard::SyslogShipOptions o;
  o.collector = "127.0.0.1:6514";
  o.facility = "kitchen";
  EXPECT_EQ(guard::OpenSyslogShipper(dir.path(), o).status().code(), StatusCode::kInvalidArgument);
  o.facility = "local4";
  o.collector = "127.0.0.1:notaport";
  EXPECT_FALSE(guard::OpenSyslogShipper(dir.path(), o).ok());
}

// A bare installation: the controls of roles it does not run do not apply, those it
// cannot observe are left to a person, and the page escapes what it shows.
TEST(SelfAssessment, JudgesWhatItSeesAndEscapesThePage) {
  TempDir dir;
  ServeConfig config;
  config.home = dir.path() / "home";
  SelfAssessment a = AssessControls(config, 1796000000);
  auto state = [&](const std::string& id) {
    for (const ControlFinding& f : a.controls)
      if (f.id == id) return std::string(ControlStateName(f.state));
    return std::string("missing");
  };
  EXPECT_EQ(state("mutual-tls"), "not-applicable");
  EXPECT_EQ(state("syslog"), "fails") << "no SOC configured";
  EXPECT_EQ(state("integrity"), "fails") << "no baseline";
  EXPECT_EQ(state("release"), "warning");
  EXPECT_EQ(a.Count(ControlState::kManual), 6u);
  EXPECT_EQ(a.ToJson()["counts"]["fails"], a.Count(ControlState::kFails));
  a.controls[0].evidence = "<script>alert(1)</script> & more";
  const std::string html = a.ToHtml();
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), std::string::npos);
  EXPECT_NE(html.find("公文電子交換系統資訊安全自評表"), std::string::npos);
}

}  // namespace
}  // namespace tessera::server
