// tessera serve (server/serve.hpp): the settings of every role, the errors that keep it
// from starting, and stopping on a signal.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

#include "archive/mail_listener.hpp"
#include "guard/audit_log.hpp"
#include "guard/syslog_options.hpp"
#include "server/audit.hpp"
#include "server/mail_alerts.hpp"
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

TEST(ServeSettings, ReadsTheGuardTables) {
  TempDir dir;
  ServeConfig c;
  ASSERT_OK(ReadServeSettings(Write(dir, R"(
[guard.audit]
checkpoint_period = 600
checkpoint_copy = "/mnt/offline"
[guard.alert]
smtp = "smtp://relay.test:2525"
to = ["soc@agency.test", "it@agency.test"]
from = "tessera@host.agency.test"
[guard.report]
backup_max_age_hours = 30
drill_max_age_days = 180
[guard.integrity]
refuse_exchange = true
[guard.release]
release = "r.json"
directory = "/opt/tessera"
key = "p.pem"
recheck_period = 900
)"),
                              c));
  ASSERT_TRUE(c.checkpoints.has_value());
  EXPECT_EQ(c.checkpoints->period, std::chrono::seconds(600));
  EXPECT_EQ(c.checkpoints->copy_dir, "/mnt/offline");
  ASSERT_TRUE(c.alert.has_value());
  EXPECT_EQ(c.alert->relay.host, "relay.test");
  EXPECT_EQ(c.alert->relay.port, 2525);
  EXPECT_EQ(c.alert->relay.helo, "host.agency.test");
  EXPECT_EQ(c.alert->to, (std::vector<std::string>{"soc@agency.test", "it@agency.test"}));
  EXPECT_EQ(c.report.backup_max_age, 30 * 3600);
  EXPECT_EQ(c.report.drill_max_age, 180 * 86400);
  ASSERT_TRUE(c.integrity.has_value());
  EXPECT_TRUE(c.integrity->refuse_exchange);
  EXPECT_FALSE(c.integrity->refuse_start);
  EXPECT_EQ(c.release_recheck_period, std::chrono::seconds(900));

  for (const char* bad :
       {"[guard.alert]\nto = [\"a@b\"]\n", "[guard.alert]\nsmtp = \"smtp://r:25\"\n",
        "[guard.alert]\nsmtp = \"smtp://r:25\"\nto = [\"nobody\"]\n",
        "[guard.audit]\ncheckpoint_period = 0\n", "[guard.report]\ndrill_max_age_days = 0\n"}) {
    ServeConfig d;
    Status st = ReadServeSettings(Write(dir, bad), d);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("[guard."), std::string::npos) << st.ToString();
  }
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

TEST(ServeSettings, TheConsoleTableTurnsTheConsoleOnAndOff) {
  TempDir dir;
  ServeConfig c;
  ASSERT_OK(ReadServeSettings(Write(dir, "[archive]\nlmtp = \"127.0.0.1:1\"\n"), c));
  EXPECT_FALSE(c.console.has_value());  // a settings file without [console]: off
  ASSERT_OK(ReadServeSettings(Write(dir, R"(
[console]
listen = "[::1]:9443"
certificate = "/etc/tessera/console.crt"
key = "/etc/tessera/console.key"
web_root = "/usr/share/tessera/web"
restore_relay = "smtp://mail.agency.test:2525"
sign_in_limit = 3
sign_in_window = 120
session_idle = 600
session_max = 3600
lockout = 60
[console.ldap]
url = "ldaps://dc.agency.test:636"
user_dn = "uid={name},ou=people,dc=agency,dc=test"
ca = "/etc/tessera/ldap-ca.pem"
timeout = 5
)"),
                              c));
  ASSERT_TRUE(c.console.has_value());
  EXPECT_EQ(c.console->listen, "[::1]:9443");
  EXPECT_EQ(c.console->certificate, "/etc/tessera/console.crt");
  EXPECT_EQ(c.console->web_root, "/usr/share/tessera/web");
  EXPECT_EQ(c.console->api.archive.restore_relay, "smtp://mail.agency.test:2525");
  EXPECT_EQ(c.console->api.sign_in_limit, 3);
  EXPECT_EQ(c.console->api.sign_in_window, 120);
  EXPECT_EQ(c.console->sign_in.idle_seconds, 600);
  EXPECT_EQ(c.console->sign_in.absolute_seconds, 3600);
  EXPECT_EQ(c.console->sign_in.lockout_seconds, 60);
  ASSERT_TRUE(c.console->ldap.has_value());
  EXPECT_EQ(c.console->ldap->url, "ldaps://dc.agency.test:636");
  EXPECT_EQ(c.console->ldap->user_dn, "uid={name},ou=people,dc=agency,dc=test");
  EXPECT_EQ(c.console->ldap->ca, "/etc/tessera/ldap-ca.pem");
  EXPECT_EQ(c.console->ldap->timeout, std::chrono::seconds(5));
  ASSERT_OK(ReadServeSettings(Write(dir, "[console]\nlisten = \"\"\n"), c));
  EXPECT_FALSE(c.console.has_value());
  for (const char* bad :
       {"[console]\nlisten = \"nowhere\"\n", "[console]\ncertificate = \"c.pem\"\n",
        "[console]\nsign_in_limit = 0\n", "[console]\nrestore_relay = \"http://x\"\n",
        "[console]\nsession_idle = 5\n",
        "[console.ldap]\nurl = \"ldap://dc\"\nuser_dn = \"uid=x\"\n",
        "[console.ldap]\nurl = \"dc\"\nuser_dn = \"uid={name}\"\n"}) {
    Status st = ReadServeSettings(Write(dir, bad), c);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("[console"), std::string::npos) << st.ToString();
  }
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

// An alert goes out when a topic's findings change and once when they clear, not at every
// check; every mail, sent or not, is in the audit log.
TEST(MailAlerts, MailsChangesOnceAndAuditsEveryMail) {
  std::mutex mu;
  std::vector<std::string> received;
  archive::MailListenerConfig smtp;
  smtp.protocol = archive::MailProtocol::kSmtp;
  auto server = archive::MailServer::Bind(
      {smtp},
      [&](const archive::MailEnvelope& e, archive::MailProtocol, const std::string&, Bytes m) {
        std::lock_guard lock(mu);
        EXPECT_EQ(e.recipients, (std::vector<std::string>{"soc@agency.test"}));
        received.emplace_back(m.begin(), m.end());
        return Status::Ok();
      });
  ASSERT_OK(server.status());
  std::thread serving([&] { (void)(*server)->Run(false); });
  TempDir dir;
  MailAlertOptions o;
  o.relay.port = (*server)->ports()[0];
  o.relay.timeout = std::chrono::seconds(5);
  o.from = "tessera@host.test";
  o.to = {"soc@agency.test"};
  MailAlerts alerts(dir.path(), o, "host.test");
  const std::vector<std::string> changed = {"changed: /opt/tessera/bin/tessera (content)"};
  EXPECT_OK(alerts.Report("integrity", "baseline b", {}));  // clean and never alerted
  EXPECT_OK(alerts.Report("integrity", "baseline b", changed));
  EXPECT_OK(alerts.Report("integrity", "baseline b", changed));  // the same: no mail
  EXPECT_OK(alerts.Report("integrity", "baseline b", {}));       // cleared: one mail
  EXPECT_OK(alerts.Report("integrity", "baseline b", {}));
  (*server)->Stop();
  serving.join();
  server->reset();  // its port closed: the relay is gone
  ASSERT_EQ(received.size(), 2u);
  EXPECT_NE(received[0].find("X-Tessera-Alert: host.test\r\n"), std::string::npos);
  EXPECT_NE(received[0].find("  - changed: /opt/tessera/bin/tessera (content)\r\n"),
            std::string::npos)
      << received[0];
  EXPECT_NE(received[0].find("Subject: " + archive::EncodedWord("[tessera] 警示 ALERT: integrity "
                                                                "on host.test (1)")),
            std::string::npos)
      << received[0];
  EXPECT_NE(received[1].find(archive::EncodedWord("[tessera] 已恢復 cleared: integrity on "
                                                  "host.test")),
            std::string::npos);

  // The relay is gone: an error, recorded, and tried again at the next report.
  EXPECT_FALSE(alerts.Report("release", "release 1.0", {"not listed"}).ok());
  EXPECT_FALSE(alerts.Report("release", "release 1.0", {"not listed"}).ok());
  auto log = guard::AuditLog::Open(dir.path());
  ASSERT_OK(log.status());
  auto records = (*log)->Read(std::nullopt);
  ASSERT_OK(records.status());
  std::vector<std::string> outcomes;
  for (const guard::AuditRecord& r : *records)
    if (r.action == "guard.alert") outcomes.push_back(r.outcome);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0].rfind("mailed to soc@agency.test", 0), 0u) << outcomes[0];
  EXPECT_EQ(outcomes[3].rfind("NOT mailed to soc@agency.test", 0), 0u) << outcomes[3];
}

// A checkpoint is signed only when the log grew since the last one, and its copy is kept.
TEST(AuditCheckpoints, SignedWhenTheLogGrewAndCopiedApart) {
  TempDir dir;
  const auto home = dir.path() / "home";
  const auto apart = dir.path() / "apart";
  ASSERT_OK(RecordAudit(home, "test.action", "t", "o"));
  auto first = CheckpointIfGrown(home, apart);
  ASSERT_OK(first.status());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->seq, 1);
  EXPECT_TRUE(std::filesystem::exists(apart / "checkpoint-1.json"));
  auto again = CheckpointIfGrown(home, apart);
  ASSERT_OK(again.status());
  EXPECT_FALSE(again->has_value()) << "only the checkpoint's own record was added";
  ASSERT_OK(RecordAudit(home, "test.action", "t", "o"));
  auto second = CheckpointIfGrown(home, "");
  ASSERT_OK(second.status());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->seq, 3);
  auto log = guard::AuditLog::Open(home);
  ASSERT_OK(log.status());
  auto v = (*log)->Verify();
  ASSERT_OK(v.status());
  EXPECT_TRUE(v->problems.empty());
  EXPECT_EQ(v->checkpoints, 2u);
}

// A bare installation: the controls of roles it does not run do not apply, those it
// cannot observe are left to a person, and the page escapes what it shows.
TEST(SelfAssessment, JudgesWhatItSeesAndEscapesThePage) {
  TempDir dir;
  ServeConfig config;
  config.home = dir.path() / "home";
  SelfAssessment a = AssessControls(config, 1796000000, vault::VaultContext{});
  auto state = [&](const std::string& id) {
    for (const ControlFinding& f : a.controls)
      if (f.id == id) return std::string(ControlStateName(f.state));
    return std::string("missing");
  };
  EXPECT_EQ(state("mutual-tls"), "not-applicable");
  EXPECT_EQ(state("syslog"), "fails") << "no SOC configured";
  EXPECT_EQ(state("integrity"), "fails") << "no baseline";
  EXPECT_EQ(state("release"), "warning");
  EXPECT_EQ(state("backup-drills"), "manual") << "no vault in the home";
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
