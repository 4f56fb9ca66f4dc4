// The exchange operators' changes through the console (server/console_exchange_ops.hpp),
// through ConsoleApi::Handle with signed-in sessions, on a host that is the management
// host (a real ManagementStore with a valid, published registry) and exchange center
// "center-a" (a real CenterStore): an operator suspends an agency in the draft, changes its
// addresses, sees the draft's changes and publishes (the publication carries both); an
// admin suspends an agency at the center and resumes it. Clerks and auditors are refused
// (403), bad input is 400 naming the field, a host without the role answers 409 saying
// where the change is made, and every change and refusal is in the audit log as
// console:<name>, under the command line's action names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "audit_records.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "console_session.hpp"
#include "crypto/signature.hpp"
#include "crypto/x509.hpp"
#include "exchange/center_store.hpp"
#include "exchange/registry.hpp"
#include "exchange/registry_store.hpp"
#include "guard/audit_log.hpp"
#include "server/console_api.hpp"
#include "server/console_exchange.hpp"
#include "server/console_exchange_ops.hpp"
#include "server/exchange_roles.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kPassword[] = "correct horse battery 馬";
constexpr char kA[] = "A15060000H";  // 臺南市政府
constexpr char kB[] = "376570000A";  // 臺南市政府教育局

class ConsoleExchangeOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(MakeDirs(home(), 0700));
    auto ca_key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
    ASSERT_OK(ca_key);
    crypto::CertificateRequest ca_req;
    ca_req.common_name = "Tessera Test GCA";
    ca_req.ca = true;
    auto ca = crypto::IssueCertificate(ca_req, *ca_key, nullptr, *ca_key);
    ASSERT_OK(ca);
    auto issue = [&](const std::string& name, const std::string& ip) -> std::string {
      auto key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
      EXPECT_OK(key);
      crypto::CertificateRequest req;
      req.common_name = name;
      req.ip_addresses = {ip};
      auto cert = crypto::IssueCertificate(req, *key, &*ca, *ca_key);
      EXPECT_OK(cert);
      return cert->Pem();
    };
    auto store = exchange::ManagementStore::Init(management_dir(), "tainan-test");
    ASSERT_OK(store);
    exchange::Registry reg;
    ASSERT_OK(store->LoadDraft().status());
    reg = *store->LoadDraft();
    reg.trust_anchors = {ca->Pem()};
    reg.centers.push_back(
        {"center-a", "https://127.0.0.1:7443", {"127.0.0.1"}, {issue("center-a", "127.0.0.1")}});
    auto agency = [&](const std::string& code, const std::string& name, const std::string& ip) {
      exchange::Agency a;
      a.code = code;
      a.name = name;
      a.home_center = "center-a";
      a.certificates = {issue(code, ip)};
      a.addresses = {ip};
      reg.agencies.push_back(a);
    };
    agency(kA, "臺南市政府", "127.0.0.11");
    agency(kB, "臺南市政府教育局", "127.0.0.12");
    ASSERT_OK(exchange::Validate(reg));
    ASSERT_OK(store->SaveDraft(reg));
    ASSERT_OK(store->Publish(0, NowUnixSeconds()).status());

    SignInPolicy policy;
    policy.scrypt_log2_n = 10;
    auto accounts = AccountStore::Open(home(), policy);
    ASSERT_OK(accounts);
    accounts_ = std::move(*accounts);
    struct Who {
      const char* name;
      Role role;
      const char* agency;
    };
    for (const Who& w : {Who{"wang", Role::kClerk, kA}, Who{"li", Role::kAuditor, ""},
                         Who{"op", Role::kOperator, ""}, Who{"boss", Role::kAdmin, ""}}) {
      Account a;
      a.name = w.name;
      a.display_name = std::string(w.name) + " 先生";
      a.role = w.role;
      a.agency = w.agency;
      ASSERT_OK(accounts_->Add(a, kPassword));
    }
    // This host: the management host and center-a, no gateway.
    ExchangeSettings s;
    s.center_id = "center-a";
    auto exchange = std::make_shared<ExchangeApi>(home(), s);
    exchange->set_operations(std::make_shared<ExchangeOpsApi>(home(), "center-a", true));
    ConsoleApiOptions options;
    options.exchange = exchange;
    api_ = std::make_unique<ConsoleApi>(home(), *accounts_, options);
    // Another host: agency A's gateway only.
    ExchangeSettings g;
    g.agency = kA;
    ConsoleApiOptions gateway;
    gateway.exchange = std::make_shared<ExchangeApi>(home(), g);
    gateway_api_ = std::make_unique<ConsoleApi>(home(), *accounts_, gateway);
  }

  fs::path home() const { return dir_.path() / "host"; }
  fs::path management_dir() const { return ExchangeDir(home()) / "management"; }

  ApiResponse Call(ConsoleApi& api, const std::string& method, const std::string& target,
                   const std::string& body, const SignedIn& s) {
    ApiRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.cookie = s.cookie;
    r.csrf = s.csrf;
    r.client_address = "10.0.0.1";
    r.now = NowUnixSeconds();
    return api.Handle(r);
  }
  SignedIn SignIn(const std::string& name) {
    ApiResponse r = Call(*api_, "POST", "/api/v1/session",
                         json{{"name", name}, {"password", kPassword}}.dump(), SignedIn{});
    EXPECT_EQ(r.status, 200) << r.body;
    return SessionOf(r);
  }
  ApiResponse Do(const SignedIn& s, const std::string& method, const std::string& target,
                 const json& body = nullptr) {
    return Call(*api_, method, target, body.is_null() ? "" : body.dump(), s);
  }

  exchange::Registry Draft() {
    auto store = exchange::ManagementStore::Open(management_dir());
    EXPECT_OK(store);
    auto r = store->LoadDraft();
    EXPECT_OK(r);
    return r.ok() ? *r : exchange::Registry{};
  }
  exchange::Registry Published() {
    auto store = exchange::ManagementStore::Open(management_dir());
    EXPECT_OK(store);
    auto wire = store->Current();
    EXPECT_OK(wire);
    auto r = exchange::VerifySignedRegistry(*wire, *store->PublicKey());
    EXPECT_OK(r);
    return r.ok() ? *r : exchange::Registry{};
  }
  static const exchange::Agency* Find(const exchange::Registry& r, const std::string& code) {
    for (const auto& a : r.agencies)
      if (a.code == code) return &a;
    return nullptr;
  }
  // The audit records with `action`, oldest first.
  std::vector<guard::AuditRecord> Audited(const std::string& action) {
    std::vector<guard::AuditRecord> out;
    for (const auto& r : ReadAuditLog(home()))
      if (r.action == action) out.push_back(r);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<AccountStore> accounts_;
  std::unique_ptr<ConsoleApi> api_, gateway_api_;
};

TEST_F(ConsoleExchangeOpsTest, SessionNamesTheRoles) {
  SignedIn op = SignIn("op");
  ApiResponse r = Do(op, "GET", "/api/v1/session");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["exchange_roles"], json::array({"center", "management"}));
  // Not a gateway: the gateway's calls answer 503.
  r = Do(op, "GET", "/api/v1/exchange/agencies");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_THAT(r.body, HasSubstr("not an agency gateway"));
}

TEST_F(ConsoleExchangeOpsTest, SuspendChangeAddressesAndPublish) {
  SignedIn op = SignIn("op");
  ApiResponse r = Do(op, "GET", "/api/v1/exchange/registry/draft");
  ASSERT_EQ(r.status, 200) << r.body;
  json d = json::parse(r.body);
  EXPECT_EQ(d["published_serial"], 1);
  EXPECT_EQ(d["changes"].size(), 0u);
  EXPECT_EQ(d["agencies"].size(), 2u);

  r = Do(op, "POST", std::string("/api/v1/exchange/registry/agencies/") + kB + "/suspension",
         {{"reason", "security-incident"}, {"note", "疑似遭入侵，暫停交換"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const exchange::Registry draft = Draft();
  const exchange::Agency* b = Find(draft, kB);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->suspension.has_value());
  EXPECT_EQ(b->suspension->reason, "security-incident");
  EXPECT_EQ(b->suspension->note, "疑似遭入侵，暫停交換");
  EXPECT_EQ(b->suspension->by, "console:op");
  // Twice: 409, nothing changed.
  r = Do(op, "POST", std::string("/api/v1/exchange/registry/agencies/") + kB + "/suspension",
         {{"reason", "other"}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Find(Draft(), kB)->suspension->reason, "security-incident");

  r = Do(op, "PUT", std::string("/api/v1/exchange/registry/agencies/") + kB + "/addresses",
         {{"addresses", {"127.0.0.12", " 192.0.2.8 "}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Find(Draft(), kB)->addresses, (std::vector<std::string>{"127.0.0.12", "192.0.2.8"}));

  r = Do(op, "GET", "/api/v1/exchange/registry/draft");
  ASSERT_EQ(r.status, 200) << r.body;
  d = json::parse(r.body);
  ASSERT_EQ(d["changes"].size(), 1u) << r.body;
  EXPECT_EQ(d["changes"][0]["agency"], kB);
  EXPECT_EQ(d["changes"][0]["fields"], json::array({"addresses", "suspension"}));
  EXPECT_EQ(d["publishable"], true);
  // Not yet in effect.
  EXPECT_FALSE(Find(Published(), kB)->suspension.has_value());

  r = Do(op, "POST", "/api/v1/exchange/registry/publications", json::object());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body)["serial"], 2);
  const exchange::Registry pub = Published();
  EXPECT_EQ(pub.serial, 2u);
  ASSERT_TRUE(Find(pub, kB)->suspension.has_value());
  EXPECT_EQ(Find(pub, kB)->addresses, (std::vector<std::string>{"127.0.0.12", "192.0.2.8"}));
  r = Do(op, "GET", "/api/v1/exchange/registry/draft");
  EXPECT_EQ(json::parse(r.body)["changes"].size(), 0u) << r.body;

  // Resumed (a note is required, as for the command line).
  r = Do(op, "DELETE", std::string("/api/v1/exchange/registry/agencies/") + kB + "/suspension",
         json::object());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("note"));
  r = Do(op, "DELETE", std::string("/api/v1/exchange/registry/agencies/") + kB + "/suspension",
         {{"note", "已完成資安檢查"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(Find(Draft(), kB)->suspension.has_value());

  // Recorded under the command line's names, as console:op.
  auto s = Audited("exchange.registry.suspend");
  ASSERT_GE(s.size(), 1u);
  EXPECT_EQ(s[0].actor, "console:op");
  EXPECT_EQ(s[0].target, kB);
  EXPECT_THAT(s[0].outcome, HasSubstr("security-incident"));
  auto c = Audited("exchange.registry.agency-change");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_THAT(c[0].outcome, HasSubstr("192.0.2.8"));
  auto p = Audited("exchange.registry.publish");
  ASSERT_EQ(p.size(), 2u);  // before and after
  EXPECT_EQ(p[1].target, "serial 2");
  EXPECT_EQ(Audited("exchange.registry.resume").size(), 2u);  // the refusal and the resume
}

TEST_F(ConsoleExchangeOpsTest, BadInputIs400AndChangesNothing) {
  SignedIn op = SignIn("op");
  const std::string base = std::string("/api/v1/exchange/registry/agencies/") + kA;
  ApiResponse r = Do(op, "PUT", base + "/addresses", {{"addresses", {"300.1.2.3"}}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["field"], "addresses");
  EXPECT_THAT(r.body, HasSubstr("300.1.2.3"));
  // A range needs the grant, as on the command line.
  r = Do(op, "PUT", base + "/addresses", {{"addresses", {"10.1.0.0/16"}}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("range"));
  r = Do(op, "PUT", base + "/addresses", {{"addresses", "127.0.0.11"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Find(Draft(), kA)->addresses, (std::vector<std::string>{"127.0.0.11"}));

  r = Do(op, "POST", base + "/suspension", {{"reason", "不喜歡"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["field"], "reason");
  r = Do(op, "POST", base + "/suspension", json::object());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_FALSE(Find(Draft(), kA)->suspension.has_value());
  r = Do(op, "POST", "/api/v1/exchange/registry/agencies/X9999/suspension", {{"reason", "other"}});
  EXPECT_EQ(r.status, 404) << r.body;
  r = Do(op, "POST", "/api/v1/exchange/center/suspensions/" + std::string(kA),
         {{"reason", "nonsense"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Audited("exchange.registry.agency-change").size(), 3u);  // three refusals
  for (const auto& rec : Audited("exchange.registry.agency-change"))
    EXPECT_THAT(rec.outcome, HasSubstr("refused"));
}

TEST_F(ConsoleExchangeOpsTest, ClerksAndAuditorsAreRefused) {
  for (const char* name : {"wang", "li"}) {
    SignedIn s = SignIn(name);
    ApiResponse r =
        Do(s, "POST", std::string("/api/v1/exchange/registry/agencies/") + kB + "/suspension",
           {{"reason", "other"}});
    EXPECT_EQ(r.status, 403) << r.body;
    r = Do(s, "POST", "/api/v1/exchange/registry/publications", json::object());
    EXPECT_EQ(r.status, 403) << r.body;
    r = Do(s, "POST", std::string("/api/v1/exchange/center/suspensions/") + kB,
           {{"reason", "other"}});
    EXPECT_EQ(r.status, 403) << r.body;
    r = Do(s, "GET", "/api/v1/exchange/registry/draft");
    EXPECT_EQ(r.status, 403) << r.body;
  }
  EXPECT_FALSE(Find(Draft(), kB)->suspension.has_value());
  EXPECT_EQ(Published().serial, 1u);
  auto store = exchange::CenterStore::Open(ExchangeDir(home()) / "center");
  ASSERT_OK(store);
  auto held = (*store)->LocalSuspensions();
  ASSERT_OK(held);
  EXPECT_TRUE(held->empty());
  auto denied = Audited("exchange.registry.suspend");
  ASSERT_EQ(denied.size(), 2u);
  EXPECT_EQ(denied[0].actor, "console:wang");
  EXPECT_THAT(denied[0].outcome, HasSubstr("denied"));
  EXPECT_EQ(Audited("exchange.suspend").size(), 2u);
}

TEST_F(ConsoleExchangeOpsTest, CenterSuspendsAndResumes) {
  SignedIn boss = SignIn("boss");
  const std::string path = std::string("/api/v1/exchange/center/suspensions/") + kA;
  ApiResponse r = Do(boss, "POST", path, {{"reason", "security-incident"}, {"note", "勒索軟體"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto store = exchange::CenterStore::Open(ExchangeDir(home()) / "center");
  ASSERT_OK(store);
  auto held = (*store)->LocalSuspension(kA);
  ASSERT_OK(held);
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->reason, "security-incident");
  EXPECT_EQ((*held)->by, "console:boss");

  r = Do(boss, "GET", "/api/v1/exchange/center/suspensions");
  ASSERT_EQ(r.status, 200) << r.body;
  json list = json::parse(r.body)["suspensions"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["agency"], kA);
  EXPECT_EQ(list[0]["note"], "勒索軟體");

  r = Do(boss, "POST", path, {{"reason", "other"}});
  EXPECT_EQ(r.status, 409) << r.body;
  r = Do(boss, "DELETE", path, {{"note", "已復原"}});
  ASSERT_EQ(r.status, 200) << r.body;
  held = (*store)->LocalSuspension(kA);
  ASSERT_OK(held);
  EXPECT_FALSE(held->has_value());
  r = Do(boss, "DELETE", path, {{"note", "再一次"}});
  EXPECT_EQ(r.status, 409) << r.body;

  auto s = Audited("exchange.suspend");
  ASSERT_EQ(s.size(), 2u);  // the suspension and the refused second one
  EXPECT_EQ(s[0].actor, "console:boss");
  EXPECT_EQ(s[0].target, kA);
  auto resumed = Audited("exchange.resume");
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[0].outcome, "已復原");
}

TEST_F(ConsoleExchangeOpsTest, WrongHostIs409SayingWhere) {
  SignedIn op = SignIn("op");
  ApiResponse r = Call(*gateway_api_, "GET", "/api/v1/session", "", op);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["exchange_roles"], json::array({"gateway"}));
  r = Call(*gateway_api_, "POST",
           std::string("/api/v1/exchange/registry/agencies/") + kB + "/suspension",
           json{{"reason", "other"}}.dump(), op);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("management host"));
  r = Call(*gateway_api_, "POST", "/api/v1/exchange/registry/publications", "{}", op);
  EXPECT_EQ(r.status, 409) << r.body;
  r = Call(*gateway_api_, "DELETE", std::string("/api/v1/exchange/center/suspensions/") + kB,
           json{{"note", "x"}}.dump(), op);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("not an exchange center"));
  EXPECT_FALSE(Find(Draft(), kB)->suspension.has_value());
  auto refused = Audited("exchange.registry.suspend");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0].outcome, HasSubstr("refused"));
}

}  // namespace
}  // namespace tessera::server
